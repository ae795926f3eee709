package files

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/forwarder/internal/logtest"
	"github.com/tinylib/msgp/msgp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recSink records what it is given. Its Append fails while failNext > 0
// (counting down), and always once okLeft successes are used up (when
// okLeft >= 0). block makes Append wait until its context ends.
type recSink struct {
	mu       sync.Mutex
	tags     []string
	batches  [][]byte
	calls    int
	failNext int
	okLeft   int
	block    bool
	onAppend func() // called inside Append, before it returns nil
}

func newSink() *recSink { return &recSink{okLeft: -1} }

var errSink = errors.New("sink: disk full")

func (s *recSink) Append(ctx context.Context, tag string, entries []byte) error {
	s.mu.Lock()
	s.calls++
	block := s.block
	fail := s.failNext > 0 || s.okLeft == 0
	if s.failNext > 0 {
		s.failNext--
	}
	s.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	if fail {
		return errSink
	}
	if _, _, _, err := event.Count(entries); err != nil {
		return fmt.Errorf("not a canonical stream: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.okLeft > 0 {
		s.okLeft--
	}
	s.tags = append(s.tags, tag)
	s.batches = append(s.batches, bytes.Clone(entries))
	if s.onAppend != nil {
		s.onAppend()
	}
	return nil
}

type rec struct {
	tag       string
	sec, nsec int64
	r         map[string]any
}

// records decodes every appended entry.
func (s *recSink) records(t *testing.T) []rec {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []rec
	for i, b := range s.batches {
		for len(b) > 0 {
			e, rest, err := event.Next(b)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := event.CheckRecord(e.Record); err != nil {
				t.Fatal(err)
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

// values returns the field k of every record, as text.
func (s *recSink) values(t *testing.T, k string) []string {
	t.Helper()
	var out []string
	for _, r := range s.records(t) {
		out = append(out, fmt.Sprint(r.r[k]))
	}
	return out
}

func (s *recSink) count(t *testing.T) int { return len(s.records(t)) }

func (s *recSink) set(f func(*recSink)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// logBuf is where a test's logger writes.
type logBuf = logtest.Buffer

// env is a test's directories: in/ holds the files, state/ the pos_file.
type env struct {
	t    *testing.T
	dir  string
	in   string
	pos  string
	logs *logBuf
}

func newEnv(t *testing.T) *env {
	dir := t.TempDir()
	e := &env{t: t, dir: dir, in: filepath.Join(dir, "in"), pos: filepath.Join(dir, "state", "files.pos"), logs: &logBuf{}}
	if err := os.MkdirAll(e.in, 0o755); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) config(typ string) Config {
	c := DefaultConfig()
	c.Path = []string{filepath.Join(e.in, "*")}
	c.Tag = "onprem.top"
	c.PosFile = e.pos
	c.SettleTime = 0
	c.Parse.Type = typ
	return c
}

// write creates a file in in/ with an mtime of at (zero: leave it).
func (e *env) write(name, content string, at time.Time) string {
	e.t.Helper()
	p := filepath.Join(e.in, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	if !at.IsZero() {
		if err := os.Chtimes(p, at, at); err != nil {
			e.t.Fatal(err)
		}
	}
	return p
}

func gz(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

// running is an Input whose Run goes on in a goroutine.
type running struct {
	in   *Input
	stop func()
}

// start builds an Input and runs it until stop (which checks that Run
// returned nil, and closes the Input). edit, if set, changes the Input
// before it runs.
func (e *env) start(cfg Config, sink Sink, edit func(*Input)) running {
	e.t.Helper()
	in, err := New(cfg, sink, Options{Logger: slog.New(slog.NewTextHandler(e.logs, nil)), Hostname: "h"})
	if err != nil {
		e.t.Fatal(err)
	}
	if edit != nil {
		edit(in)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("Run: %v", err)
			}
			if err := in.Close(); err != nil {
				e.t.Errorf("Close: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return running{in, stop}
}

// ledger reads the pos_file as it is on disk.
func (e *env) ledger() map[string]*entry {
	e.t.Helper()
	b, err := os.ReadFile(e.pos)
	if err != nil {
		e.t.Fatal(err)
	}
	_, entries, err := decodeLedger(b)
	if err != nil {
		e.t.Fatal(err)
	}
	return entries
}

func ndjsonLines(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, `{"n":%d,"msg":"line %d"}`+"\n", i, i)
	}
	return b.String()
}
