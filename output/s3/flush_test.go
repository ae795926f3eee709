package s3

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer"
)

// TestFlushThroughBuffer drives Flush the way barge does: a memory buffer
// with the Output as its Flusher, drained at shutdown.
func TestFlushThroughBuffer(t *testing.T) {
	fake := startFake(t)
	o := newOutput(t, testConfig(fake.URL, nil))
	cfg := buffer.DefaultConfig("memory")
	cfg.ChunkKeys = []string{"tag"}
	b, err := buffer.New(cfg, o, buffer.Options{Name: "s3"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := b.Open(ctx); err != nil {
		t.Fatal(err)
	}
	gen := newGen(3000, 5)
	for {
		tag, entries, err := gen.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err := b.Append(ctx, tag, entries); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- b.Run(runCtx) }()
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-runErr; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	cl := testClient(t, o)
	keys := listKeys(t, cl)
	if len(keys) != 1 {
		t.Fatalf("keys %q, want one object", keys)
	}
	body, _ := getObject(t, cl, keys[0])
	checkSeqs(t, jsonSeqs(t, decode(t, keys[0], body)), 3000)
}
