package buffer

import (
	"context"
	"errors"
	"time"
)

// ErrFull is wrapped by Append's error when total_limit_size is reached and
// overflow_action is throw_exception (or drop_oldest_chunk found nothing to
// drop).
var ErrFull = errors.New("buffer: full")

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("buffer: closed")

// Flusher writes chunks to their destination.
type Flusher interface {
	// Flush writes the chunk to its destination. nil: the chunk may be purged.
	// Rejected(rs): every record but rs was written; the buffer sets rs
	// aside in a chunk of their own, then purges the chunk. An error
	// wrapped by buffer.Permanent(err) moves it aside (secondary or
	// failed/); any other error is retried with backoff, the chunk going to
	// the back of the queue, until its own retries are exhausted. Flush may
	// be called again for the same chunk after a crash or an error: outputs
	// make that idempotent (same chunk ID -> same object/file name, or the
	// name recorded with the chunk by Chunk.SetName at its first attempt).
	Flush(ctx context.Context, c *Chunk) error
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as permanent: the chunk is not retried. Permanent(nil)
// is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err (or an error it wraps) was marked by
// Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Clock is the buffer's source of time; tests inject a fake one (or use
// testing/synctest with the real clock).
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the subset of *time.Timer the buffer uses.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time                 { return time.Now() }
func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }
func (t realTimer) Stop() bool          { return t.t.Stop() }

// sleep waits for d or ctx, whichever ends first, reporting whether d passed.
func sleep(ctx context.Context, c Clock, d time.Duration, wake <-chan struct{}) bool {
	if d <= 0 {
		return true
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-wake:
		return false
	case <-ctx.Done():
		return false
	}
}
