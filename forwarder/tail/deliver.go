package tail

import (
	"context"
	"time"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

// maxBatch bounds the entries of one Append, and the bytes read from one
// file in one turn.
const maxBatch = 1 << 20

// turn reads up to read_lines_limit lines (or about maxBatch bytes) of fl,
// appends their entries and commits the position. done is true when the
// file was rotated away, rotate_wait passed and it was read to its end:
// it is to be closed. An error is ctx's: the batch was not delivered and
// the position did not move.
func (t *Tailer) turn(ctx context.Context, fl *follower) (progress, done bool, err error) {
	if t.unsynced {
		// Files followed since the last sync are named in the pos_file
		// before anything of them is appended (see follow).
		t.sync()
		t.unsynced = false
	}
	now := t.now()
	budget := t.budget(fl, now)
	if budget <= 0 {
		return false, false, nil // read_bytes_limit_per_second reached
	}
	batch := t.batch[:0]
	lines, from, eof := 0, fl.next, false
	defer func() { fl.window.bytes += fl.next - from }()
	for lines < t.cfg.ReadLinesLimit && len(batch) < maxBatch && fl.next-from < budget {
		line, start, ok, err := t.nextLine(fl)
		if err != nil {
			t.counters.errors.Add(1)
			t.log.Error("read failed; tried again at the next reconcile", "path", fl.path, "err", err)
			fl.idle = fl.rotated.IsZero()
			break
		}
		if !ok {
			eof = true
			break
		}
		lines++
		batch = t.line(batch, fl, line, start, now)
	}
	if lines > 0 {
		fl.lastLine = now
	}
	progress = lines > 0 || fl.next != from
	if eof {
		fl.idle = fl.rotated.IsZero()
		if !fl.rotated.IsZero() && now.Sub(fl.rotated) >= t.cfg.RotateWait {
			if line, start, ok := fl.partial(); ok {
				t.counters.bytes.Add(uint64(len(line)))
				batch = t.line(batch, fl, line, start, now)
			}
			done = true
		}
	}
	if fl.parser.Held() > 0 && (done || t.flushDue(fl, now)) {
		n := len(batch)
		batch = fl.parser.Flush(batch, now)
		first := fl.next
		if len(fl.starts) > 0 {
			first = fl.starts[0]
		}
		batch = t.addKeys(batch, n, fl, first)
		fl.starts = fl.starts[:0]
	}
	pos := fl.next
	if len(fl.starts) > 0 {
		pos = fl.starts[0]
	}
	if len(batch) > 0 {
		if err := t.deliver(ctx, fl.tag, batch, Entry{Path: fl.key, Offset: pos, ID: fl.id}); err != nil {
			return false, false, err
		}
		t.countParser(fl)
	}
	if len(batch) <= maxBatch {
		t.batch = batch[:0]
	}
	if pos != fl.committed {
		t.commit(fl, pos)
	}
	t.store.SetSeq(t.seq)
	if eof {
		fl.release()
	}
	return progress, done, nil
}

// budget is how many bytes fl may be read for now: maxBatch, or less
// when read_bytes_limit_per_second is set (counted per second of now).
func (t *Tailer) budget(fl *follower, now time.Time) int64 {
	bps := t.cfg.BytesPerSecond()
	if bps < 0 {
		return maxBatch
	}
	if now.Sub(fl.window.start) >= time.Second || now.Before(fl.window.start) {
		fl.window.start, fl.window.bytes = now, 0
	}
	return min(maxBatch, bps-fl.window.bytes)
}

func (t *Tailer) flushDue(fl *follower, now time.Time) bool {
	d := t.cfg.Parse.FlushInterval()
	return d > 0 && now.Sub(fl.lastLine) >= d
}

// line gives one line to fl's parser, appends what it completes to batch
// and keeps the start offsets of the lines it holds.
func (t *Tailer) line(batch []byte, fl *follower, line []byte, start int64, now time.Time) []byte {
	t.counters.lines.Add(1)
	if t.latin1 {
		t.conv = appendLatin1(t.conv[:0], line)
		line = t.conv
	}
	first := start // the record's first line, for offset_key
	if len(fl.starts) > 0 {
		first = fl.starts[0]
	}
	n := len(batch)
	batch = fl.parser.Line(batch, line, now)
	batch = t.addKeys(batch, n, fl, first)
	fl.starts = append(fl.starts, start)
	switch h := fl.parser.Held(); {
	case h == 0:
		fl.starts = fl.starts[:0]
	case h < len(fl.starts):
		fl.starts = fl.starts[:copy(fl.starts, fl.starts[len(fl.starts)-h:])]
	}
	return batch
}

// addKeys adds path_key and offset_key to the records of the entries at
// batch[n:]: each map's header is rewritten with the new count.
func (t *Tailer) addKeys(batch []byte, n int, fl *follower, offset int64) []byte {
	pk, ok := t.cfg.PathKey, t.cfg.OffsetKey
	if (pk == "" && ok == "") || len(batch) == n {
		return batch
	}
	extra := uint32(0)
	if pk != "" {
		extra++
	}
	if ok != "" {
		extra++
	}
	seg := append(t.scratch[:0], batch[n:]...)
	t.scratch = seg[:0]
	batch = batch[:n]
	for len(seg) > 0 {
		e, rest, err := event.Next(seg)
		if err != nil {
			return append(batch, seg...) // not ours to fix: the parser checks its records
		}
		sz, body, err := msgp.ReadMapHeaderBytes(e.Record)
		if err != nil {
			return append(batch, seg...)
		}
		batch = append(append(batch, 0x92), e.RawTime...)
		batch = msgp.AppendMapHeader(batch, sz+extra)
		batch = append(batch, body...)
		if pk != "" {
			batch = msgp.AppendString(msgp.AppendString(batch, pk), fl.path)
		}
		if ok != "" {
			batch = msgp.AppendInt64(msgp.AppendString(batch, ok), offset)
		}
		seg = rest
	}
	return batch
}

// deliver appends batch, retrying with backoff until Append returns nil
// or ctx is done. With a buffer.MarkedSink, pos (the position after batch) goes
// with it as a mark (see marks.go); each attempt has a seq of its own.
func (t *Tailer) deliver(ctx context.Context, tag string, batch []byte, pos Entry) error {
	wait := t.retryMin
	for {
		var err error
		if t.marked != nil {
			err = t.marked.AppendMarked(ctx, tag, batch, t.mark(pos))
		} else {
			err = t.sink.Append(ctx, tag, batch)
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.counters.errors.Add(1)
		t.log.Warn("append failed; retrying", "tag", tag, "bytes", len(batch), "err", err, "retry_in", wait)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
		wait = min(2*wait, t.retryMax)
	}
}

// commit records fl's position: every line before pos was appended (or
// skipped) and none is held. A file rotated away sets the position of its
// own key (see rotatedAway).
func (t *Tailer) commit(fl *follower, pos int64) {
	if t.setPosition(fl, pos) {
		fl.committed = pos
	}
}

// setPosition sets pos as the position of fl's key.
func (t *Tailer) setPosition(fl *follower, pos int64) bool {
	if err := t.store.Set(Entry{Path: fl.key, Offset: pos, ID: fl.id}); err != nil {
		t.counters.errors.Add(1)
		t.log.Error("set position", "path", fl.path, "err", err)
		return false
	}
	return true
}
