package tail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

// recSink records what it is given; fail, when set, decides an error per
// call; block, when set, is waited on (or ctx) before each call returns.
type recSink struct {
	mu      sync.Mutex
	records []map[string]any
	calls   int
	fail    func(call int) error
	block   chan struct{}
	entered chan struct{} // signalled (non-blocking) at each call
}

func (s *recSink) Append(ctx context.Context, tag string, entries []byte) error {
	s.mu.Lock()
	s.calls++
	call, fail, block := s.calls, s.fail, s.block
	s.mu.Unlock()
	if s.entered != nil {
		select {
		case s.entered <- struct{}{}:
		default:
		}
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if fail != nil {
		if err := fail(call); err != nil {
			return err
		}
	}
	recs, err := decodeEntries(entries)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.records = append(s.records, recs...)
	s.mu.Unlock()
	return nil
}

// messages returns the "message" field of every record received.
func (s *recSink) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.records))
	for i, r := range s.records {
		out[i], _ = r["message"].(string)
	}
	return out
}

func (s *recSink) all() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records)
}

// decodeEntries reads the records' string and integer fields.
func decodeEntries(b []byte) ([]map[string]any, error) {
	var out []map[string]any
	for len(b) > 0 {
		e, rest, err := event.Next(b)
		if err != nil {
			return nil, err
		}
		b = rest
		n, r, err := msgp.ReadMapHeaderBytes(e.Record)
		if err != nil {
			return nil, err
		}
		m := map[string]any{}
		for range n {
			var k string
			if k, r, err = msgp.ReadStringBytes(r); err != nil {
				return nil, err
			}
			switch msgp.NextType(r) {
			case msgp.StrType:
				var v string
				v, r, err = msgp.ReadStringBytes(r)
				m[k] = v
			case msgp.IntType, msgp.UintType:
				var v int64
				v, r, err = msgp.ReadInt64Bytes(r)
				m[k] = v
			default:
				r, err = msgp.Skip(r)
			}
			if err != nil {
				return nil, err
			}
		}
		out = append(out, m)
	}
	return out, nil
}

func testConfig(dir string) Config {
	c := DefaultConfig()
	c.Path = filepath.Join(dir, "*.log")
	c.Tag = "test"
	c.PosFile = filepath.Join(dir, "pos", "tail.pos")
	c.ReadFromHead = true
	c.RefreshInterval = 100 * time.Millisecond
	c.RotateWait = 150 * time.Millisecond
	c.Parse.Type = "none"
	return c
}

// start runs a Tailer; stop (also a cleanup) cancels Run, waits for it
// and closes the Tailer.
func start(t *testing.T, cfg Config, sink Sink, log *logBuf) (tl *Tailer, stop func()) {
	t.Helper()
	opts := Options{}
	if log != nil {
		opts.Logger = log.Logger()
	}
	tl, err := New(cfg, sink, opts)
	if err != nil {
		t.Fatal(err)
	}
	tl.reconcileEvery, tl.syncEvery, tl.retryMin = 20*time.Millisecond, 50*time.Millisecond, time.Millisecond
	if err := tl.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- tl.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-runErr; err != nil {
				t.Errorf("Run: %v", err)
			}
			if err := tl.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return tl, stop
}

// waitFor polls cond until it holds, or fails the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// writer appends numbered lines to a file it keeps open.
type writer struct {
	t *testing.T
	f *os.File
}

func openWriter(t *testing.T, path string) *writer {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &writer{t: t, f: f}
}

func (w *writer) lines(from, to int) {
	w.t.Helper()
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "line %06d\n", i)
	}
	if _, err := w.f.WriteString(b.String()); err != nil {
		w.t.Fatal(err)
	}
}

func (w *writer) write(s string) {
	w.t.Helper()
	if _, err := w.f.WriteString(s); err != nil {
		w.t.Fatal(err)
	}
}

func numbers(t *testing.T, msgs []string) []int {
	t.Helper()
	out := make([]int, len(msgs))
	for i, m := range msgs {
		if _, err := fmt.Sscanf(m, "line %d", &out[i]); err != nil {
			t.Fatalf("record %d: %q", i, m)
		}
	}
	return out
}

// checkOnce checks that 0..n-1 each came once, and that the numbers below
// split, and those from split on, came in order.
func checkOnce(t *testing.T, msgs []string, n, split int) {
	t.Helper()
	nums := numbers(t, msgs)
	if len(nums) != n {
		t.Fatalf("got %d records, want %d", len(nums), n)
	}
	var lo, hi []int
	for _, v := range nums {
		if v < split {
			lo = append(lo, v)
		} else {
			hi = append(hi, v)
		}
	}
	for i, v := range append(lo, hi...) {
		if v != i {
			t.Fatalf("record %d is line %d: lines lost, repeated or out of order", i, v)
		}
	}
}

func TestTailRotateRename(t *testing.T) {
	for _, watch := range []bool{true, false} {
		t.Run(fmt.Sprintf("stat_watcher=%v", watch), func(t *testing.T) { testRotateRename(t, watch) })
	}
}

func testRotateRename(t *testing.T, watch bool) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path)
	sink := &recSink{}
	cfg := testConfig(dir)
	cfg.EnableStatWatcher = watch
	tl, _ := start(t, cfg, sink, nil)
	w.lines(0, 100)
	w.lines(100, 200)
	if err := os.Rename(path, path+".1"); err != nil { // app.log.1: not matched
		t.Fatal(err)
	}
	w.lines(200, 300) // the application has not reopened yet
	w2 := openWriter(t, path)
	w2.lines(300, 400)
	w.lines(400, 450) // a late write to the old file, within rotate_wait
	w2.lines(450, 600)
	waitFor(t, "600 lines", func() bool { return len(sink.messages()) >= 600 })
	waitFor(t, "the old file closed", func() bool { return tl.Stats().Files == 1 })
	msgs := sink.messages()
	var old, cur []string
	for _, m := range msgs {
		n := numbers(t, []string{m})[0]
		if n < 300 || n >= 400 && n < 450 {
			old = append(old, m)
		} else {
			cur = append(cur, m)
		}
	}
	if len(msgs) != 600 || !slices.IsSortedFunc(old, strings.Compare) || !slices.IsSortedFunc(cur, strings.Compare) {
		t.Fatalf("got %d records, old in order %v, new in order %v", len(msgs),
			slices.IsSorted(old), slices.IsSorted(cur))
	}
	slices.Sort(msgs)
	checkOnce(t, msgs, 600, 600)
}

func TestTailCopytruncate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path)
	sink := &recSink{}
	start(t, testConfig(dir), sink, nil)
	w.lines(0, 50)
	waitFor(t, "50 lines", func() bool { return len(sink.messages()) >= 50 })
	// shorter than before: the size tells
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	w.lines(50, 60)
	waitFor(t, "60 lines", func() bool { return len(sink.messages()) >= 60 })
	// longer than before at once: the first bytes tell
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	w.lines(60, 200)
	waitFor(t, "200 lines", func() bool { return len(sink.messages()) >= 200 })
	checkOnce(t, sink.messages(), 200, 200)
}

func TestTailDeleteRecreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path)
	sink := &recSink{}
	tl, _ := start(t, testConfig(dir), sink, nil)
	w.lines(0, 100)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	w.lines(100, 150) // still open: read to its end
	w2 := openWriter(t, path)
	w2.lines(150, 300)
	waitFor(t, "300 lines", func() bool { return len(sink.messages()) >= 300 })
	waitFor(t, "the deleted file closed", func() bool { return tl.Stats().Files == 1 })
	checkOnce(t, sink.messages(), 300, 150)
}

func TestTailRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path)
	w.lines(0, 50)
	cfg := testConfig(dir)
	sink := &recSink{}
	_, stop := start(t, cfg, sink, nil)
	waitFor(t, "50 lines", func() bool { return len(sink.messages()) >= 50 })
	stop()
	w.lines(50, 80)
	cfg.ReadFromHead = false // a position wins over read_from_head
	sink2 := &recSink{}
	tl2, _ := start(t, cfg, sink2, nil)
	waitFor(t, "30 lines", func() bool { return len(sink2.messages()) >= 30 })
	if n := numbers(t, sink2.messages()); n[0] != 50 || len(n) != 30 {
		t.Fatalf("after restart got lines %v, want 50..79", n)
	}
	waitFor(t, "the position at the end", func() bool {
		e, ok := position(tl2, path)
		return ok && e.Offset == 80*int64(len("line 000000\n"))
	})
}

func TestTailReadFromHeadFalse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path)
	w.lines(0, 10)
	cfg := testConfig(dir)
	cfg.ReadFromHead = false
	sink := &recSink{}
	tl, _ := start(t, cfg, sink, nil)
	waitFor(t, "the file followed", func() bool { return tl.Stats().Files == 1 })
	w.lines(10, 20)
	later := openWriter(t, filepath.Join(dir, "later.log")) // found later: from its head
	later.write("first\n")
	waitFor(t, "11 lines", func() bool { return len(sink.messages()) >= 11 })
	var got []string
	for _, m := range sink.messages() {
		if m != "first" {
			got = append(got, m)
		}
	}
	if n := numbers(t, got); len(n) != 10 || n[0] != 10 {
		t.Fatalf("got lines %v, want 10..19", n)
	}
}

func TestTailPartialLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path)
	cfg := testConfig(dir)
	cfg.PathKey, cfg.OffsetKey = "path", "offset"
	sink := &recSink{}
	tl, _ := start(t, cfg, sink, nil)
	w.write("a\r\nb")
	waitFor(t, "the position after a", func() bool {
		e, ok := position(tl, path)
		return ok && e.Offset == 3
	})
	w.write("c\n")
	waitFor(t, "2 records", func() bool { return len(sink.messages()) >= 2 })
	recs := sink.all()
	want := []map[string]any{
		{"message": "a", "path": path, "offset": int64(0)},
		{"message": "bc", "path": path, "offset": int64(3)},
	}
	if fmt.Sprint(recs) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", recs, want)
	}
}

func TestTailLongLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path)
	cfg := testConfig(dir)
	cfg.MaxLineSize = 1024
	sink := &recSink{}
	log := &logBuf{}
	tl, _ := start(t, cfg, sink, log)
	w.write("short1\n" + strings.Repeat("x", 3000) + "\nshort2\n")
	w.write(strings.Repeat("y", 1000)) // long, in pieces
	waitFor(t, "2 records", func() bool { return len(sink.messages()) >= 2 })
	w.write(strings.Repeat("y", 1000))
	waitFor(t, "the second long line seen", func() bool { return tl.Stats().LongLines == 2 })
	w.write(strings.Repeat("y", 1000) + "\nshort3\n")
	waitFor(t, "3 records", func() bool { return len(sink.messages()) >= 3 })
	if got := sink.messages(); !slices.Equal(got, []string{"short1", "short2", "short3"}) {
		t.Fatalf("got %q", got)
	}
	if n := tl.Stats().LongLines; n != 2 {
		t.Fatalf("LongLines %d, want 2", n)
	}
	if log.Count("max_line_size", "path="+path, "offset=7") != 1 || log.Count("offset=3015") != 1 {
		t.Fatalf("warnings:\n%s", log)
	}
}

func TestTailBlockingSink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path)
	w.lines(0, 10)
	cfg := testConfig(dir)
	cfg.ReadLinesLimit = 2
	sink := &recSink{block: make(chan struct{}), entered: make(chan struct{}, 1)}
	tl, _ := start(t, cfg, sink, nil)
	<-sink.entered // Append is blocked on the first batch
	w.lines(10, 20)
	// A reconcile would mark the file as grown; reading stays stopped.
	if s := tl.Stats(); s.Lines != 2 {
		t.Fatalf("read %d lines while Append blocks, want 2", s.Lines)
	}
	// The file is named in the pos_file from the start (at offset 0),
	// and its position moves no further while Append blocks.
	if e, ok := position(tl, path); !ok || e.Offset != 0 {
		t.Fatalf("position %+v (%v) while Append blocks, want offset 0", e, ok)
	}
	close(sink.block)
	waitFor(t, "20 lines", func() bool { return len(sink.messages()) >= 20 })
	checkOnce(t, sink.messages(), 20, 20)
}

func TestTailAppendRetry(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path)
	w.lines(0, 30)
	cfg := testConfig(dir)
	cfg.ReadLinesLimit = 10
	sink := &recSink{fail: func(call int) error {
		if call <= 4 {
			return errors.New("buffer: full")
		}
		return nil
	}}
	tl, _ := start(t, cfg, sink, nil)
	waitFor(t, "30 lines", func() bool { return len(sink.messages()) >= 30 })
	checkOnce(t, sink.messages(), 30, 30)
	if s := tl.Stats(); s.Errors != 4 || s.Records != 30 {
		t.Fatalf("stats %+v, want 4 errors, 30 records", s)
	}
}

func TestTailLifecycle(t *testing.T) {
	dir := t.TempDir()
	tl, err := New(testConfig(dir), &recSink{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tl.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tl.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}

	tl2, _ := start(t, testConfig(dir), &recSink{}, nil)
	waitFor(t, "Run running", func() bool {
		tl2.mu.Lock()
		defer tl2.mu.Unlock()
		return tl2.running
	})
	if err := tl2.Run(context.Background()); err == nil {
		t.Fatal("second Run: no error")
	}
	if _, err := New(testConfig(dir), nil, Options{}); err == nil {
		t.Fatal("nil sink accepted")
	}
}

// position reads the store once Listen has set it.
func position(tl *Tailer, path string) (Entry, bool) {
	tl.mu.Lock()
	s := tl.store
	tl.mu.Unlock()
	if s == nil {
		return Entry{}, false
	}
	return s.Get(path)
}

func TestTailMultilineHeld(t *testing.T) {
	for _, flush := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run(fmt.Sprintf("flush_interval=%v", flush), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			w := openWriter(t, path)
			cfg := testConfig(dir)
			cfg.Parse.Type = "multiline"
			cfg.Parse.FormatFirstline = "/^start/"
			cfg.Parse.Format1 = "/(?<message>[\\s\\S]*)/"
			cfg.MultilineFlushInterval = flush
			sink := &recSink{}
			tl, stop := start(t, cfg, sink, nil)
			w.write("start 1\ncont\nstart 2\n")
			want := []string{"start 1\ncont"}
			pos := int64(len("start 1\ncont\n")) // "start 2" is held
			if flush > 0 {
				want, pos = append(want, "start 2"), pos+int64(len("start 2\n"))
			}
			waitFor(t, "the records", func() bool { return len(sink.messages()) >= len(want) })
			waitFor(t, "the position", func() bool {
				e, ok := position(tl, path)
				return ok && e.Offset == pos
			})
			stop()
			if got := sink.messages(); !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			if flush > 0 {
				return
			}
			// restarted, the held line is read again
			w.write("start 3\n")
			sink2 := &recSink{}
			start(t, cfg, sink2, nil)
			waitFor(t, "start 2", func() bool { return len(sink2.messages()) >= 1 })
			if got := sink2.messages(); !slices.Equal(got, []string{"start 2"}) {
				t.Fatalf("after restart got %q", got)
			}
		})
	}
}

func TestTailFromEncodingLatin1(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path)
	cfg := testConfig(dir)
	cfg.Encoding, cfg.FromEncoding = "UTF-8", "ISO-8859-1"
	sink := &recSink{}
	start(t, cfg, sink, nil)
	w.write("caf\xe9\n")
	waitFor(t, "1 record", func() bool { return len(sink.messages()) >= 1 })
	if got := sink.messages()[0]; got != "café" {
		t.Fatalf("got %q", got)
	}
}

// clock is a fake clock, moved by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestTailReadBytesLimit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path)
	w.lines(0, 2000) // 24000 bytes: three seconds at 8192 a second
	cfg := testConfig(dir)
	cfg.ReadBytesLimitPerSecond = 8192
	sink := &recSink{}
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	tl, err := New(cfg, sink, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	tl.reconcileEvery = 5 * time.Millisecond
	tl.cfg.RefreshInterval = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		tl.Close()
	}()
	const perLine = int64(len("line 000000\n"))
	for second := 1; second <= 3; second++ {
		want := min(2000, int(int64(second)*8192/perLine+1)) // a line may start within the budget
		waitFor(t, fmt.Sprintf("second %d's lines", second), func() bool { return len(sink.messages()) >= want-1 })
		// two refreshes later (the loop went round), still within the budget
		runs := tl.resolver.Stats().Runs
		waitFor(t, "two refreshes", func() bool { return tl.resolver.Stats().Runs >= runs+2 })
		if got := len(sink.messages()); got > want {
			t.Fatalf("second %d: %d lines read, budget allows %d", second, got, want)
		}
		clk.add(time.Second)
	}
	waitFor(t, "every line", func() bool { return len(sink.messages()) == 2000 })
}

func TestTailRotatedWhileStopped(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path)
	w.lines(0, 50)
	cfg := testConfig(dir)
	sink := &recSink{}
	_, stop := start(t, cfg, sink, nil)
	waitFor(t, "50 lines", func() bool { return len(sink.messages()) >= 50 })
	stop()
	w.lines(50, 60)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	openWriter(t, path).lines(60, 100)
	sink2 := &recSink{}
	tl2, _ := start(t, cfg, sink2, nil)
	waitFor(t, "50 lines", func() bool { return len(sink2.messages()) >= 50 })
	waitFor(t, "the old file closed", func() bool { return tl2.Stats().Files == 1 })
	msgs := sink2.messages()
	slices.Sort(msgs)
	for i, v := range numbers(t, msgs) {
		if v != 50+i || len(msgs) != 50 {
			t.Fatalf("after restart got lines %v, want 50..99 once", numbers(t, msgs))
		}
	}
}

func TestTailCloseWhileAppendBlocks(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	openWriter(t, path).lines(0, 10)
	sink := &recSink{block: make(chan struct{}), entered: make(chan struct{}, 1)}
	tl, err := New(testConfig(dir), sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tl.Run(context.Background()) }()
	<-sink.entered
	if err := tl.Close(); err != nil { // cancels Run's context, waits for it
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if e, ok := position(tl, path); !ok || e.Offset != 0 {
		t.Fatalf("position %+v (%v) after lines never appended, want offset 0", e, ok)
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// reuseInode creates files at path until one gets inode ino (a deleted
// file's) back, and leaves it there, empty. It skips the test, saying why,
// when the file system does not give the inode back within 2,000 tries.
func reuseInode(t *testing.T, path string, ino uint64) {
	t.Helper()
	for i := range 2000 {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.Stat()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st.Sys().(*syscall.Stat_t).Ino == ino {
			return
		}
		// Kept, so that its inode is not the next one handed out.
		if err := os.Rename(path, fmt.Sprintf("%s.spare-%d", path, i)); err != nil {
			t.Fatal(err)
		}
	}
	t.Skipf("the file system under %s did not reuse inode %d in 2,000 creations", filepath.Dir(path), ino)
}

// TestTailInodeReuse deletes a file read to its end and creates files
// until one gets its inode back, larger than the old position: the new
// file is a new file (its fingerprint differs) and is read from its
// start, while barge runs and while it is stopped. Every line once.
func TestTailInodeReuse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path)
	w.lines(0, 100)
	w.f.Close()
	sink := &recSink{}
	cfg := testConfig(dir)
	tl, stop := start(t, cfg, sink, nil)
	waitFor(t, "100 lines", func() bool { return len(sink.messages()) >= 100 })

	// While running: the old file, deleted, is closed after rotate_wait;
	// only then can its inode come back.
	ino := inode(t, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted file closed", func() bool { return tl.Stats().Files == 0 })
	reuseInode(t, path, ino)
	w = openWriter(t, path)
	w.lines(100, 400) // longer than the old file: an inode match alone would skip its head
	waitFor(t, "400 lines", func() bool { return len(sink.messages()) >= 400 })

	// While stopped.
	stop()
	w.f.Close()
	ino = inode(t, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	reuseInode(t, path, ino)
	w = openWriter(t, path)
	w.lines(400, 1000)
	sink2 := &recSink{}
	start(t, cfg, sink2, nil)
	waitFor(t, "600 more lines", func() bool { return len(sink2.messages()) >= 600 })
	checkOnce(t, append(sink.messages(), sink2.messages()...), 1000, 0)
}

// TestTailRotatedToMatchedName: with path app.log* (no follow_inodes),
// logrotate renames app.log to app.log.1, which the glob matches, then
// app.log.1 to app.log.2, while barge runs and while it is stopped: the
// rotated file is read on under its new name, never again from its start
// (Fluentd reads it again: fluentd#3532). Every line once.
func TestTailRotatedToMatchedName(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	cfg := testConfig(dir)
	cfg.Path = path + "*"
	w := openWriter(t, path)
	w.lines(0, 100)
	sink := &recSink{}
	tl, stop := start(t, cfg, sink, nil)
	waitFor(t, "100 lines", func() bool { return len(sink.messages()) >= 100 })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	w.lines(100, 150) // the application has not reopened yet
	w2 := openWriter(t, path)
	w2.lines(150, 300)
	waitFor(t, "300 lines", func() bool { return len(sink.messages()) >= 300 })
	waitFor(t, "two files followed", func() bool { return tl.Stats().Files == 2 })

	// Stopped: app.log.1 -> app.log.2, app.log -> app.log.1, a new app.log.
	stop()
	w.f.Close()
	w2.lines(300, 350)
	w2.f.Close()
	if err := os.Rename(path+".1", path+".2"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	w3 := openWriter(t, path)
	w3.lines(350, 400)
	sink2 := &recSink{}
	tl2, _ := start(t, cfg, sink2, nil)
	waitFor(t, "100 more lines", func() bool { return len(sink2.messages()) >= 100 })
	for _, p := range []string{path, path + ".1", path + ".2"} {
		size := fileSize(t, p)
		waitFor(t, p+" read to its end", func() bool {
			e, ok := position(tl2, p)
			return ok && e.Offset == size
		})
	}
	msgs := append(sink.messages(), sink2.messages()...)
	slices.Sort(msgs)
	n1, n2 := numbers(t, sink.messages()), numbers(t, sink2.messages())
	t.Logf("first run %d records (%d..%d), second %d (%v ... %v)", len(n1), n1[0], n1[len(n1)-1], len(n2), n2[:3], n2[len(n2)-3:])
	checkOnce(t, msgs, 400, 400)
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestTailFairness: a file of 100,000 lines and fifty of 20 lines each,
// all there at start: each file gets at most read_lines_limit lines a
// turn, so every small file is delivered whole before the big one is a
// fifth read.
func TestTailFairness(t *testing.T) {
	dir := t.TempDir()
	big := openWriter(t, filepath.Join(dir, "big.log"))
	big.lines(0, 100000)
	for i := range 50 {
		w := openWriter(t, filepath.Join(dir, fmt.Sprintf("small-%02d.log", i)))
		w.lines(0, 20)
	}
	cfg := testConfig(dir)
	cfg.PathKey = "path"
	sink := &recSink{}
	start(t, cfg, sink, nil)
	waitFor(t, "every line", func() bool { return len(sink.messages()) >= 100000+50*20 })
	bigSeen, small := 0, 0
	for _, r := range sink.all() {
		if strings.HasSuffix(r["path"].(string), "big.log") {
			bigSeen++
			continue
		}
		if small++; small == 50*20 {
			break
		}
	}
	if bigSeen > 100000/5 {
		t.Fatalf("%d lines of the big file came before the small files' last", bigSeen)
	}
	t.Logf("the small files' last line came after %d of the big file's 100,000", bigSeen)
}
