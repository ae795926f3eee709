package buffer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Mark is an input's position in what it reads (a tailed file's offset),
// stored by AppendMarked in the same frames as the entries it covers. After
// a crash the buffer holds an append's entries and its mark together or
// neither, so an input that resumes from its latest mark (Marks) neither
// loses nor repeats a record. The buffer does not interpret a mark.
type Mark struct {
	// Source names what the mark is a position in; it is unique across
	// the inputs of a process (an input prefixes its own name).
	Source string
	// Seq grows with every AppendMarked of an input: of two marks of one
	// source, the one with the greater Seq is the later.
	Seq uint64
	// Value is the position, in the input's own encoding.
	Value []byte
}

const (
	maxMarkSource = 4 << 10
	maxMarkValue  = 64 << 10
	// marksName is the file, in the buffer directory, that keeps the
	// latest mark of every source whose last frame left the buffer.
	marksName   = "marks"
	marksHeader = "# barge-buffer-marks 1"
	// A mark not committed again for marksKeep is dropped from the marks
	// file once no chunk can hold its frames (see snapshotMarks).
	marksKeep = 7 * 24 * time.Hour
)

// markState is a source's latest committed mark.
type markState struct {
	seq   uint64
	value []byte
	at    time.Time // when it was committed (or recovered)
}

// MarkedSink is what an input that keeps its positions in the buffer
// appends to: a *Buffer, or cmd/barge's router, which hands each mark to
// the buffer of the match its entries go to.
type MarkedSink interface {
	Append(ctx context.Context, tag string, entries []byte) error
	AppendMarked(ctx context.Context, tag string, entries []byte, m Mark) error
	Marks(prefix string) []Mark
}

var _ MarkedSink = (*Buffer)(nil)

// AppendMarked is Append, storing m with the entries: when it returns nil,
// the entries and m are durable together (as Append's entries are); after
// a crash before it returned, recovery drops whatever part of them reached
// the chunk files, and Marks gives the mark before m. The entries must fit
// one batch of Append (64 Ki entries, about 8 MiB). Appending nothing
// stores nothing, m included.
//
// One case keeps a prefix of a failed AppendMarked: a write error part way
// (a full disk) in a process that goes on; its frames are flushed as
// Append's would be, so an input that retries may repeat that prefix.
func (b *Buffer) AppendMarked(ctx context.Context, tag string, entries []byte, m Mark) error {
	switch {
	case m.Source == "" || len(m.Source) > maxMarkSource:
		return fmt.Errorf("buffer: mark source of %d bytes (1 to %d)", len(m.Source), maxMarkSource)
	case len(m.Value) > maxMarkValue:
		return fmt.Errorf("buffer: mark value of %d bytes (at most %d)", len(m.Value), maxMarkValue)
	}
	return b.append(ctx, tag, entries, &m)
}

// Marks returns the latest committed mark of every source that starts
// with prefix, sorted by source.
func (b *Buffer) Marks(prefix string) []Mark {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Mark
	for src, st := range b.marks {
		if strings.HasPrefix(src, prefix) {
			out = append(out, Mark{Source: src, Seq: st.seq, Value: bytes.Clone(st.value)})
		}
	}
	slices.SortFunc(out, func(x, y Mark) int { return strings.Compare(x.Source, y.Source) })
	return out
}

// committed records m as its source's latest mark. Called with b.mu held.
func (b *Buffer) committed(m Mark) {
	if cur, ok := b.marks[m.Source]; ok && cur.seq > m.Seq {
		return
	}
	b.marks[m.Source] = markState{seq: m.Seq, value: bytes.Clone(m.Value), at: b.clock.Now()}
}

// keepMarks saves the marks file before c, which holds the last frame of
// a marked append, leaves the buffer (flushed, dropped, moved to failed/):
// the frames of that append in other chunks stay committed without it.
// The file holds every mark known, so it is never older than c's.
func (b *Buffer) keepMarks(c *Chunk) error {
	if !c.commits || !b.file {
		return nil
	}
	b.marksMu.Lock()
	defer b.marksMu.Unlock()
	data := b.snapshotMarks()
	path := filepath.Join(b.cfg.Path, marksName)
	tmp := path + ".tmp"
	if err := writeFileSync(tmp, data, b.cfg.Fsync); err != nil {
		return fmt.Errorf("save marks %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save marks: %w", err)
	}
	if b.cfg.Fsync {
		if err := syncDir(b.cfg.Path); err != nil {
			return fmt.Errorf("save marks: %w", err)
		}
	}
	return nil
}

// snapshotMarks encodes every mark, one line each:
// SEQ<TAB>UNIX_NANO<TAB>QUOTED_SOURCE<TAB>HEX_VALUE. Marks older than
// marksKeep and than every chunk held are dropped first.
func (b *Buffer) snapshotMarks() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	oldest := b.clock.Now()
	for _, c := range b.staged {
		oldest = minTime(oldest, c.Created)
	}
	for _, c := range b.queue {
		oldest = minTime(oldest, c.Created)
	}
	cut := oldest.Add(-marksKeep)
	srcs := make([]string, 0, len(b.marks))
	for src, st := range b.marks {
		if st.at.Before(cut) {
			delete(b.marks, src)
			continue
		}
		srcs = append(srcs, src)
	}
	slices.Sort(srcs)
	out := append([]byte(marksHeader), '\n')
	for _, src := range srcs {
		st := b.marks[src]
		out = strconv.AppendUint(out, st.seq, 10)
		out = append(out, '\t')
		out = strconv.AppendInt(out, st.at.UnixNano(), 10)
		out = append(out, '\t')
		out = strconv.AppendQuote(out, src)
		out = append(out, '\t')
		out = hex.AppendEncode(out, st.value)
		out = append(out, '\n')
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// loadMarks merges the marks file into b.marks. A file that does not
// parse is moved to corrupt/ and reported: the marks in the chunks still
// count, and an input falls back on its own position file.
func (b *Buffer) loadMarks() {
	path := filepath.Join(b.cfg.Path, marksName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err == nil {
		err = b.parseMarks(data)
	}
	if err != nil {
		to, merr := b.moveCorrupt(path, "")
		b.log.Error("unreadable marks file moved aside; inputs resume from their own position files",
			"path", path, "moved_to", to, "err", errors.Join(err, merr))
	}
}

func (b *Buffer) parseMarks(data []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 2*maxMarkValue+2*maxMarkSource+64)
	if !sc.Scan() || sc.Text() != marksHeader {
		return errors.New("no header line")
	}
	got := make(map[string]markState)
	for n := 2; sc.Scan(); n++ {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 {
			return fmt.Errorf("line %d: %d fields, want 4", n, len(f))
		}
		seq, err1 := strconv.ParseUint(f[0], 10, 64)
		at, err2 := strconv.ParseInt(f[1], 10, 64)
		src, err3 := strconv.Unquote(f[2])
		val, err4 := hex.DecodeString(f[3])
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		got[src] = markState{seq: seq, value: val, at: time.Unix(0, at)}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	for src, st := range got {
		if cur, ok := b.marks[src]; !ok || cur.seq < st.seq {
			b.marks[src] = st
		}
	}
	return nil
}

// markedFrame is a frame of a marked append found by recovery at the end
// of a chunk file.
type markedFrame struct {
	off     int64 // where the frame starts in the file
	records int
	size    int64 // entry bytes
	source  string
	seq     uint64
}

// dropUncommitted cuts off the frames at the end of c's file (run, in
// file order) whose marked append never committed: the append did not
// return, and its input reads those records again. Frames of a failed
// append followed by later frames are kept (see AppendMarked). It returns
// the records dropped.
func (b *Buffer) dropUncommitted(c *Chunk, run []markedFrame) (int, error) {
	k := len(run)
	for k > 0 {
		f := run[k-1]
		if st, ok := b.marks[f.source]; ok && st.seq >= f.seq {
			break
		}
		k--
	}
	if k == len(run) {
		return 0, nil
	}
	st := c.st.(*fileStore)
	cut := run[k].off
	if err := st.f.Truncate(cut); err != nil {
		return 0, fmt.Errorf("cut uncommitted frames of chunk %s: %w", c.ID, err)
	}
	if b.cfg.Fsync {
		if err := st.f.Sync(); err != nil {
			return 0, fmt.Errorf("cut uncommitted frames of chunk %s: %w", c.ID, err)
		}
	}
	st.size.Store(cut)
	dropped := 0
	for _, f := range run[k:] {
		dropped += f.records
		c.Records -= f.records
		c.Size -= f.size
	}
	return dropped, nil
}

// writeFileSync writes data to a new file at path, fsynced when sync.
func writeFileSync(path string, data []byte, sync bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// PickMarks merges the marks of several sinks: one per source, the one
// prefer(m, over) chooses over the others, sorted by source. A router takes
// the latest of a source (routes changed between runs), a copy to several
// stores the earliest (so that no store is skipped).
func PickMarks(sinks []MarkedSink, prefix string, prefer func(m, over Mark) bool) []Mark {
	picked := map[string]Mark{}
	for _, s := range sinks {
		for _, m := range s.Marks(prefix) {
			if cur, ok := picked[m.Source]; !ok || prefer(m, cur) {
				picked[m.Source] = m
			}
		}
	}
	out := make([]Mark, 0, len(picked))
	for _, m := range picked {
		out = append(out, m)
	}
	slices.SortFunc(out, func(x, y Mark) int { return strings.Compare(x.Source, y.Source) })
	return out
}
