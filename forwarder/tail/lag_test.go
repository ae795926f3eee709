package tail

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestTailLag: a file read at read_bytes_limit_per_second (a clock that
// does not move) is behind by what is left to read; once the clock lets
// it read the rest, it is behind by nothing.
func TestTailLag(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path)
	w.lines(0, 2000) // 24000 bytes
	cfg := testConfig(dir)
	cfg.ReadBytesLimitPerSecond = 8192
	sink := &recSink{}
	clk := &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	tl, err := New(cfg, sink, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if lag := tl.Lag(); lag != nil {
		t.Fatalf("Lag before Run: %v", lag)
	}
	tl.reconcileEvery = 5 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx) }()
	behind := func() int64 {
		for _, f := range tl.Lag() {
			if f.Path == path {
				return f.Behind
			}
		}
		return -1
	}
	waitFor(t, "a backlog of the bytes not read", func() bool { b := behind(); return b > 24000-2*8192 && b < 24000 })
	waitFor(t, "no backlog", func() bool {
		clk.add(time.Second) // a second's budget more at each look
		return behind() == 0 && len(sink.messages()) == 2000
	})
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
	tl.Close()
	if lag := tl.Lag(); lag != nil {
		t.Errorf("Lag after Close: %v", lag)
	}
}
