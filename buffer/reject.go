package buffer

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/barge-dev/barge/buffer/event"
)

// Reject is one record of a chunk that an output can never write: the
// encoder refused it (for example a value it cannot represent). Retrying
// cannot help, so the buffer sets it aside alone.
type Reject struct {
	Tag string // the tag of the frame the record came from
	// Entry is the record's [time, record] entry, copied out of the chunk
	// (or, when the entry itself cannot be parsed, the rest of its frame).
	Entry  []byte
	Reason string // why the output refused it
}

// rejectedError is what Rejected returns.
type rejectedError struct{ records []Reject }

func (e *rejectedError) Error() string {
	if len(e.records) == 1 {
		return "1 record rejected: " + e.records[0].Reason
	}
	return "records rejected: " + e.records[0].Reason
}

// Rejected is what a Flusher returns when it wrote every record of the
// chunk to its destination except rs, which it can never write. The buffer
// then treats the chunk as flushed, and sets the rejected records aside in
// a chunk of their own (to the <secondary>, or failed/), counted in
// Stats.Rejected and logged with their tag and reason. Rejected(nil) is nil.
// When no record of a chunk could be written, return Permanent instead.
func Rejected(rs []Reject) error {
	if len(rs) == 0 {
		return nil
	}
	return &rejectedError{records: rs}
}

// RejectedRecords returns the records carried by a Rejected error (or an
// error wrapping one).
func RejectedRecords(err error) ([]Reject, bool) {
	var r *rejectedError
	if errors.As(err, &r) {
		return r.records, true
	}
	return nil, false
}

// The records of a Rejected error are set aside in a chunk of their own
// before the chunk they came from is purged: one frame per record, with
// its tag, in a chunk whose id derives from the parent's (rejectID), so a
// flush repeated after a crash writes the same file or object again. The
// chunk goes to the <secondary>; when there is none or it fails (or
// rejects records itself), a file buffer writes it to failed/ as a chunk
// file (fsynced) and a memory buffer drops it with a log line.

// rejectID is the id of the chunk of the records rejected from the chunk
// with id parent.
func rejectID(parent string) string {
	sum := sha256.Sum256([]byte(parent + "/rejected"))
	return hex.EncodeToString(sum[:16])
}

// rejectChunk builds the in-memory chunk of rs, rejected from parent.
func rejectChunk(parent *Chunk, rs []Reject) *Chunk {
	rc := &Chunk{ID: rejectID(parent.ID), Tag: parent.Tag, Keys: parent.Keys, TimeKey: parent.TimeKey,
		Created: parent.Created, state: inFlight}
	ms := &memStore{}
	var frame []byte
	for i, r := range rs {
		t := entryNanos(r.Entry, parent.fnano)
		if i == 0 {
			rc.fnano, rc.lnano = t, t
		}
		rc.fnano, rc.lnano = min(rc.fnano, t), max(rc.lnano, t)
		tag := r.Tag
		if len(tag) > maxTagLen {
			tag = tag[:maxTagLen]
		}
		frame = appendFrame(frame[:0], tag, r.Entry, 1, t, t)
		ms.write(frame)
		rc.Records++
		rc.Size += int64(len(r.Entry))
	}
	rc.First, rc.Last = time.Unix(0, rc.fnano), time.Unix(0, rc.lnano)
	rc.st = ms
	return rc
}

// entryNanos is the event time of a [time, record] entry, or def when it
// cannot be read.
func entryNanos(e []byte, def int64) int64 {
	rest, err := event.ReadHead(e)
	if err != nil {
		return def
	}
	_, sec, nsec, err := event.ReadTime(rest)
	if err != nil {
		return def
	}
	return sec*1e9 + nsec
}

// keepRejects makes the records rs rejected from parent durable apart,
// counts and logs them: to the secondary if there is one (unless it is
// the secondary that rejected them), else to failed/. A memory buffer
// without a secondary that takes them drops them. An error means they are
// not kept: parent must not be purged.
func (b *Buffer) keepRejects(ctx context.Context, parent *Chunk, rs []Reject, bySecondary bool) error {
	rc := rejectChunk(parent, rs)
	by := "output"
	if bySecondary {
		by = "secondary"
	}
	attrs := []any{"chunk_id", parent.ID, "reject_chunk_id", rc.ID, "records", len(rs), "reasons", rejectReasons(rs)}
	var secErr error
	if b.opts.Errors != nil {
		if secErr = b.opts.Errors.Flush(ctx, rc); secErr == nil {
			b.countRejects(len(rs))
			b.log.Warn("records rejected by the "+by+" were sent to <label @ERROR>", attrs...)
			return nil
		}
		attrs = append(attrs, "err", secErr)
	}
	if !bySecondary && b.opts.Secondary != nil {
		if secErr = b.opts.Secondary.Flush(ctx, rc); secErr == nil {
			b.countRejects(len(rs))
			b.log.Warn("records rejected by the output were written to the secondary in a chunk of their own", attrs...)
			return nil
		}
		attrs = append(attrs, "err", secErr)
	}
	if !b.file {
		b.countRejects(len(rs))
		b.log.Error("records rejected by the "+by+" were dropped: a memory buffer has no failed/", attrs...)
		return nil
	}
	p, err := b.writeFailedChunk(rc)
	if err != nil {
		return fmt.Errorf("keep %d rejected records in failed/: %w", len(rs), errors.Join(secErr, err))
	}
	b.countRejects(len(rs))
	b.log.Warn("records rejected by the "+by+" were kept in failed/ in a chunk of their own", append(attrs, "path", p)...)
	return nil
}

func (b *Buffer) countRejects(n int) {
	b.mu.Lock()
	b.stats.Rejected += int64(n)
	b.mu.Unlock()
}

// writeFailedChunk writes the memory chunk rc into failed/ as a chunk file
// (q<ID>.chunk, through a temporary file, fsynced) and returns its path.
func (b *Buffer) writeFailedChunk(rc *Chunk) (string, error) {
	dir := filepath.Join(b.cfg.Path, "failed")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	to := chunkPath(dir, "q", rc.ID)
	tmp := to + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return "", err
	}
	w := bufio.NewWriterSize(f, 64<<10)
	_, err = w.Write(encodeHeader(rc, b.keys.tag, b.keys.time))
	for _, fr := range rc.st.(*memStore).frames {
		if err != nil {
			break
		}
		_, err = w.Write(fr)
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err == nil {
		err = os.Rename(tmp, to)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("write %s: %w", to, err)
	}
	return to, nil
}

// Reasons and tags may come from clients: the log line lists at most
// maxReasons distinct (tag, reason) pairs, each value cut to maxLogValue
// bytes with its full length noted.
const (
	maxReasons  = 10
	maxLogValue = 256
)

// rejectReasons summarises rs for the log: each distinct tag and reason
// with its number of records.
func rejectReasons(rs []Reject) string {
	type key struct{ tag, reason string }
	var order []key
	count := make(map[key]int)
	for _, r := range rs {
		k := key{r.Tag, r.Reason}
		if count[k] == 0 {
			order = append(order, k)
		}
		count[k]++
	}
	var sb strings.Builder
	for i, k := range order {
		if i == maxReasons {
			fmt.Fprintf(&sb, "; and %d more", len(order)-maxReasons)
			break
		}
		if i > 0 {
			sb.WriteString("; ")
		}
		fmt.Fprintf(&sb, "tag=%s reason=%s records=%d", logValue(k.tag), logValue(k.reason), count[k])
	}
	return sb.String()
}

// logValue quotes s, cut to maxLogValue bytes (at a character boundary)
// with its full length noted.
func logValue(s string) string {
	if len(s) <= maxLogValue {
		return strconv.Quote(s)
	}
	cut := maxLogValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "...(" + strconv.Itoa(len(s)) + " bytes)"
}
