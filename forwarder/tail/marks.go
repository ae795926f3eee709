package tail

import (
	"path/filepath"
	"strings"

	"github.com/barge-dev/barge/buffer"
)

// Positions kept by the buffer. When the sink is a buffer.MarkedSink
// (cmd/barge's router over file buffers) and there is a pos_file, a kill
// -9 at any moment neither loses nor repeats a line: the pos_file is
// written once a second, and the positions appended after its last write
// are taken back from the buffer at the next start.
//
// A mark's source is markPrefix (the tailer's: "tail", the pos_file's
// absolute path) and the position's key; its value is the position's
// pos_file line; its seq counts the tailer's marked appends, and the
// pos_file records the seq its positions hold (Store.Seq).

// takeMarks sets the positions that the buffer holds and the pos_file
// does not yet: those of the marks with a seq above the pos_file's.
// Called by Listen, once the store is open.
func (t *Tailer) takeMarks() {
	ms, ok := t.sink.(buffer.MarkedSink)
	if !ok || t.cfg.PosFile == "" {
		return
	}
	abs, err := filepath.Abs(t.cfg.PosFile)
	if err != nil {
		abs = t.cfg.PosFile
	}
	t.marked, t.markPrefix = ms, "tail\x00"+abs+"\x00"
	base := t.store.Seq()
	t.seq = base
	taken := 0
	for _, m := range ms.Marks(t.markPrefix) {
		t.seq = max(t.seq, m.Seq)
		if m.Seq <= base {
			continue
		}
		e, err := parseBargeLine(strings.TrimSuffix(string(m.Value), "\n"))
		if err == nil && e.Path == strings.TrimPrefix(m.Source, t.markPrefix) {
			err = t.store.Set(e)
		}
		if err != nil {
			t.counters.errors.Add(1)
			t.log.Error("position kept by the buffer does not parse; the pos_file's is used", "source", m.Source, "err", err)
			continue
		}
		taken++
	}
	t.store.SetSeq(t.seq)
	if taken > 0 {
		t.log.Info("positions newer than the pos_file taken from the buffer", "pos_file", t.cfg.PosFile, "positions", taken)
	}
}

// mark returns the mark of the next marked append: pos is the position
// after its lines.
func (t *Tailer) mark(pos Entry) buffer.Mark {
	t.seq++
	return buffer.Mark{Source: t.markPrefix + pos.Path, Seq: t.seq, Value: appendEntryLine(nil, pos)}
}
