// Package buffertest runs a real buffer.Buffer in front of an output, for
// the outputs' tests: open, run, append, drain, stop. Imported only by
// tests.
package buffertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer"
)

// Running is a buffer whose Run goroutine is going.
type Running struct {
	*buffer.Buffer
	t      testing.TB
	ctx    context.Context
	cancel context.CancelFunc
	done   chan error
}

// Start builds a buffer of cfg flushing to out, opens it and runs it. The
// test's cleanup stops it if Finish was not called.
func Start(t testing.TB, cfg buffer.Config, out buffer.Flusher, name string) *Running {
	t.Helper()
	b, err := buffer.New(cfg, out, buffer.Options{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := b.Open(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &Running{Buffer: b, t: t, ctx: ctx, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
		b.Close()
	})
	return r
}

// Append appends entries under tag, failing the test on error.
func (r *Running) Append(tag string, entries []byte) {
	r.t.Helper()
	if err := r.Buffer.Append(r.ctx, tag, entries); err != nil {
		r.t.Fatal(err)
	}
}

// Finish drains the buffer within timeout (flush_at_shutdown), stops Run
// and closes the buffer, failing the test on any error.
func (r *Running) Finish(timeout time.Duration) {
	r.t.Helper()
	dctx, dcancel := context.WithTimeout(r.ctx, timeout)
	defer dcancel()
	if err := r.Drain(dctx); err != nil {
		r.t.Fatal(err)
	}
	r.cancel()
	if err := <-r.done; err != nil && !errors.Is(err, context.Canceled) {
		r.t.Fatal(err)
	}
	r.done <- nil // for the cleanup
	if err := r.Close(); err != nil {
		r.t.Fatal(err)
	}
}
