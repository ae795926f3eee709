package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

// noFlush is the Flusher of the buffer of the kill test: the child never
// runs its buffer, so nothing leaves it; the test reads it back whole.
type noFlush struct{}

func (noFlush) Flush(context.Context, *buffer.Chunk) error {
	return errors.New("the kill test's buffer is not flushed")
}

// openBuffer opens the file buffer dir/buf.
func openBuffer(t *testing.T, dir string, out buffer.Flusher) *buffer.Buffer {
	cfg := buffer.DefaultConfig("file")
	cfg.Path = filepath.Join(dir, "buf")
	b, err := buffer.New(cfg, out, buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return b
}

// killingSink is the buffer, killing its own process (kill -9) right
// after its Nth acknowledged append: the moment between an Append and the
// ledger's journal line, where a crash used to re-ship one batch.
type killingSink struct {
	*buffer.Buffer
	after, n int
}

func (k *killingSink) AppendMarked(ctx context.Context, tag string, entries []byte, m buffer.Mark) error {
	return k.acked(k.Buffer.AppendMarked(ctx, tag, entries, m))
}

func (k *killingSink) Append(ctx context.Context, tag string, entries []byte) error {
	return k.acked(k.Buffer.Append(ctx, tag, entries))
}

func (k *killingSink) acked(err error) error {
	if err == nil {
		if k.n++; k.n == k.after {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
	return err
}

// crashInput ships dir/in/* into the file buffer dir/buf (with marks),
// with the pos_file in dir/state; after > 0 kills the process after that
// many appends.
func crashInput(t *testing.T, dir string, after int) (*Input, *buffer.Buffer) {
	b := openBuffer(t, dir, noFlush{})
	cfg := DefaultConfig()
	cfg.Path, cfg.Tag, cfg.SettleTime = []string{filepath.Join(dir, "in", "*")}, "t", 0
	cfg.PosFile = filepath.Join(dir, "state", "files.pos")
	cfg.Parse.Type = "ndjson"
	in, err := New(cfg, &killingSink{Buffer: b, after: after}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Listen(); err != nil {
		t.Fatal(err)
	}
	return in, b
}

// TestKillChild is the process TestKill kills: it ships and exits.
func TestKillChild(t *testing.T) {
	dir := os.Getenv("FILES_KILL_DIR")
	if dir == "" {
		t.Skip("run by TestKill")
	}
	after, err := strconv.Atoi(os.Getenv("FILES_KILL_AFTER"))
	if err != nil {
		t.Fatal(err)
	}
	in, b := crashInput(t, dir, after)
	in.scan(t.Context())
	in.Close()
	b.Close()
}

// TestKill kills a process shipping a file into a file buffer (kill -9)
// three times, each right after an Append returned and before the ledger
// wrote it, then ships the rest: every record is in the buffer once (each
// batch's ledger entry is in the buffer with it).
func TestKill(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: kills and restarts three child processes")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	const n = 300000
	data := ndjsonLines(1, n)
	if err := os.WriteFile(filepath.Join(dir, "in", "a.ndjson"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	// 300 batches of 1000 records: each child is killed right after its
	// 40th, 90th, 150th acknowledged batch, before the journal line.
	for _, after := range []int{40, 90, 150} {
		killedAfter(t, dir, after)
	}
	in, b := crashInput(t, dir, 0)
	in.scan(t.Context())
	in.Close()
	b.Close()

	counted := &countFlush{seen: make([]int, n+1)}
	b = openBuffer(t, dir, counted)
	if err := b.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	b.Close()
	for i := 1; i <= n; i++ {
		if counted.seen[i] != 1 {
			t.Fatalf("record %d is in the buffer %d times (after 3 kills)", i, counted.seen[i])
		}
	}
	if counted.total != n {
		t.Fatalf("%d records in the buffer, want %d", counted.total, n)
	}
}

// countFlush counts the field n of the records of the chunks it flushes.
type countFlush struct {
	seen  []int
	total int
}

func (c *countFlush) Flush(_ context.Context, ch *buffer.Chunk) error {
	r, err := ch.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		_, entries, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		for len(entries) > 0 {
			e, rest, err := event.Next(entries)
			if err != nil {
				return err
			}
			m, _, err := msgp.ReadMapStrIntfBytes(e.Record, nil)
			if err != nil {
				return err
			}
			v, ok := m["n"].(int64)
			if !ok || v < 1 || int(v) >= len(c.seen) {
				return fmt.Errorf("record %v", m)
			}
			c.seen[v]++
			c.total++
			entries = rest
		}
	}
}

// killedAfter runs a child that ships and kills itself after its after-th
// append, and checks that it died so.
func killedAfter(t *testing.T, dir string, after int) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FILES_KILL_DIR="+dir, "FILES_KILL_AFTER="+strconv.Itoa(after))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child to be killed after %d appends: %v\n%s", after, err, out)
	}
}
