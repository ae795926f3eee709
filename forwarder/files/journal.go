package files

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/barge-dev/barge/forwarder/internal/statefile"
)

// The journal holds the changes to the ledger since its snapshot, one line
// each, appended as they happen (see doc.go):
//
//	barge-files-journal 1 gen=42
//	1f2e3d4c reading size=99999 mtime=… sha256=… records=2000 offset=…
//	0a1b2c3d drop path="/data/export/a.csv"
//
// A line is the CRC-32C of the rest of it, in hex, and either an entry as
// the snapshot writes it or the removal of a path's entry.

const journalMagic = "barge-files-journal 1"

// startJournal moves the journal aside to NAME.journal.prev (the snapshot
// just written holds its changes) and starts an empty one for l.gen.
func (l *ledger) startJournal() error {
	l.closeJournal()
	name := l.path + ".journal"
	if err := os.Rename(name, name+".prev"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	hdr := fmt.Appendf(nil, "%s gen=%d\n", journalMagic, l.gen)
	_, err = f.Write(hdr)
	if err == nil && l.fsync {
		err = f.Sync()
	}
	if err == nil && l.fsync {
		err = statefile.SyncDir(filepath.Dir(name))
	}
	if err != nil {
		_ = f.Close() // the error above is the one to report
		return err
	}
	l.journal, l.jsize, l.jlines = f, int64(len(hdr)), 0
	return nil
}

// closeJournal closes the journal's file; the next change writes a
// snapshot, which opens it again.
func (l *ledger) closeJournal() {
	if l.journal != nil {
		_ = l.journal.Close() // written with write(2): nothing is lost
		l.journal = nil
	}
}

// note makes the change of path's entry (its removal when it has none)
// durable: a line appended to the journal with one write(2), fsynced with
// pos_file_fsync. After a failed write, or when the journal has grown
// larger than the snapshot (and 1 MiB), a whole snapshot is written
// instead.
func (l *ledger) note(path string) error {
	if l.dirty || l.journal == nil {
		return l.save()
	}
	b := appendChange(l.line[:0], path, l.entries[path])
	l.line = b
	_, err := l.journal.Write(b)
	if err == nil && l.fsync {
		err = l.journal.Sync()
	}
	if err != nil {
		l.dirty = true
		return fmt.Errorf("write pos_file journal: %w", err)
	}
	l.jsize += int64(len(b))
	l.jlines++
	if l.jsize > max(1<<20, l.snapSize) {
		return l.save()
	}
	return nil
}

// appendChange appends the journal line saying that path's entry is e
// (nil: that it has none).
func appendChange(b []byte, path string, e *entry) []byte {
	start := len(b)
	b = append(b, "00000000 "...)
	if e != nil {
		b = appendEntry(b, path, e)
	} else {
		b = strconv.AppendQuote(append(b, "drop path="...), path)
	}
	for i, sum := start+7, crc32.Checksum(b[start+9:], castagnoli); i >= start; i, sum = i-1, sum>>4 {
		b[i] = "0123456789abcdef"[sum&15]
	}
	return append(b, '\n')
}

// change is a line of a journal: path's entry, nil for its removal.
type change struct {
	path string
	e    *entry
}

// decodeJournal parses a journal: its gen and its changes, up to the
// first line that is torn or damaged; torn is the number of bytes from
// there on, dropped. A journal without a valid header is an error.
func decodeJournal(b []byte) (gen uint64, changes []change, torn int, err error) {
	hdr, rest, ok := bytes.Cut(b, []byte{'\n'})
	head, genS, ok2 := strings.Cut(string(hdr), " gen=")
	if !ok || !ok2 || head != journalMagic {
		return 0, nil, 0, fmt.Errorf("not a %q header", journalMagic)
	}
	if gen, err = strconv.ParseUint(genS, 10, 64); err != nil {
		return 0, nil, 0, fmt.Errorf("bad gen %q", genS)
	}
	for len(rest) > 0 {
		line, next, ok := bytes.Cut(rest, []byte{'\n'})
		c, err := parseChange(line)
		if !ok || err != nil {
			return gen, changes, len(rest), nil
		}
		changes = append(changes, c)
		rest = next
	}
	return gen, changes, 0, nil
}

func parseChange(line []byte) (change, error) {
	if len(line) < 9 || line[8] != ' ' {
		return change{}, errors.New("no checksum")
	}
	sum, err := strconv.ParseUint(string(line[:8]), 16, 32)
	if err != nil || uint32(sum) != crc32.Checksum(line[9:], castagnoli) {
		return change{}, errors.New("checksum mismatch")
	}
	text := string(line[9:])
	if q, ok := strings.CutPrefix(text, "drop path="); ok {
		p, err := strconv.Unquote(q)
		if err != nil || p == "" {
			return change{}, fmt.Errorf("bad path %s", q)
		}
		return change{path: p}, nil
	}
	p, e, err := parseEntry(text)
	return change{path: p, e: e}, err
}

// applyChanges replays changes onto entries.
func applyChanges(entries map[string]*entry, changes []change) {
	for _, c := range changes {
		if c.e == nil {
			delete(entries, c.path)
		} else {
			entries[c.path] = c.e
		}
	}
}
