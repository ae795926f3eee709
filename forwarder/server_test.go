package forwarder

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

func TestCloseWithoutRun(t *testing.T) {
	s, err := NewServer(testConfig(), newSink(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close = %v", err)
	}

	s, _ = NewServer(testConfig(), newSink(), Options{})
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRunTwice(t *testing.T) {
	s, err := NewServer(testConfig(), newSink(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	results := make(chan error, 2)
	for range 2 {
		go func() { results <- s.Run(ctx) }()
	}
	if err := <-results; !errors.Is(err, ErrRunning) {
		t.Fatalf("one Run = %v, want ErrRunning", err)
	}
	cancel()
	if err := <-results; err != nil {
		t.Fatalf("other Run = %v", err)
	}
}

func TestCloseStopsRun(t *testing.T) {
	sink := newSink()
	sink.block = make(chan error)
	sink.entered = make(chan struct{}, 1)
	s, err := NewServer(testConfig(), sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }() // Run listens itself
	eventually(t, func() bool { return s.Addr() != nil })
	c := dial(t, s.Addr().String())
	c.send(message("t", 1, record("a", "b"), chunkOpt(msgp.AppendString(nil, "x"))))
	within(t, sink.entered)
	s.Close() // cancels the blocked Append
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.closed()
}

// TestGracefulStop shows that stopping Run lets a connection finish the
// message it is reading: append and ack.
func TestGracefulStop(t *testing.T) {
	sink := newSink()
	sink.block = make(chan error)
	sink.entered = make(chan struct{}, 10)
	s, err := NewServer(testConfig(), sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer s.Close()
	c := dial(t, s.Addr().String())
	msg1 := message("t", 1, record("a", "b"), chunkOpt(msgp.AppendString(nil, "1")))
	msg2 := message("t", 2, record("a", "b"), chunkOpt(msgp.AppendString(nil, "2")))
	c.send(append(bytes.Clone(msg1), msg2[:5]...)) // one message and a half
	within(t, sink.entered)
	cancel() // stop while the server holds half of msg2
	give(t, sink.block, nil)
	c.ack()
	c.send(msg2[5:])
	within(t, sink.entered)
	give(t, sink.block, nil)
	if got := c.ack(); !bytes.Equal(got, msgp.AppendString(nil, "2")) {
		t.Fatalf("ack %q", got)
	}
	c.closed()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(sink.records(t)); n != 2 {
		t.Fatalf("%d records", n)
	}
}

func TestModes(t *testing.T) {
	sink := newSink()
	cfg := testConfig()
	cfg.AddTagPrefix = "in"
	s, addr, _ := start(t, cfg, sink)
	e1 := entry(1700000000, "a", "1")
	e2 := event.AppendEntry(nil, event.AppendEventTime(nil, 1700000001, 999999999), record("b", "2"))
	// v1.5: [[EventTime, metadata], record]
	v15 := msgp.AppendArrayHeader(nil, 2)
	v15 = msgp.AppendArrayHeader(v15, 2)
	v15 = event.AppendEventTime(v15, 1700000002, 7)
	v15 = append(v15, record("trace_id", "x")...)
	v15 = append(v15, record("c", "3")...)
	stream := append(append(bytes.Clone(e1), e2...), v15...)

	var multi bytes.Buffer
	for _, part := range [][]byte{e1, e2, v15} {
		w := gzip.NewWriter(&multi)
		w.Write(part)
		w.Close()
	}
	var single bytes.Buffer
	w := gzip.NewWriter(&single)
	w.Write(stream)
	w.Close()

	cases := []struct {
		name string
		msg  func(chunk []byte) []byte
	}{
		{"packed str", func(ch []byte) []byte { return packed("app", stream, false, chunkOpt(ch, "size", "3")) }},
		{"packed bin", func(ch []byte) []byte { return packed("app", stream, true, chunkOpt(ch)) }},
		{"compressed", func(ch []byte) []byte { return packed("app", single.Bytes(), true, chunkOpt(ch, "compressed", "gzip")) }},
		{"compressed multi-member", func(ch []byte) []byte {
			return packed("app", multi.Bytes(), true, chunkOpt(ch, "compressed", "gzip", "unknown", "ignored"))
		}},
		{"forward", func(ch []byte) []byte {
			b := msgp.AppendArrayHeader(nil, 3)
			b = msgp.AppendString(b, "app")
			b = msgp.AppendArrayHeader(b, 3)
			b = append(append(append(b, e1...), e2...), v15...)
			return append(b, chunkOpt(ch)...)
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			for _, ch := range [][]byte{
				msgp.AppendString(nil, "Y2h1bmsK\n"), // trailing newline, echoed as sent
				msgp.AppendBytes(nil, []byte("bin-chunk")),
			} {
				c.send(tc.msg(ch))
				if got := c.ack(); !bytes.Equal(got, ch) {
					t.Fatalf("ack %x, want %x", got, ch)
				}
			}
			sink.wait(t, 2)
			recs := sink.records(t)[i*6:]
			if len(recs) != 6 {
				t.Fatalf("%d records", len(recs))
			}
			want := []rec{{"in.app", 1700000000, 0, nil}, {"in.app", 1700000001, 999999999, nil}, {"in.app", 1700000002, 7, nil}}
			for j, r := range recs {
				w := want[j%3]
				if r.tag != w.tag || r.sec != w.sec || r.nsec != w.nsec {
					t.Errorf("record %d: %+v, want %+v", j, r, w)
				}
			}
			if v := recs[2].r["c"]; v != "3" {
				t.Errorf("v1.5 record %v", recs[2].r)
			}
		})
	}
	if st := s.Stats(); st.Acks != 10 || st.Records != 30 {
		t.Errorf("stats %+v", st)
	}
}

func TestSourceKeys(t *testing.T) {
	sink := newSink()
	cfg := testConfig()
	cfg.SourceAddressKey = "src"
	cfg.SourceHostnameKey = "host"
	_, addr, _ := start(t, cfg, sink)
	c := dial(t, addr)
	c.send(packed("t", append(entry(1, "a", "1", "src", "spoofed"), entry(2, "b", "2")...), true, chunkOpt(msgp.AppendString(nil, "k"))))
	c.ack()
	recs := sink.records(t)
	if len(recs) != 2 || recs[0].r["src"] != "127.0.0.1" || recs[0].r["a"] != "1" || recs[1].r["src"] != "127.0.0.1" ||
		len(recs[0].r) != 3 || recs[1].r["host"] == "" || recs[1].r["host"] == nil {
		t.Fatalf("records %+v", recs)
	}
}

// TestAckAfterAppend shows that the ack waits for Append to return nil.
func TestAckAfterAppend(t *testing.T) {
	sink := newSink()
	sink.block = make(chan error)
	sink.entered = make(chan struct{}, 10)
	_, addr, _ := start(t, testConfig(), sink)
	c := dial(t, addr)
	c.send(message("t", 1, record("a", "b"), chunkOpt(msgp.AppendString(nil, "c1"))))
	within(t, sink.entered)
	if b, err := c.read(100 * time.Millisecond); err == nil {
		t.Fatalf("got %x while Append blocks", b)
	}
	give(t, sink.block, nil)
	if got := c.ack(); !bytes.Equal(got, msgp.AppendString(nil, "c1")) {
		t.Fatalf("ack %q", got)
	}
}

// TestNoAckOnAppendError shows that a failed Append sends no ack and the
// connection keeps serving.
func TestNoAckOnAppendError(t *testing.T) {
	sink := newSink()
	sink.block = make(chan error)
	_, addr, lb := start(t, testConfig(), sink)
	c := dial(t, addr)
	c.send(message("t", 1, record("a", "b"), chunkOpt(msgp.AppendString(nil, "lost"))))
	give(t, sink.block, errors.New("buffer: full"))
	c.send(message("t", 1, record("a", "b"), chunkOpt(msgp.AppendString(nil, "kept"))))
	give(t, sink.block, nil)
	if got := c.ack(); !bytes.Equal(got, msgp.AppendString(nil, "kept")) {
		t.Fatalf("first ack is %q, want kept", got)
	}
	lb.Has(t, "no ack sent", "peer=127.0.0.1", "buffer: full")
}

func TestUDPHeartbeat(t *testing.T) {
	s, addr, _ := start(t, testConfig(), newSink())
	uc, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	uc.Write([]byte{0})
	uc.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 16)
	n, err := uc.Read(b)
	if err != nil || n != 1 || b[0] != 0 {
		t.Fatalf("heartbeat reply %x %v", b[:n], err)
	}
	if s.Stats().Heartbeats != 1 {
		t.Fatal("heartbeat not counted")
	}
}
