package buffer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/barge-dev/barge/buffer/event"
)

// Append stores entries, a canonical msgpack stream of [time, record]
// entries, in the staged chunks for their metadata. entries is copied. A
// nil error means the entries are durable: written to the chunk file with
// write(2) for a file buffer (and fsynced when fsync is on), in memory for
// a memory buffer. A malformed stream stores nothing. On any other error
// nothing or a prefix was stored: the caller retries, and duplicates are
// possible.
//
// The stream is taken in batches of at most batchEntries entries or about
// batchBytes bytes, each written as its own frames, so the memory Append
// uses does not grow with the stream.
func (b *Buffer) Append(ctx context.Context, tag string, entries []byte) error {
	return b.append(ctx, tag, entries, nil)
}

// append is Append, and AppendMarked when m is not nil.
func (b *Buffer) append(ctx context.Context, tag string, entries []byte, m *Mark) error {
	if len(entries) == 0 {
		return nil
	}
	if len(tag) > maxTagLen {
		return fmt.Errorf("%w: tag of %d bytes", event.ErrEntry, len(tag))
	}
	sc := b.getScan()
	defer b.putScan(sc)
	n, err := sc.parse(entries, 0, tag, &b.keys)
	if err != nil {
		return err
	}
	if m != nil {
		if n < len(entries) {
			return fmt.Errorf("buffer: a marked append of %d bytes is more than one batch (%d entries, %d bytes)", len(entries), batchEntries, batchBytes)
		}
		sc.mark = appendMark(sc.mark[:0], *m)
		defer func() { sc.mark = nil }()
	}
	if n < len(entries) {
		// More than one batch: check the rest before writing any (the
		// check leaves the first batch's parse as it is).
		if err := sc.check(entries[n:], n, &b.keys); err != nil {
			return err
		}
	}
	records := int64(0)
	for off := 0; ; {
		batch := entries[off : off+n]
		last := off+n == len(entries)
		b.mu.Lock()
		err := b.reserve(ctx, int64(n))
		for m := 0; err == nil && m < len(sc.metas); m++ {
			err = b.writeMeta(sc, tag, batch, m)
		}
		records += int64(len(sc.ends))
		if err == nil && m != nil {
			b.committed(*m)
		}
		if err == nil && last {
			b.stats.Appends++
			b.stats.Records += records
		}
		b.mu.Unlock()
		if err != nil {
			return err
		}
		if last {
			break
		}
		off += n
		if n, err = sc.parse(entries[off:], off, tag, &b.keys); err != nil {
			return err // checked above: not reached
		}
	}
	if !b.cfg.Fsync || !b.file {
		return nil
	}
	return b.sync.sync(ctx, sc.syncs)
}

// reserve waits, drops or fails until n more bytes fit in total_limit_size.
// Called and returns with b.mu held.
func (b *Buffer) reserve(ctx context.Context, n int64) error {
	for {
		switch {
		case b.closed:
			return ErrClosed
		case !b.opened:
			return errors.New("buffer: not open")
		}
		cur := b.stats.total()
		if cur == 0 || cur+n <= b.cfg.TotalLimitSize {
			return nil
		}
		switch b.cfg.OverflowAction {
		case "block":
			if len(b.queue) == 0 && b.inflight == 0 {
				// Only staged chunks hold the space (many metadata, lazy
				// mode): queue the oldest so the flush workers free it.
				if c := b.oldestStaged(); c != nil {
					b.enqueueLocked(c)
				}
			}
			w := b.space.wait()
			b.mu.Unlock()
			select {
			case <-w:
				b.mu.Lock()
			case <-ctx.Done():
				b.mu.Lock()
				return fmt.Errorf("%w: %w", ErrFull, ctx.Err())
			}
		case "drop_oldest_chunk":
			if len(b.queue) == 0 {
				return fmt.Errorf("%w: %d of %d bytes used and no queued chunk to drop", ErrFull, cur, b.cfg.TotalLimitSize)
			}
			// The oldest: failed chunks go to the back, so not always the first.
			i := 0
			for j, q := range b.queue {
				if q.Created.Before(b.queue[i].Created) {
					i = j
				}
			}
			c := b.queue[i]
			b.queue = slices.Delete(b.queue, i, i+1)
			b.forgetLocked(c)
			b.stats.Dropped++
			b.log.Warn("buffer full: dropped the oldest chunk", "chunk_id", c.ID, "records", c.Records, "bytes", c.Size)
			b.tasks.Add(1)
			go func() {
				defer b.tasks.Done()
				if err := b.keepMarks(c); err != nil {
					b.log.Error("dropped chunk: marks not saved", "chunk_id", c.ID, "err", err)
				}
				if err := c.st.purge(); err != nil {
					b.log.Error("delete dropped chunk", "chunk_id", c.ID, "err", err)
				}
			}()
		default:
			return fmt.Errorf("%w: %d of %d bytes used", ErrFull, cur, b.cfg.TotalLimitSize)
		}
	}
}

// writeMeta writes the entries of meta m to its staged chunk, starting new
// chunks so chunk_limit_size and chunk_limit_records hold: one frame per
// chunk, contiguous entries copied in one piece.
func (b *Buffer) writeMeta(sc *scan, tag string, entries []byte, m int) error {
	limit, limitRec := b.cfg.ChunkLimitSize, b.cfg.ChunkLimitRecords
	for i := int(sc.metas[m].head); i >= 0; {
		c, err := b.stagedFor(sc, tag, m)
		if err != nil {
			b.writeFailed(err)
			return err
		}
		sc.frame = beginFrame(sc.frame[:0], tag, sc.mark)
		var size int64
		n, from, to := 0, 0, 0 // [from, to): the contiguous bytes not yet copied
		first, last := sc.nanos[i], sc.nanos[i]
		for i >= 0 {
			start, end := entryStart(sc, i), sc.ends[i]
			sz := int64(end - start)
			if c.Size+size+sz > limit || (limitRec > 0 && c.Records+n >= limitRec) {
				if n > 0 || c.Records > 0 {
					break
				}
				// An entry larger than the limit gets a chunk of its own.
				b.stats.Oversized++
				b.log.Warn("entry larger than chunk_limit_size", "tag", tag, "bytes", sz, "chunk_id", c.ID)
			}
			if start != to {
				sc.frame = append(sc.frame, entries[from:to]...)
				from = start
			}
			to = end
			first, last = min(first, sc.nanos[i]), max(last, sc.nanos[i])
			size += sz
			n++
			i = int(sc.next[i])
		}
		if n == 0 {
			b.enqueueLocked(c)
			continue
		}
		sc.frame = append(sc.frame, entries[from:to]...)
		final := sc.mark != nil && m == len(sc.metas)-1 && i < 0
		if final {
			sc.frame[frameHead+frameFixed+len(tag)] = markCommit
		}
		sc.frame = endFrame(sc.frame, n, first, last)
		if b.cfg.Compress == "gzip" {
			if sc.frame, err = sc.gz.frame(sc.frame); err != nil {
				return err
			}
		}
		if err := c.st.write(sc.frame); err != nil {
			b.writeFailed(err)
			if errors.Is(err, errTornWrite) {
				b.seal(c)
			}
			return err
		}
		b.writeDone()
		b.added(c, size, n, first, last)
		c.commits = c.commits || final
		if b.file && b.cfg.Fsync && !containsStore(sc.syncs, c.st) {
			sc.syncs = append(sc.syncs, c.st)
		}
		if b.full(c) || b.mode == "immediate" || i >= 0 {
			b.enqueueLocked(c)
		}
	}
	return nil
}

func entryStart(sc *scan, i int) int {
	if i == 0 {
		return 0
	}
	return sc.ends[i-1]
}

// added accounts for a frame written to c.
func (b *Buffer) added(c *Chunk, size int64, records int, first, last int64) {
	if c.Records == 0 {
		c.fnano, c.lnano = first, last
	} else {
		c.fnano, c.lnano = min(c.fnano, first), max(c.lnano, last)
	}
	c.Size += size
	c.Records += records
	c.First, c.Last = time.Unix(0, c.fnano), time.Unix(0, c.lnano)
	b.stats.StagedBytes += size
}

// full reports whether c reached chunk_limit_size or chunk_limit_records
// times chunk_full_threshold, as Fluentd's chunk_size_full?.
func (b *Buffer) full(c *Chunk) bool {
	th := b.cfg.ChunkFullThreshold
	if float64(c.Size) >= float64(b.cfg.ChunkLimitSize)*th {
		return true
	}
	return b.cfg.ChunkLimitRecords > 0 && float64(c.Records) >= float64(b.cfg.ChunkLimitRecords)*th
}

// stagedFor returns the staged chunk for meta m of the scan, creating it.
func (b *Buffer) stagedFor(sc *scan, tag string, m int) (*Chunk, error) {
	var key []byte
	var c *Chunk
	switch {
	case b.keys.routes():
		key = sc.key(m)
		c = b.staged[string(key)]
	case b.keys.tag:
		c = b.staged[tag]
	default:
		c = b.staged[""]
	}
	if c != nil {
		return c, nil
	}
	c = &Chunk{ID: newID(), meta: string(key), Created: b.clock.Now()}
	if !b.keys.routes() && b.keys.tag {
		c.meta = tag
	}
	if b.keys.tag {
		c.Tag = tag
	}
	if b.keys.routes() {
		c.TimeKey, c.Keys = b.decodeKey(key, len(c.Tag))
	}
	if b.file {
		st, err := createFile(b.cfg.Path, c, b.keys.tag, b.keys.time, b.cfg.Fsync)
		if err != nil {
			return nil, fmt.Errorf("create chunk: %w", err)
		}
		c.st = st
	} else {
		c.st = &memStore{}
	}
	b.staged[c.meta] = c
	b.stats.StagedChunks++
	b.timers.broadcast()
	return c, nil
}

// decodeKey reads the timekey and record values back from a routing key:
// [tag] 0 | u64 timekey | (u32 len + value) per record key.
func (b *Buffer) decodeKey(key []byte, tagLen int) (time.Time, map[string]string) {
	key = key[tagLen+1:]
	var tk time.Time
	if b.keys.time {
		tk = time.Unix(int64(binary.BigEndian.Uint64(key)), 0).In(b.keys.loc)
	}
	key = key[8:]
	if len(b.keys.records) == 0 {
		return tk, nil
	}
	vals := make(map[string]string, len(b.keys.records))
	for _, name := range b.keys.records {
		l := int(binary.BigEndian.Uint32(key))
		vals[name] = string(key[4 : 4+l])
		key = key[4+l:]
	}
	return tk, vals
}

// enqueueLocked moves a staged chunk to the queue. The file is renamed to
// q<ID> by the flush worker, outside the lock.
func (b *Buffer) enqueueLocked(c *Chunk) {
	if c.state != staged {
		return
	}
	if b.staged[c.meta] == c {
		delete(b.staged, c.meta)
	}
	c.state = queued
	b.queue = append(b.queue, c)
	b.stats.StagedChunks--
	b.stats.StagedBytes -= c.Size
	b.stats.QueuedChunks++
	b.stats.QueuedBytes += c.Size
	b.work.broadcast()
}

// forgetLocked removes a queued or in-flight chunk from the accounting.
func (b *Buffer) forgetLocked(c *Chunk) {
	c.state = gone
	b.stats.QueuedChunks--
	b.stats.QueuedBytes -= c.Size
	b.space.broadcast()
	b.timers.broadcast()
}

func (b *Buffer) oldestStaged() *Chunk {
	var old *Chunk
	for _, c := range b.staged {
		if old == nil || c.Created.Before(old.Created) {
			old = c
		}
	}
	return old
}
