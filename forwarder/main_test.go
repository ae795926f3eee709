package forwarder

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/forwarder/codec"
	"github.com/barge-dev/barge/forwarder/internal/logtest"
	"github.com/tinylib/msgp/msgp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memSink records what it is given. block, when set, makes Append wait for
// a value (nil or an error) before returning.
type memSink struct {
	mu      sync.Mutex
	tags    []string
	entries [][]byte
	fail    error
	block   chan error
	entered chan struct{} // receives once per Append call, if set
	appends chan struct{} // receives once per successful Append
}

func newSink() *memSink { return &memSink{appends: make(chan struct{}, 1000)} }

func (s *memSink) Append(ctx context.Context, tag string, entries []byte) error {
	if s.entered != nil {
		select {
		case s.entered <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.block != nil {
		select {
		case err := <-s.block:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	if err := s.fail; err != nil {
		s.mu.Unlock()
		return err
	}
	s.tags = append(s.tags, tag)
	s.entries = append(s.entries, bytes.Clone(entries))
	s.mu.Unlock()
	select {
	case s.appends <- struct{}{}:
	case <-ctx.Done(): // no test waits for more than 1000 appends
	}
	return nil
}

// within receives from c; a test fails, never hangs, when the server does
// not do what it waits for.
func within[T any](t *testing.T, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for the server")
	}
	panic("not reached")
}

// give sends v on c, failing the test when nothing takes it.
func give[T any](t *testing.T, c chan<- T, v T) {
	t.Helper()
	select {
	case c <- v:
	case <-time.After(10 * time.Second):
		t.Fatal("timed out: nothing took the value")
	}
}

// wait waits for n successful appends.
func (s *memSink) wait(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for range n {
		select {
		case <-s.appends:
		case <-timeout:
			t.Fatalf("timed out waiting for %d appends", n)
		}
	}
}

// records returns every appended entry as tag and decoded record.
func (s *memSink) records(t *testing.T) []rec {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []rec
	for i, b := range s.entries {
		for len(b) > 0 {
			e, rest, err := event.Next(b)
			if err != nil {
				t.Fatalf("sink got a non-canonical stream: %v", err)
			}
			m, _, err := msgp.ReadMapStrIntfBytes(e.Record, nil)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, rec{s.tags[i], e.Sec, e.Nsec, m})
			b = rest
		}
	}
	return out
}

type rec struct {
	tag       string
	sec, nsec int64
	r         map[string]any
}

// logBuf is where a test's logger writes.
type logBuf = logtest.Buffer

func testConfig() Config {
	c := DefaultConfig()
	c.Bind = "127.0.0.1"
	c.Port = 0
	return c
}

// start runs a server until the test ends.
func start(t *testing.T, cfg Config, sink Sink) (*Server, string, *logBuf) {
	t.Helper()
	return startWith(t, cfg, sink, nil)
}

// startWith is start with edit applied to the server before it runs.
func startWith(t *testing.T, cfg Config, sink Sink, edit func(*Server)) (*Server, string, *logBuf) {
	t.Helper()
	lb := &logBuf{}
	s, err := NewServer(cfg, sink, Options{Logger: slog.New(slog.NewTextHandler(lb, nil)), Hostname: "testhost"})
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(s)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, s.Addr().String(), lb
}

// testClient is a raw forward-protocol client.
type testClient struct {
	t  *testing.T
	nc net.Conn
	fr *codec.FrameReader
}

func dial(t *testing.T, addr string) *testClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return wrap(t, nc)
}

func wrap(t *testing.T, nc net.Conn) *testClient {
	return &testClient{t: t, nc: nc, fr: codec.NewFrameReader(nc, 1<<20)}
}

func (c *testClient) send(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// read reads one msgpack object from the server within d.
func (c *testClient) read(d time.Duration) ([]byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(d))
	return c.fr.Next()
}

// ack reads an ack and returns the raw chunk value.
func (c *testClient) ack() []byte {
	c.t.Helper()
	b, err := c.read(10 * time.Second)
	if err != nil {
		c.t.Fatalf("reading ack: %v", err)
	}
	if !bytes.HasPrefix(b, []byte{0x81, 0xa3, 'a', 'c', 'k'}) {
		c.t.Fatalf("not an ack: %x", b)
	}
	return b[5:]
}

// closed asserts the server closes the connection.
func (c *testClient) closed() {
	c.t.Helper()
	for {
		_, err := c.read(10 * time.Second)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatal("server did not close the connection")
		}
		return
	}
}

// eventually waits for cond, yielding the processor between checks. It is
// for a state change that follows what the test can observe by a few
// instructions, not for timing.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		runtime.Gosched()
	}
}

// Builders of forward-protocol messages.

func record(kv ...string) []byte {
	b := msgp.AppendMapHeader(nil, uint32(len(kv)/2))
	for _, s := range kv {
		b = msgp.AppendString(b, s)
	}
	return b
}

func entry(sec uint64, kv ...string) []byte {
	return event.AppendEntry(nil, msgp.AppendUint64(nil, sec), record(kv...))
}

func chunkOpt(chunk []byte, extra ...string) []byte {
	n := uint32(len(extra) / 2)
	if chunk != nil {
		n++
	}
	b := msgp.AppendMapHeader(nil, n)
	if chunk != nil {
		b = append(msgp.AppendString(b, "chunk"), chunk...)
	}
	for i := 0; i < len(extra); i += 2 {
		b = msgp.AppendString(msgp.AppendString(b, extra[i]), extra[i+1])
	}
	return b
}

func packed(tag string, payload []byte, bin bool, opt []byte) []byte {
	b := msgp.AppendArrayHeader(nil, 3)
	b = msgp.AppendString(b, tag)
	if bin {
		b = msgp.AppendBytes(b, payload)
	} else {
		b = msgp.AppendStringFromBytes(b, payload)
	}
	return append(b, opt...)
}

func message(tag string, sec uint64, rec, opt []byte) []byte {
	b := msgp.AppendArrayHeader(nil, 4)
	b = msgp.AppendString(b, tag)
	b = msgp.AppendUint64(b, sec)
	b = append(b, rec...)
	return append(b, opt...)
}
