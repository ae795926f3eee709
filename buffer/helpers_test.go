package buffer

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(lockHelperEnv); dir != "" {
		os.Exit(holdLock(dir)) // the child process of TestOpenLockedByOtherProcess
	}
	goleak.VerifyTestMain(m)
}

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

// crash releases b's directory lock as the kernel does for a killed
// process, and leaves everything else as it is (files open, not synced):
// a second Buffer on the same path then plays the restarted process.
func crash(b *Buffer) {
	b.mu.Lock()
	l := b.lock
	b.lock = nil
	b.mu.Unlock()
	if l != nil {
		l.Close()
	}
}

// mountTmpfs mounts a tmpfs on a new directory (unmounted at cleanup) and
// returns it; it skips the test when mounting is not possible.
func mountTmpfs(t *testing.T, flags uintptr, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, opts); err != nil {
		t.Skipf("cannot mount a tmpfs on %s (the test needs root or CAP_SYS_ADMIN): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// logSink is a slog.Handler that keeps the records it is given and passes
// them on to the test's log.
type logSink struct {
	mu   sync.Mutex
	recs []slog.Record
	next slog.Handler
}

func newLogSink(t *testing.T) (*logSink, *slog.Logger) {
	l := &logSink{next: logger(t).Handler()}
	return l, slog.New(l)
}

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSink) WithAttrs([]slog.Attr) slog.Handler       { return l } // the buffer adds none
func (l *logSink) WithGroup(string) slog.Handler            { return l }

func (l *logSink) Handle(ctx context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return l.next.Handle(ctx, r)
}

// find returns the attributes of each record whose message starts with
// prefix, as strings.
func (l *logSink) find(prefix string) []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]string
	for _, r := range l.recs {
		if !strings.HasPrefix(r.Message, prefix) {
			continue
		}
		m := map[string]string{}
		r.Attrs(func(a slog.Attr) bool {
			m[a.Key] = a.Value.String()
			return true
		})
		out = append(out, m)
	}
	return out
}

// readChunkFile decodes a chunk file whole: its header and frames.
func readChunkFile(t *testing.T, path string) (*Chunk, []frame) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	c, _, err := decodeHeader(r)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	src := &fileSource{f: f, r: r}
	var frames []frame
	for {
		body, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		fi, err := parseBody(body)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		c.Records += fi.records
		frames = append(frames, frame{string(fi.tag), append([]byte(nil), fi.entries...)})
	}
	return c, frames
}
