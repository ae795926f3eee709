package buffer

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Run flushes queued chunks with flush_thread_count workers and enqueues
// staged chunks when flush_interval or timekey + timekey_wait pass. It
// returns when ctx is done and its goroutines ended.
func (b *Buffer) Run(ctx context.Context) error {
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return ErrClosed
	case !b.opened:
		b.mu.Unlock()
		return errors.New("buffer: Run before Open")
	case b.running:
		b.mu.Unlock()
		return errors.New("buffer: already running")
	}
	b.running = true
	b.mu.Unlock()
	var wg sync.WaitGroup
	for range b.cfg.FlushThreadCount {
		wg.Go(func() { b.worker(ctx, false) })
	}
	wg.Go(func() { b.enqueuer(ctx) })
	wg.Wait()
	return nil
}

// FlushNow queues every staged chunk and makes every queued chunk due at
// once, a chunk waiting for its own retry and the output's backoff
// included (one chunk probes it; a failure goes on with the backoff where
// it was). It is Fluentd's force flush (SIGUSR1); it returns at once, the
// flush workers do the flushing.
func (b *Buffer) FlushNow() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || !b.opened {
		return
	}
	for _, c := range b.staged {
		b.enqueueLocked(c)
	}
	for _, c := range b.queue {
		c.retryAt = time.Time{}
	}
	if b.retry.active {
		b.retry.next = b.clock.Now()
	}
	b.work.broadcast()
}

// Drain enqueues every staged chunk (when flush_at_shutdown) and flushes
// until the queue is empty or ctx ends. It flushes by itself, so it works
// with or without Run. What is not flushed stays on disk.
func (b *Buffer) Drain(ctx context.Context) error {
	if !b.cfg.FlushAtShutdown {
		return nil
	}
	b.mu.Lock()
	if b.closed || !b.opened {
		b.mu.Unlock()
		return nil
	}
	for _, c := range b.staged {
		b.enqueueLocked(c)
	}
	b.mu.Unlock()
	if !b.worker(ctx, true) {
		return ctx.Err()
	}
	return nil
}

// worker takes queued chunks and flushes them, honouring the output's
// backoff and each chunk's own (see retry.go). With drain it returns true
// once nothing is queued or in flight; otherwise it runs until ctx ends
// (returning false).
func (b *Buffer) worker(ctx context.Context, drain bool) bool {
	for {
		b.mu.Lock()
		if b.closed || ctx.Err() != nil {
			b.mu.Unlock()
			return false
		}
		if drain && len(b.queue) == 0 && b.inflight == 0 {
			b.mu.Unlock()
			return true
		}
		now := b.clock.Now()
		var wait time.Duration
		if b.retry.active {
			wait = b.retry.next.Sub(now)
		}
		i := -1
		// While backing off, one chunk at a time probes the output. A
		// settled buffer takes no more (Settle).
		if wait <= 0 && b.probe == nil && (drain || !b.settled) {
			i, wait = b.nextChunk(now)
		}
		if i < 0 {
			w := b.work.wait()
			b.mu.Unlock()
			if wait > 0 {
				sleep(ctx, b.clock, wait, w)
			} else {
				select {
				case <-w:
				case <-ctx.Done():
				}
			}
			continue
		}
		c := b.queue[i]
		b.queue = slices.Delete(b.queue, i, i+1)
		c.state = inFlight
		b.inflight++
		if b.retry.active {
			b.probe = c
		}
		b.timers.broadcast() // the queue shrank: interval enqueues may proceed
		b.mu.Unlock()
		b.flush(ctx, c)
	}
}

// nextChunk returns the index of the first queued chunk not waiting for
// its own retry at now, or -1 and how long until one is (0: none queued).
func (b *Buffer) nextChunk(now time.Time) (int, time.Duration) {
	var soonest time.Time
	for i, c := range b.queue {
		if !c.retryAt.After(now) {
			return i, 0
		}
		if soonest.IsZero() || c.retryAt.Before(soonest) {
			soonest = c.retryAt
		}
	}
	if soonest.IsZero() {
		return -1, 0
	}
	return -1, soonest.Sub(now)
}

// flush writes one in-flight chunk and settles it: purge on success (after
// setting aside the records the output rejected, if any), back of the
// queue after an error, secondary or failed/ when permanent or when this
// chunk is out of retries.
func (b *Buffer) flush(ctx context.Context, c *Chunk) {
	var took time.Duration // of the Flush call, for Stats.FlushTime
	err := c.st.enqueue()  // b<ID> -> q<ID>
	if err == nil {
		start := b.clock.Now()
		err = b.out.Flush(ctx, c)
		took = b.clock.Now().Sub(start)
	}
	rejected := 0
	if rs, ok := RejectedRecords(err); ok && !IsPermanent(err) {
		rejected = len(rs)
		err = b.keepRejects(ctx, c, rs, false) // nil once they are durable
	}
	if err == nil {
		b.purgeFlushed(c)
		b.mu.Lock()
		b.endProbe(c)
		b.retry.reset()
		b.stats.Flushed++
		b.stats.FlushedRecords += int64(c.Records - rejected)
		b.stats.FlushedBytes += c.Size
		b.stats.FlushTime.Observe(took)
		b.stats.LastFlush = b.clock.Now()
		b.done(c)
		b.mu.Unlock()
		return
	}
	if !IsPermanent(err) && ctx.Err() != nil {
		// Shutting down: keep the chunk queued, in its place, for Drain or
		// the next start.
		b.mu.Lock()
		b.endProbe(c)
		b.stats.FlushTime.Observe(took)
		b.requeue(c, true)
		b.mu.Unlock()
		return
	}
	giveUp := false
	b.mu.Lock()
	b.endProbe(c)
	now := b.clock.Now()
	b.stats.FlushTime.Observe(took)
	b.stats.noteError(err, now)
	switch {
	case IsPermanent(err):
		b.log.Error("flush failed permanently", "chunk_id", c.ID, "records", c.Records, "err", err)
		giveUp = true
	default:
		b.retry.fail(now)
		if giveUp = !b.retry.chunkFailed(c, now); giveUp {
			b.log.Error("flush failed and the chunk's retries are exhausted", "chunk_id", c.ID, "records", c.Records,
				"err", err, "retry_times", c.fails-1, "first_failure", c.firstFail)
			break
		}
		b.stats.Retries++
		next := c.retryAt
		if b.retry.next.After(next) {
			next = b.retry.next
		}
		b.log.Warn("flush failed; will retry", "chunk_id", c.ID, "err", err,
			"retry_times", c.fails, "next_retry", next)
		b.requeue(c, false)
	}
	b.mu.Unlock()
	if giveUp {
		b.setAside(ctx, c)
	}
}

func (b *Buffer) endProbe(c *Chunk) {
	if b.probe == c {
		b.probe = nil
		b.work.broadcast()
	}
}

// requeue puts an in-flight chunk back in the queue: at the front when it
// did not fail (shutdown), else at the back, behind the chunks that wait.
func (b *Buffer) requeue(c *Chunk, front bool) {
	c.state = queued
	if front {
		b.queue = slices.Insert(b.queue, 0, c)
	} else {
		b.queue = append(b.queue, c)
	}
	b.inflight--
	b.work.broadcast()
}

// done ends an in-flight chunk.
func (b *Buffer) done(c *Chunk) {
	b.inflight--
	b.forgetLocked(c)
	b.work.broadcast()
}

// setAside settles an in-flight chunk: it writes it to the secondary, or
// moves it to failed/ when there is none or it fails too. Records the
// secondary rejects go to failed/ in a chunk of their own. A memory chunk
// without secondary is lost: it is logged and counted.
func (b *Buffer) setAside(ctx context.Context, c *Chunk) {
	if b.opts.Secondary != nil {
		err := c.st.enqueue()
		if err == nil {
			err = b.opts.Secondary.Flush(ctx, c)
		}
		if rs, ok := RejectedRecords(err); ok && !IsPermanent(err) {
			err = b.keepRejects(ctx, c, rs, true)
		}
		if err == nil {
			b.purgeFlushed(c)
			b.mu.Lock()
			b.stats.Secondary++
			b.done(c)
			b.mu.Unlock()
			return
		}
		b.log.Error("secondary failed", "chunk_id", c.ID, "err", err)
	}
	if b.file {
		var p string
		err := b.keepMarks(c)
		if err == nil {
			p, err = c.st.moveTo(filepath.Join(b.cfg.Path, "failed"))
		} else {
			c.st.close() // kept in place: the next start retries it
		}
		if err != nil {
			b.log.Error("move chunk to failed/", "chunk_id", c.ID, "err", err)
		} else {
			b.log.Error("chunk kept in failed/", "chunk_id", c.ID, "path", p, "records", c.Records, "bytes", c.Size)
		}
	} else {
		_ = c.st.purge()
		b.log.Error("memory chunk dropped", "chunk_id", c.ID, "records", c.Records, "bytes", c.Size)
	}
	b.mu.Lock()
	b.stats.Failed++
	b.stats.FailedRecords += int64(c.Records)
	b.done(c)
	b.mu.Unlock()
}

// purgeFlushed deletes a flushed chunk's data, once the marks it commits
// are saved (see keepMarks). When they cannot be, the file is kept, closed,
// and the next start flushes it again: a duplicate, never a loss.
func (b *Buffer) purgeFlushed(c *Chunk) {
	if err := b.keepMarks(c); err != nil {
		c.st.close()
		b.log.Error("flushed chunk kept on disk, as the marks it commits could not be saved; the next start flushes it again", "chunk_id", c.ID, "err", err)
		return
	}
	if err := c.st.purge(); err != nil {
		b.log.Error("delete flushed chunk", "chunk_id", c.ID, "err", err)
	}
}

// enqueuer moves staged chunks to the queue when they are due.
func (b *Buffer) enqueuer(ctx context.Context) {
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return
		}
		next := b.enqueueDue(b.clock.Now())
		w := b.timers.wait()
		b.mu.Unlock()
		if next.IsZero() {
			select {
			case <-w:
			case <-ctx.Done():
			}
		} else {
			sleep(ctx, b.clock, next.Sub(b.clock.Now()), w)
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// enqueueDue enqueues the staged chunks that are due at now and returns the
// next due time (zero: none).
func (b *Buffer) enqueueDue(now time.Time) time.Time {
	var next time.Time
	soonest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	interval := b.mode == "interval"
	for _, c := range b.staged {
		if b.keys.time {
			due := c.TimeKey.Add(b.cfg.TimeKey + b.cfg.TimeKeyWait)
			if !now.Before(due) {
				b.enqueueLocked(c)
				continue
			}
			soonest(due)
		}
		if interval {
			due := c.Created.Add(b.cfg.flushInterval())
			if now.Before(due) {
				soonest(due)
				continue
			}
			if len(b.queue) >= b.cfg.queueLimit() {
				continue // woken again when the queue shrinks
			}
			b.enqueueLocked(c)
		}
	}
	return next
}
