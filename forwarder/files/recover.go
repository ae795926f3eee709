package files

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"
)

// recovery says what loadLedger found.
type recovery struct {
	from    string // the snapshot used ("" when none was valid)
	damaged int    // snapshots found torn or corrupt
	changes int    // journal lines replayed
}

// loadLedger reads the newest valid snapshot among the pos_file, its .tmp
// (written but not yet renamed at a crash) and its .prev (the previous
// one), then replays the journals of that snapshot or later ones (.journal
// and, when the snapshot used is .prev, .journal.prev), up to a torn or
// damaged line. A torn .tmp is removed; a damaged file or .prev is logged
// with its path and moved aside to NAME.corrupt-TIME, never dropped
// silently. When no snapshot is valid the entries are the journals' alone
// (files not in them are shipped again: duplicates, not loss). It then
// writes a new snapshot, which starts a new journal.
func loadLedger(path string, fsync bool, now time.Time, log *slog.Logger) (*ledger, recovery, error) {
	l := &ledger{path: path, fsync: fsync, entries: map[string]*entry{}}
	var rec recovery
	found := false
	for _, name := range []string{path + ".tmp", path, path + ".prev"} {
		b, err := os.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, rec, fmt.Errorf("read pos_file: %w", err)
		}
		found = true
		gen, entries, err := decodeLedger(b)
		if err != nil {
			rec.damaged++
			if name == path+".tmp" {
				log.Warn("removing a torn temporary pos_file", "path", name, "err", err)
				if err := os.Remove(name); err != nil {
					return nil, rec, fmt.Errorf("remove torn pos_file: %w", err)
				}
				continue
			}
			aside := name + ".corrupt-" + now.UTC().Format("20060102T150405.000000000Z")
			if err := os.Rename(name, aside); err != nil {
				return nil, rec, fmt.Errorf("move corrupt pos_file aside: %w", err)
			}
			log.Error("pos_file is damaged; moved aside", "path", name, "moved_to", aside, "err", err)
			continue
		}
		if rec.from == "" || gen > l.gen {
			rec.from, l.gen, l.entries = name, gen, entries
		}
	}
	// without any snapshot, a first start (or a reset): no journal counts
	n, err := l.replay(found, log)
	if err != nil {
		return nil, rec, err
	}
	rec.changes = n
	if rec.damaged > 0 && rec.from == "" {
		log.Error("no valid pos_file version: the files not in its journal will be shipped again", "path", path, "changes", rec.changes)
	}
	if rec.from != "" && rec.from != path {
		log.Warn("pos_file recovered from another version", "path", rec.from)
	}
	if err := l.save(); err != nil {
		return nil, rec, err
	}
	_ = os.Remove(path + ".tmp") // a valid but older leftover
	return l, rec, nil
}

// replay applies the journals whose gen is l.gen or later, oldest first
// (when apply), and returns how many changes they held. l.gen becomes the
// highest gen seen, so that the next snapshot's is higher than any.
func (l *ledger) replay(apply bool, log *slog.Logger) (int, error) {
	n := 0
	snap, last := l.gen, uint64(0)
	for _, name := range []string{l.path + ".journal.prev", l.path + ".journal"} {
		b, err := os.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("read pos_file journal: %w", err)
		}
		gen, changes, torn, err := decodeJournal(b)
		if err != nil {
			continue // torn at its start: nothing in it
		}
		l.gen = max(l.gen, gen)
		if !apply || gen < snap || gen < last {
			continue // already in the snapshot, or not ours
		}
		if torn > 0 {
			log.Warn("pos_file journal ends with a torn or damaged line; dropped", "path", name, "bytes", torn)
		}
		applyChanges(l.entries, changes)
		n += len(changes)
		last = gen
	}
	return n, nil
}
