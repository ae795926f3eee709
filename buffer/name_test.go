package buffer

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// namer is a Flusher that names each chunk at its first attempt, as an
// output with %{index} does, and remembers the names each attempt used.
type namer struct {
	mu     sync.Mutex
	seen   []string
	fail   func(call int) error
	cancel context.CancelFunc // when set, a failing call also ends the flush's context
}

func (n *namer) Flush(ctx context.Context, c *Chunk) error {
	name := c.Name("out")
	if name == "" {
		name = "key-" + c.ID
		if err := c.SetName("out", name); err != nil {
			return err
		}
	}
	n.mu.Lock()
	n.seen = append(n.seen, name)
	call := len(n.seen)
	n.mu.Unlock()
	if n.fail != nil {
		if err := n.fail(call); err != nil {
			if n.cancel != nil {
				n.cancel()
			}
			return err
		}
	}
	return nil
}

func (n *namer) names() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.seen...)
}

// TestNameRecoveredAfterCrash: the name a chunk's first attempt recorded
// is what the attempt after a crash sees; a flushed chunk leaves no
// sidecar, and sidecars without a chunk are removed at the next start.
func TestNameRecoveredAfterCrash(t *testing.T) {
	cfg := testConfig(t, "file")
	cfg.FlushMode = "lazy"
	ctx, cancel := context.WithCancel(context.Background())
	first := &namer{fail: func(int) error { return errors.New("upload failed") }, cancel: cancel}
	b1, _ := open(t, cfg, first, Options{})
	defer b1.Close()
	if err := b1.Append(context.Background(), "t", entries(3, t0, 10)); err != nil {
		t.Fatal(err)
	}
	if err := b1.Drain(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Drain = %v", err)
	}
	chunks := chunkFiles(t, cfg.Path, "q*.chunk")
	if len(chunks) != 1 {
		t.Fatalf("chunk files %v", chunks)
	}
	id := filepath.Base(chunks[0])[1:33]
	sidecar := filepath.Join(cfg.Path, id+".names")
	data, err := os.ReadFile(sidecar)
	if err != nil {
		t.Fatal(err)
	}
	var names map[string]string
	if err := json.Unmarshal(data, &names); err != nil || names["out"] != "key-"+id {
		t.Fatalf("sidecar %s = %s (%v)", sidecar, data, err)
	}
	crash(b1)

	// Leftovers of a crash: the sidecar of a purged chunk and a temporary file.
	orphan := filepath.Join(cfg.Path, "00112233445566778899aabbccddeeff.names")
	for _, p := range []string{orphan, sidecar + ".tmp"} {
		if err := os.WriteFile(p, []byte(`{"out":"x"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The restarted output names chunks otherwise: it must not need to.
	second := &namer{}
	b2, rec := open(t, cfg, second, Options{})
	defer b2.Close()
	if rec.Chunks != 1 {
		t.Fatalf("recovery %+v", rec)
	}
	if left := chunkFiles(t, cfg.Path, "*.names*"); len(left) != 1 || left[0] != sidecar {
		t.Errorf("sidecars after recovery %v, want only %s", left, sidecar)
	}
	if err := b2.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := second.names(); len(got) != 1 || got[0] != "key-"+id {
		t.Errorf("after the crash the chunk was flushed as %q, want the recorded key-%s", got, id)
	}
	if left := chunkFiles(t, cfg.Path, "*"); len(left) != 0 {
		for _, p := range left {
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && filepath.Base(p) != "buffer.lock" && filepath.Base(p) != "marks" {
				t.Errorf("left in the buffer after the flush: %s", p)
			}
		}
	}
}

// TestNameMovedToFailed: a chunk set aside keeps its name beside it.
func TestNameMovedToFailed(t *testing.T) {
	cfg := testConfig(t, "file")
	cfg.FlushMode = "lazy"
	out := &namer{fail: func(int) error { return Permanent(errors.New("refused")) }}
	b, _ := open(t, cfg, out, Options{})
	defer b.Close()
	if err := b.Append(context.Background(), "t", entries(2, t0, 10)); err != nil {
		t.Fatal(err)
	}
	if err := b.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	failed := chunkFiles(t, filepath.Join(cfg.Path, "failed"), "q*.chunk")
	if len(failed) != 1 {
		t.Fatalf("failed/ holds %v", failed)
	}
	id := filepath.Base(failed[0])[1:33]
	if _, err := os.Stat(filepath.Join(cfg.Path, "failed", id+".names")); err != nil {
		t.Errorf("the name did not follow the chunk into failed/: %v", err)
	}
	if left := chunkFiles(t, cfg.Path, "*.names"); len(left) != 0 {
		t.Errorf("sidecars left in the buffer: %v", left)
	}
}

// TestNameUnreadable: a damaged sidecar goes to corrupt/ and the chunk is
// named again.
func TestNameUnreadable(t *testing.T) {
	cfg := testConfig(t, "file")
	cfg.FlushMode = "lazy"
	b1, _ := open(t, cfg, &namer{}, Options{})
	if err := b1.Append(context.Background(), "t", entries(2, t0, 10)); err != nil {
		t.Fatal(err)
	}
	b1.Close()
	id := filepath.Base(chunkFiles(t, cfg.Path, "b*.chunk")[0])[1:33]
	if err := os.WriteFile(filepath.Join(cfg.Path, id+".names"), []byte(`{"out":`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := &namer{}
	b2, _ := open(t, cfg, out, Options{})
	defer b2.Close()
	if aside := chunkFiles(t, filepath.Join(cfg.Path, "corrupt"), id+".names"); len(aside) != 1 {
		t.Errorf("corrupt/ holds %v", aside)
	}
	if err := b2.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := out.names(); len(got) != 1 || got[0] != "key-"+id {
		t.Errorf("names %q", got)
	}
}

// TestNameMemory: a memory chunk keeps its name across retries.
func TestNameMemory(t *testing.T) {
	cfg := testConfig(t, "memory")
	cfg.FlushMode = "lazy"
	cfg.RetryWait = time.Millisecond
	out := &namer{fail: func(call int) error {
		if call < 3 {
			return errors.New("upload failed")
		}
		return nil
	}}
	b, _ := open(t, cfg, out, Options{})
	defer b.Close()
	if err := b.Append(context.Background(), "t", entries(2, t0, 10)); err != nil {
		t.Fatal(err)
	}
	if err := b.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := out.names()
	if len(got) != 3 || got[0] != got[1] || got[1] != got[2] {
		t.Errorf("attempts named the chunk %q, want one name", got)
	}
}
