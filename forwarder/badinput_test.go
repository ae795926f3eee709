package forwarder

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// goodClient checks that the server still serves a well-behaved client.
func goodClient(t *testing.T, addr string) {
	t.Helper()
	c := dial(t, addr)
	c.send(message("ok", 1, record("a", "b"), chunkOpt(msgp.AppendString(nil, "ok"))))
	if got := c.ack(); !bytes.Equal(got, msgp.AppendString(nil, "ok")) {
		t.Fatalf("ack %q", got)
	}
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		name  string
		input []byte
		stat  func(Stats) int64
		log   string
	}{
		{"garbage", []byte{0x93, 0xc1, 0xc1, 0xc1}, func(s Stats) int64 { return s.Malformed }, "malformed msgpack"},
		{"not an array", msgp.AppendString(nil, "hello"), func(s Stats) int64 { return s.Malformed }, "bad message"},
		{"wrong shape", msgp.AppendInt(msgp.AppendArrayHeader(msgp.AppendString(msgp.AppendArrayHeader(nil, 2), "t"), 1), 1), func(s Stats) int64 { return s.Malformed }, "bad message"},
		{"record not map", message("t", 1, msgp.AppendInt(nil, 5), msgp.AppendNil(nil)), func(s Stats) int64 { return s.Malformed }, "bad message"},
		{"json", []byte(`["t", 1, {"a": 1}]`), func(s Stats) int64 { return s.Malformed }, "JSON"},
		{"oversize", packed("t", bytes.Repeat(entry(1, "k", "v"), 2000), true, nil), func(s Stats) int64 { return s.Oversize }, "chunk_size_limit"},
		{"declared oversize", append(msgp.AppendString(msgp.AppendArrayHeader(nil, 2), "t"), 0xc6, 0x7f, 0, 0, 0), func(s Stats) int64 { return s.Oversize }, "chunk_size_limit"},
		{"truncated", message("t", 1, record("a", "b"), nil)[:6], func(s Stats) int64 { return s.Malformed }, "mid-message"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.ChunkSizeLimit = 4096
			sink := newSink()
			s, addr, lb := start(t, cfg, sink)
			c := dial(t, addr)
			c.send(tc.input)
			if tc.name == "truncated" {
				c.nc.(*net.TCPConn).CloseWrite()
			}
			c.closed()
			if got := tc.stat(s.Stats()); got != 1 {
				t.Errorf("counter = %d, want 1; stats %+v", got, s.Stats())
			}
			lb.Has(t, tc.log, "peer=127.0.0.1:")
			goodClient(t, addr)
			if n := len(sink.records(t)); n != 1 {
				t.Errorf("%d records appended, want only the good one", n)
			}
		})
	}
}

func TestSkipInvalidEvent(t *testing.T) {
	cfg := testConfig()
	cfg.SkipInvalidEvent = true
	sink := newSink()
	s, addr, _ := start(t, cfg, sink)
	c := dial(t, addr)
	bad := append(msgp.AppendArrayHeader(nil, 2), msgp.AppendString(msgp.AppendString(nil, "when"), "x")...)
	c.send(packed("t", bytes.Join([][]byte{entry(1, "a", "1"), bad, entry(2, "b", "2")}, nil), true, chunkOpt(msgp.AppendString(nil, "c"))))
	c.ack()
	if n := len(sink.records(t)); n != 2 {
		t.Fatalf("%d records", n)
	}
	if st := s.Stats(); st.Invalid != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStalledClient(t *testing.T) {
	cfg := testConfig()
	cfg.ReadTimeout = 200 * time.Millisecond
	s, addr, lb := start(t, cfg, newSink())
	c := dial(t, addr)
	c.send(message("t", 1, record("a", "b"), nil)[:6]) // and stall
	goodClient(t, addr)
	c.closed()
	if st := s.Stats(); st.Timeouts != 1 {
		t.Fatalf("stats %+v", st)
	}
	lb.Has(t, "stalled", "peer=127.0.0.1:")
}

// TestConnectionFlood fills max_connections with busy connections (in
// Append): new ones are refused, as none is idle.
func TestConnectionFlood(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConnections = 2
	sink := newSink()
	sink.block = make(chan error)
	sink.entered = make(chan struct{}, 2)
	s, addr, lb := start(t, cfg, sink)
	a, b := dial(t, addr), dial(t, addr)
	for _, c := range []*testClient{a, b} { // both admitted, busy appending
		c.send(message("t", 1, record("a", "b"), chunkOpt(msgp.AppendString(nil, "x"))))
		within(t, sink.entered)
	}
	for range 5 {
		dial(t, addr).closed()
	}
	if st := s.Stats(); st.Refused != 5 || st.Evicted != 0 {
		t.Fatalf("stats %+v", st)
	}
	lb.Has(t, "max_connections", "peer=127.0.0.1:")
	for range 2 { // either Append may take either value
		give(t, sink.block, nil)
	}
	a.ack()
	b.ack()
	// idle again: a new client is served (at once, or once the server
	// marked them idle, a few instructions after their ack)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := dial(t, addr)
		c.send(message("ok", 1, record("a", "b"), chunkOpt(msgp.AppendString(nil, "ok"))))
		answer := make(chan error, 1)
		go func() { _, err := c.read(10 * time.Second); answer <- err }()
		select {
		case <-sink.entered: // admitted
			give(t, sink.block, nil)
			if err := <-answer; err != nil {
				t.Fatalf("no ack: %v", err)
			}
			return
		case <-answer: // refused
		}
		if time.Now().After(deadline) {
			t.Fatal("server never admitted a new client")
		}
	}
}

func TestWarnLimitAndDenyKeepalive(t *testing.T) {
	cfg := testConfig()
	cfg.ChunkSizeWarnLimit = 100
	cfg.DenyKeepalive = true
	sink := newSink()
	s, addr, lb := start(t, cfg, sink)
	c := dial(t, addr)
	c.send(packed("big", bytes.Repeat(entry(1, "k", "v"), 20), true, chunkOpt(msgp.AppendString(nil, "w"))))
	c.ack()    // accepted despite the warning
	c.closed() // deny_keepalive: one message per connection
	if st := s.Stats(); st.Oversized != 1 || st.Records != 20 {
		t.Fatalf("stats %+v", st)
	}
	lb.Has(t, "chunk_size_warn_limit", "peer=127.0.0.1:", "tag=big")
}
