package buffer

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// entry appends one canonical entry [EventTime, {kv...}] to dst.
func entry(dst []byte, t time.Time, kv ...any) []byte {
	dst = append(dst, 0x92, 0xd7, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(t.Unix()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(t.Nanosecond()))
	dst = msgp.AppendMapHeader(dst, uint32(len(kv)/2))
	for i := 0; i < len(kv); i += 2 {
		dst = msgp.AppendString(dst, kv[i].(string))
		dst, _ = msgp.AppendIntf(dst, kv[i+1])
	}
	return dst
}

// entries returns n entries at t with a "msg" of size bytes.
func entries(n int, t time.Time, size int) []byte {
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = 'a' + byte(i%26)
	}
	var b []byte
	for range n {
		b = entry(b, t, "msg", string(msg))
	}
	return b
}

type frame struct {
	tag     string
	entries []byte
}

// flushed is a copy of a chunk seen by a Flusher.
type flushed struct {
	Chunk
	frames []frame
	at     time.Time
}

// recorder is a Flusher that records chunks; fail decides each call's error.
type recorder struct {
	mu     sync.Mutex
	chunks []flushed
	calls  []time.Time
	fail   func(call int, c *Chunk) error
	gate   chan struct{} // when set, Flush waits for it
}

func (r *recorder) Flush(ctx context.Context, c *Chunk) error {
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	r.calls = append(r.calls, time.Now())
	n := len(r.calls)
	r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(n, c); err != nil {
			return err
		}
	}
	rd, err := c.Open()
	if err != nil {
		return err
	}
	defer rd.Close()
	f := flushed{Chunk: *c, at: time.Now()}
	f.st = nil
	for {
		tag, e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		f.frames = append(f.frames, frame{tag, append([]byte(nil), e...)})
	}
	r.mu.Lock()
	r.chunks = append(r.chunks, f)
	r.mu.Unlock()
	return nil
}

func (r *recorder) got() []flushed {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]flushed(nil), r.chunks...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tag != out[j].Tag {
			return out[i].Tag < out[j].Tag
		}
		return out[i].TimeKey.Before(out[j].TimeKey)
	})
	return out
}

func (r *recorder) records() int {
	n := 0
	for _, c := range r.got() {
		n += c.Records
	}
	return n
}

// harness runs a buffer.
type harness struct {
	t      *testing.T
	b      *Buffer
	out    *recorder
	cancel context.CancelFunc
	done   chan error
}

func testConfig(t *testing.T, typ string) Config {
	c := DefaultConfig(typ)
	if typ == "file" {
		c.Path = filepath.Join(t.TempDir(), "buf")
	}
	return c
}

func logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// open creates and opens a buffer without running it.
func open(t *testing.T, cfg Config, out Flusher, opts Options) (*Buffer, Recovery) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = logger(t)
	}
	b, err := New(cfg, out, opts)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := b.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return b, rec
}

// start opens and runs a buffer; stop ends it.
func start(t *testing.T, cfg Config, opts Options) *harness {
	t.Helper()
	out := &recorder{}
	b, _ := open(t, cfg, out, opts)
	return runBuf(t, b, out)
}

func runBuf(t *testing.T, b *Buffer, out *recorder) *harness {
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, b: b, out: out, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- b.Run(ctx) }()
	return h
}

func (h *harness) stop() {
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Error(err)
	}
	if err := h.b.Close(); err != nil {
		h.t.Error(err)
	}
}

func (h *harness) append(tag string, e []byte) {
	h.t.Helper()
	if err := h.b.Append(context.Background(), tag, e); err != nil {
		h.t.Fatal(err)
	}
}

// chunkFiles lists the files in dir matching pattern.
func chunkFiles(t *testing.T, dir, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func (r *recorder) callTimes() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.calls...)
}
