package buffer

import (
	"context"
	"testing"
	"time"
)

// Settle waits for the flush in flight and then lets no other start.
func TestSettle(t *testing.T) {
	cfg := testConfig(t, "file")
	cfg.FlushMode = "immediate"
	cfg.FlushThreadCount = 1
	out := &recorder{gate: make(chan struct{})}
	b, _ := open(t, cfg, out, Options{})
	h := runBuf(t, b, out)
	defer h.stop()
	ctx := context.Background()
	if err := b.Append(ctx, "a", entries(1, t0, 10)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return b.Stats().QueuedChunks == 1 && inflight(b) == 1 })
	settled := make(chan error, 1)
	go func() { settled <- b.Settle(ctx) }()
	if err := b.Append(ctx, "b", entries(1, t0, 10)); err != nil { // queued behind the gate
		t.Fatal(err)
	}
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.settled })
	select {
	case err := <-settled:
		t.Fatalf("Settle returned %v with a flush in flight", err)
	default:
	}
	close(out.gate)
	select {
	case err := <-settled:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Settle did not return once the flush ended")
	}
	if n := out.records(); n != 1 {
		t.Fatalf("%d records flushed, want the 1 in flight", n)
	}
	if st := b.Stats(); st.QueuedChunks != 1 {
		t.Fatalf("stats %+v: the second chunk should stay queued", st)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := b.Settle(short); err != nil {
		t.Fatalf("a settled buffer with nothing in flight: %v", err)
	}
}

func inflight(b *Buffer) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inflight
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
