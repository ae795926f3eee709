package files

import (
	"context"
	"time"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/event"
)

// batch gathers entries into one Append: one durable write per batch.
type batch struct {
	buf        []byte
	n          int
	at         cursor // after the last record in buf
	skip       int64  // records still to skip (resuming by count)
	maxRecords int
	maxBytes   int
	// commit appends buf and records the new position; an error stops
	// the transfer (it is wrapped in abortError).
	commit func(buf []byte, n int, at cursor) error
}

func (b *batch) add(rawTime, rec []byte, c cursor) error {
	if b.skip > 0 {
		b.skip--
		return nil
	}
	b.buf = event.AppendEntry(b.buf, rawTime, rec)
	b.n++
	b.at = c
	if b.n >= b.maxRecords || len(b.buf) >= b.maxBytes {
		return b.flush()
	}
	return nil
}

func (b *batch) flush() error {
	if b.n == 0 {
		return nil
	}
	if err := b.commit(b.buf, b.n, b.at); err != nil {
		return &abortError{err}
	}
	b.buf, b.n = b.buf[:0], 0
	return nil
}

// append hands one batch to the sink, retrying any failure with backoff
// (retryMin doubling to retryMax) until it succeeds or ctx ends: a batch
// is never skipped. With a buffer.MarkedSink, next (path's entry once the batch
// is in) goes with it as a mark, each attempt with a seq of its own,
// which next keeps (see marks.go).
func (in *Input) append(ctx context.Context, tag string, buf []byte, n int, path string, next *entry) error {
	delay := in.retryMin
	for attempt := 1; ; attempt++ {
		var err error
		if in.marked != nil {
			in.seq++
			next.seq = in.seq
			err = in.marked.AppendMarked(ctx, tag, buf, buffer.Mark{Source: in.markPrefix + path, Seq: in.seq, Value: appendEntry(nil, path, next)})
		} else {
			err = in.sink.Append(ctx, tag, buf)
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		in.stats.appendErrors.Add(1)
		in.log.Warn("append failed; retrying", "tag", tag, "records", n, "bytes", len(buf),
			"attempt", attempt, "retry_in", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, in.retryMax)
	}
}
