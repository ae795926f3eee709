package files

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/barge-dev/barge/buffer"
)

// Ledger entries kept by the buffer. When the sink is a buffer.MarkedSink
// (cmd/barge's router over file buffers), each batch carries its path's
// ledger entry as it is once the batch is in, so that a kill -9 between an
// Append and its journal line re-ships nothing: the next start takes the
// entry back from the buffer.
//
// A mark's source is markPrefix ("files", the pos_file's absolute path)
// and the file's path; its value is the path's ledger line (appendEntry),
// whose seq field is the mark's seq.

// takeMarks replaces the ledger entries that the buffer holds newer
// versions of (a greater seq) and saves the ledger. Called by Listen.
func (in *Input) takeMarks() error {
	ms, ok := in.sink.(buffer.MarkedSink)
	if !ok {
		return nil
	}
	abs, err := filepath.Abs(in.cfg.PosFile)
	if err != nil {
		abs = in.cfg.PosFile
	}
	in.marked, in.markPrefix = ms, "files\x00"+abs+"\x00"
	for _, e := range in.led.entries {
		in.seq = max(in.seq, e.seq)
	}
	taken := 0
	for _, m := range ms.Marks(in.markPrefix) {
		in.seq = max(in.seq, m.Seq)
		p, e, err := parseEntry(string(m.Value))
		if err == nil && (p != strings.TrimPrefix(m.Source, in.markPrefix) || e.seq != m.Seq) {
			err = fmt.Errorf("mark of %q holds the entry of %q, seq %d", m.Source, p, e.seq)
		}
		if err != nil {
			in.log.Error("ledger entry kept by the buffer does not parse; the pos_file's is used", "source", m.Source, "err", err)
			continue
		}
		if cur := in.led.entries[p]; cur == nil || cur.seq < e.seq {
			in.led.entries[p] = e
			taken++
		}
	}
	if taken == 0 {
		return nil
	}
	in.log.Info("ledger entries newer than the pos_file taken from the buffer", "pos_file", in.cfg.PosFile, "entries", taken)
	if err := in.save(); err != nil {
		return fmt.Errorf("files: %w", err)
	}
	return nil
}
