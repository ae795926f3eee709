package forward

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
	"go.uber.org/goleak"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/forwarder"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const baseSec = 1795341845

// entries returns n entries {"seq": i, "msg": ...} from seq from, at
// baseSec+i seconds and i nanoseconds (an EventTime), or integer seconds
// when intTime.
func entries(from, n int, intTime bool) []byte {
	var b []byte
	for i := from; i < from+n; i++ {
		rec := msgp.AppendMapHeader(nil, 2)
		rec = msgp.AppendString(rec, "seq")
		rec = msgp.AppendInt(rec, i)
		rec = msgp.AppendString(rec, "msg")
		rec = msgp.AppendString(rec, fmt.Sprintf("hello %d", i))
		t := event.AppendEventTime(nil, int64(baseSec+i), int64(i))
		if intTime {
			t = msgp.AppendInt64(nil, int64(baseSec+i))
		}
		b = event.AppendEntry(b, t, rec)
	}
	return b
}

type frame struct {
	tag     string
	entries []byte
}

// capture hands the chunk the buffer flushes to the test, and holds it
// until the test releases it.
type capture struct {
	got     chan *buffer.Chunk
	release chan struct{}
}

func (c *capture) Flush(ctx context.Context, ch *buffer.Chunk) error {
	select {
	case c.got <- ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-c.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// holdChunk appends frames to a memory buffer and returns the one chunk
// they make, valid until the test ends: the test flushes it with the
// Output under test as often as it likes.
func holdChunk(t *testing.T, fs ...frame) *buffer.Chunk {
	t.Helper()
	cfg := buffer.DefaultConfig("memory")
	cfg.FlushMode = "interval"
	cfg.FlushInterval = time.Hour
	cfg.ChunkLimitSize = 64 << 20
	cp := &capture{got: make(chan *buffer.Chunk, 1), release: make(chan struct{})}
	b, err := buffer.New(cfg, cp, buffer.Options{Name: "forward-test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := b.Open(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	for _, f := range fs {
		if err := b.Append(ctx, f.tag, f.entries); err != nil {
			cancel()
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- b.Drain(ctx) }()
	t.Cleanup(func() {
		close(cp.release)
		if err := <-done; err != nil {
			t.Errorf("drain: %v", err)
		}
		cancel()
		b.Close()
	})
	select {
	case c := <-cp.got:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("the buffer did not flush")
	}
	panic("not reached")
}

// sink is a forwarder.Sink that keeps what it is given.
type sink struct {
	mu      sync.Mutex
	cond    *sync.Cond
	tags    []string
	entries [][]byte
	records int
}

func newSink() *sink {
	s := &sink{}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *sink) Append(_ context.Context, tag string, entries []byte) error {
	n, _, _, err := event.Count(entries)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.tags = append(s.tags, tag)
	s.entries = append(s.entries, bytes.Clone(entries))
	s.records += n
	s.cond.Broadcast()
	s.mu.Unlock()
	return nil
}

// wait waits until the sink holds n records (the server appends before
// acking, but a Flush without acks returns once written).
func (s *sink) wait(t *testing.T, n int) {
	t.Helper()
	timer := time.AfterFunc(10*time.Second, func() {
		s.mu.Lock()
		s.records = -1 << 30 // give up
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.records >= 0 && s.records < n {
		s.cond.Wait()
	}
	if s.records != n {
		t.Fatalf("sink holds %d records, want %d", s.records, n)
	}
}

type rec struct {
	tag       string
	sec, nsec int64
	raw       []byte // the time as stored
	r         map[string]any
}

func (s *sink) all(t *testing.T) []rec {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []rec
	for i, b := range s.entries {
		out = append(out, decodeEntries(t, s.tags[i], b)...)
	}
	return out
}

func decodeEntries(t *testing.T, tag string, b []byte) []rec {
	t.Helper()
	var out []rec
	for len(b) > 0 {
		e, rest, err := event.Next(b)
		if err != nil {
			t.Fatalf("entries: %v", err)
		}
		m, _, err := msgp.ReadMapStrIntfBytes(e.Record, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec{tag, e.Sec, e.Nsec, e.RawTime, m})
		b = rest
	}
	return out
}

// startServer runs a real forward input on 127.0.0.1:0 until the test
// ends and returns it and its port.
func startServer(t *testing.T, edit func(*forwarder.Config), sk forwarder.Sink) (*forwarder.Server, int) {
	t.Helper()
	cfg := forwarder.DefaultConfig()
	cfg.Bind, cfg.Port = "127.0.0.1", 0
	if edit != nil {
		edit(&cfg)
	}
	s, err := forwarder.NewServer(cfg, sk, forwarder.Options{Logger: slog.New(slog.DiscardHandler), Hostname: "receiver"})
	if err != nil {
		t.Fatal(err)
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
		s.Close()
	})
	return s, s.Addr().(*net.TCPAddr).Port
}

// server returns a <server> for 127.0.0.1:port.
func server(port int) ServerConfig {
	s := DefaultServerConfig("127.0.0.1")
	s.Port = port
	return s
}

func newOutput(t *testing.T, mod func(*Config), opts Options) *Output {
	t.Helper()
	cfg := DefaultConfig()
	cfg.SendTimeout = 10 * time.Second
	cfg.AckResponseTimeout = 10 * time.Second
	if mod != nil {
		mod(&cfg)
	}
	o, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// clock is a settable clock for recover_wait.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// rawMsg is a message as a raw receiver decoded it.
type rawMsg struct {
	arrayLen uint32
	tag      string
	binary   bool // entries were a msgpack bin
	payload  []byte
	opts     map[string]any
}

// rawServer is a forward receiver written with tinylib/msgp alone: it
// decodes each message as [tag, bin, options] and answers with reply.
type rawServer struct {
	t       *testing.T
	ln      net.Listener
	msgs    chan rawMsg
	reply   func(i int, m rawMsg) []byte // nil: no answer
	mu      sync.Mutex
	n       int
	conns   []net.Conn
	accepts int
	wg      sync.WaitGroup
}

// ackReply acks every message.
func ackReply(_ int, m rawMsg) []byte {
	id, _ := m.opts["chunk"].(string)
	return msgp.AppendString(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "ack"), id)
}

func startRaw(t *testing.T, reply func(int, rawMsg) []byte) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{t: t, ln: ln, msgs: make(chan rawMsg, 1000), reply: reply}
	s.wg.Go(s.accept)
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *rawServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *rawServer) accept() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, nc)
		s.accepts++
		s.mu.Unlock()
		s.wg.Go(func() { s.serve(nc) })
	}
}

func (s *rawServer) serve(nc net.Conn) {
	defer nc.Close()
	mr := msgp.NewReader(nc)
	for {
		m, err := readRaw(mr)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.t.Logf("raw receiver: %v", err)
			}
			return
		}
		s.mu.Lock()
		i := s.n
		s.n++
		s.mu.Unlock()
		s.msgs <- m
		if s.reply != nil {
			if b := s.reply(i, m); b != nil {
				if _, err := nc.Write(b); err != nil {
					return
				}
			}
		}
	}
}

func readRaw(mr *msgp.Reader) (rawMsg, error) {
	var m rawMsg
	var err error
	if m.arrayLen, err = mr.ReadArrayHeader(); err != nil {
		return m, err
	}
	if m.tag, err = mr.ReadString(); err != nil {
		return m, err
	}
	typ, err := mr.NextType()
	if err != nil {
		return m, err
	}
	m.binary = typ == msgp.BinType
	if m.binary {
		m.payload, err = mr.ReadBytes(nil)
	} else {
		var s string
		s, err = mr.ReadString()
		m.payload = []byte(s)
	}
	if err != nil {
		return m, err
	}
	if m.arrayLen > 2 {
		m.opts = map[string]any{}
		if err = mr.ReadMapStrIntf(m.opts); err != nil {
			return m, err
		}
	}
	return m, nil
}

// next returns the next message the raw receiver decoded.
func (s *rawServer) next(t *testing.T) rawMsg {
	t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
	}
	panic("not reached")
}

// none asserts the raw receiver has no message left.
func (s *rawServer) none(t *testing.T) {
	t.Helper()
	select {
	case m := <-s.msgs:
		t.Fatalf("unexpected message of %v records", m.opts["size"])
	default:
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
