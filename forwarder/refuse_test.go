package forwarder

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/fluent/fluent-logger-golang/fluent"
	"github.com/tinylib/msgp/msgp"
)

// newLogger returns a fluent-logger-golang client with RequestAck: Post
// returns nil only once the server acked, an error when it closed the
// connection instead.
func newLogger(t *testing.T, addr string) *fluent.Fluent {
	t.Helper()
	host, port := hostPort(t, addr)
	logger, err := fluent.New(fluent.Config{
		FluentHost: host, FluentPort: port, RequestAck: true, MaxRetry: 1,
		Timeout: 10 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logger.Close() })
	return logger
}

// TestTagsRefused sends tags that are too long, not UTF-8 or hold control
// characters with fluent-logger-golang: no append, no ack, the connection
// closed, counted and logged with the tag cut short.
func TestTagsRefused(t *testing.T) {
	cases := []struct {
		name, prefix, tag string
		log               string // part of the log line
	}{
		{"too long", "", strings.Repeat("t", event.MaxTagLen+1), "…(1025 bytes)"},
		{"too long with prefix", strings.Repeat("p", 1000), strings.Repeat("t", 24), "tag refused"},
		{"not UTF-8", "", "app.\xff\xfe", `tag="app.\xff\xfe"`},
		{"newline", "", "app\nforged=1", `tag="app\nforged=1"`},
		{"NUL", "in", "app\x00", `tag="app\x00"`},
		{"DEL", "", "app\x7f", "tag=app\x7f"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.AddTagPrefix = tc.prefix
			sink := newSink()
			s, addr, lb := start(t, cfg, sink)
			logger := newLogger(t, addr)
			if err := logger.Post(tc.tag, map[string]string{"a": "b"}); err == nil {
				t.Fatal("the server acked a refused tag")
			}
			if st := s.Stats(); st.BadTags != 1 || st.Records != 0 || st.Acks != 0 {
				t.Fatalf("stats %+v", st)
			}
			lb.Has(t, "tag refused, connection closed", "peer=127.0.0.1:", tc.log)
			if strings.Contains(lb.String(), strings.Repeat("t", maxLogValue+1)) {
				t.Error("the log repeats the whole tag")
			}
			// the client reconnects and is served
			if err := logger.Post("app.ok", map[string]string{"a": "b"}); err != nil {
				t.Fatal(err)
			}
			if recs := sink.records(t); len(recs) != 1 || !strings.HasSuffix(recs[0].tag, "app.ok") {
				t.Fatalf("records %+v", recs)
			}
		})
	}
}

// TestTagAtLimitAndEmpty keeps accepting a tag of exactly MaxTagLen bytes
// and, as before, an empty tag.
func TestTagAtLimitAndEmpty(t *testing.T) {
	sink := newSink()
	_, addr, _ := start(t, testConfig(), sink)
	c := dial(t, addr)
	for _, tag := range []string{strings.Repeat("t", event.MaxTagLen), "", "日本.ok"} {
		c.send(message(tag, 1, record("a", "b"), chunkOpt(msgp.AppendString(nil, "k"))))
		c.ack()
	}
	if recs := sink.records(t); len(recs) != 3 || recs[1].tag != "" || recs[2].tag != "日本.ok" {
		t.Fatalf("records %+v", recs)
	}
}

// deepMap is a record nested levels deep, as a Go value.
func deepMap(levels int) map[string]any {
	m := map[string]any{}
	for range levels - 1 {
		m = map[string]any{"a": m}
	}
	return m
}

// TestNestingRefused sends records nested 100 and 101 levels deep with
// fluent-logger-golang: the first is acked, the second refused.
func TestNestingRefused(t *testing.T) {
	sink := newSink()
	s, addr, lb := start(t, testConfig(), sink)
	logger := newLogger(t, addr)
	if err := logger.Post("deep", deepMap(event.MaxDepth)); err != nil {
		t.Fatalf("%d levels: %v", event.MaxDepth, err)
	}
	if err := logger.Post("deep", deepMap(event.MaxDepth+1)); err == nil {
		t.Fatalf("%d levels acked", event.MaxDepth+1)
	}
	if st := s.Stats(); st.TooDeep != 1 || st.Records != 1 || st.Acks != 1 {
		t.Fatalf("stats %+v", st)
	}
	lb.Has(t, "record nested too deeply, connection closed", "peer=127.0.0.1:")
	goodClient(t, addr)
}

// TestNestingSkipInvalid drops a too deep record with skip_invalid_event
// and appends the rest of the message.
func TestNestingSkipInvalid(t *testing.T) {
	cfg := testConfig()
	cfg.SkipInvalidEvent = true
	sink := newSink()
	s, addr, lb := start(t, cfg, sink)
	deep := append(bytes.Repeat([]byte{0x81, 0xa1, 'a'}, event.MaxDepth), 0x80) // 101 levels
	stream := bytes.Join([][]byte{entry(1, "a", "1"), event.AppendEntry(nil, msgp.AppendUint64(nil, 2), deep), entry(3, "b", "2")}, nil)
	c := dial(t, addr)
	c.send(packed("t", stream, true, chunkOpt(msgp.AppendString(nil, "c"))))
	c.ack()
	recs := sink.records(t)
	if len(recs) != 2 || recs[0].sec != 1 || recs[1].sec != 3 {
		t.Fatalf("records %+v", recs)
	}
	if st := s.Stats(); st.Invalid != 1 || st.TooDeep != 1 {
		t.Fatalf("stats %+v", st)
	}
	lb.Has(t, "invalid entries skipped", "too_deep=1")
}

// TestVeryDeepRecord refuses a record nested 99,999 levels deep (raw
// socket: no client library builds one).
func TestVeryDeepRecord(t *testing.T) {
	sink := newSink()
	s, addr, _ := start(t, testConfig(), sink)
	deep := append(bytes.Repeat([]byte{0x81, 0xa1, 'a'}, 99998), 0x80)
	c := dial(t, addr)
	c.send(message("t", 1, deep, chunkOpt(msgp.AppendString(nil, "c"))))
	c.closed()
	if st := s.Stats(); st.TooDeep != 1 || st.Records != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestLogsClipClientValues sends long client values (a PING's host and
// user names, a tag, an error text quoting the client): every log line
// stays short and tells the full length.
func TestLogsClipClientValues(t *testing.T) {
	long := strings.Repeat("x", 6000) // a PING holding two stays under 16 KiB
	cfg := testConfig()
	sec := DefaultSecurityConfig()
	sec.SelfHostname, sec.SharedKey = "server.example", "secret"
	cfg.Security = &sec
	_, addr, lb := startWith(t, cfg, newSink(), func(s *Server) { s.pause = func(time.Duration) {} })
	if pong := dial(t, addr).handshake(long, "wrong", long, "pw"); pong.OK {
		t.Fatal("handshake passed")
	}
	c := dial(t, addr)
	c.handshake("h", "secret", "", "")
	c.send(packed("t", []byte("x"), true, chunkOpt(nil, "compressed", long))) // unknown compression, quoted in the error
	c.closed()
	lb.Has(t, "authentication failed", `hostname="xxx`, "…(6000 bytes)")
	lb.Has(t, "bad message", "…(")
	for _, line := range strings.Split(lb.String(), "\n") {
		if len(line) > 4*maxLogValue {
			t.Errorf("log line of %d bytes: %.300s", len(line), line)
		}
	}
}

func TestClip(t *testing.T) {
	if got := clip("short"); got != "short" {
		t.Fatal(got)
	}
	got := clip(strings.Repeat("é", 300)) // 600 bytes, 2 per rune
	if !strings.HasSuffix(got, "…(600 bytes)") || !strings.HasPrefix(got, strings.Repeat("é", 128)) || strings.Contains(got, "\ufffd") {
		t.Fatalf("clip = %q", got)
	}
	if got := clip([]byte(strings.Repeat("a", 1000))); len(got) != maxLogValue+len("…(1000 bytes)") {
		t.Fatalf("clip = %q", got)
	}
}
