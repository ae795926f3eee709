package tail

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/barge-dev/barge/forwarder/internal/statefile"
)

// Recovery says what OpenFile found.
type Recovery struct {
	// From is the file the positions were read from ("" when none was).
	From string
	// Fluentd is set when From is in Fluentd's format (a migration).
	Fluentd bool
	// Entries is how many positions were read.
	Entries int
	// MovedAside lists the damaged files, as renamed (NAME.corrupt-TIME).
	MovedAside []string
	// Salvaged is how many positions were kept from a damaged file when no
	// version was whole (the checksums of their own lines hold).
	Salvaged int
	// Dropped from Fluentd's format, as Fluentd's loader drops them:
	// unwatched markers (and inode 0), repeated paths (the last line
	// wins), and lines that do not parse (reported, the file kept aside).
	Unwatched, Repeated, BadLines int
}

// version is one of the pos_file's files, read.
type version struct {
	name  string
	data  []byte
	mtime time.Time
	pf    *posFile
	err   error // the damage; nil when whole
}

func readVersion(name string) (*version, error) {
	b, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pos_file: %w", err)
	}
	v := &version{name: name, data: b}
	if fi, err := os.Stat(name); err == nil {
		v.mtime = fi.ModTime()
	}
	v.pf, v.err = decodePositions(b)
	return v, nil
}

// OpenFile reads the pos_file at path (creating its directory), recovers
// from a crash or damage, and writes it again, whole, in barge's format:
//
//   - barge's format: the whole version with the highest gen among NAME,
//     NAME.tmp (written, not yet renamed, at a crash) and NAME.prev (the
//     one before) is used. A torn NAME.tmp is removed; a damaged NAME or
//     NAME.prev is logged with its path and moved aside to
//     NAME.corrupt-TIME, never dropped silently. An empty NAME with a
//     whole NAME.tmp or NAME.prev is torn (a crash before its blocks
//     reached the disk) and moved aside too.
//   - Fluentd's format (a migration): NAME is used, unless NAME.tmp is
//     whole and not older (barge crashed converting it). Its lines that do
//     not parse are logged and NAME is copied aside to NAME.corrupt-TIME.
//     A NAME.prev in Fluentd's format (the file before its conversion) is
//     left as it is, not used.
//   - no whole version: the lines of the damaged NAME whose checksums hold
//     are kept (logged as an error); the other files start per
//     read_from_head.
//
// An empty path gives a FileStore that keeps positions in memory only.
func OpenFile(path string, opts FileOptions) (*FileStore, Recovery, error) {
	s := &FileStore{path: path, fsync: opts.Fsync, entries: map[string]Entry{}}
	var rec Recovery
	if path == "" {
		return s, rec, nil
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, rec, fmt.Errorf("create pos_file directory: %w", err)
	}
	var vs [3]*version // NAME, NAME.tmp, NAME.prev
	for i, name := range []string{path, path + ".tmp", path + ".prev"} {
		v, err := readVersion(name)
		if err != nil {
			return nil, rec, err
		}
		vs[i] = v
	}
	main, tmp, prev := vs[0], vs[1], vs[2]
	corrupt := func(name string) string { return name + ".corrupt-" + now().UTC().Format("20060102T150405.000000000Z") }
	aside := func(v *version, reason any) error {
		to := corrupt(v.name)
		if err := os.Rename(v.name, to); err != nil {
			return fmt.Errorf("move damaged pos_file aside: %w", err)
		}
		log.Error("pos_file is damaged; moved aside", "path", v.name, "moved_to", to, "err", reason)
		rec.MovedAside = append(rec.MovedAside, to)
		return nil
	}
	if tmp != nil && (tmp.err != nil || !tmp.pf.barge) {
		log.Warn("removing a torn temporary pos_file", "path", tmp.name, "err", tmp.err)
		if err := os.Remove(tmp.name); err != nil {
			return nil, rec, fmt.Errorf("remove torn pos_file: %w", err)
		}
		tmp = nil
	}
	if prev != nil && prev.err != nil {
		if err := aside(prev, prev.err); err != nil {
			return nil, rec, err
		}
		prev = nil
	}
	if prev != nil && !prev.pf.barge {
		prev = nil // Fluentd's file, as it was before its conversion
	}
	var best *version // the whole version in barge's format with the highest gen
	for _, v := range []*version{main, tmp, prev} {
		if v == nil || v.err != nil || !v.pf.barge {
			continue
		}
		if best == nil || v.pf.gen > best.pf.gen {
			best = v
		}
		s.gen = max(s.gen, v.pf.gen)
	}
	use := best
	switch {
	case main != nil && main.err != nil:
		if err := aside(main, main.err); err != nil {
			return nil, rec, err
		}
		if best == nil {
			s.entries = salvage(main.data)
			rec.Salvaged = len(s.entries)
			log.Error("no whole pos_file version: positions salvaged from its valid lines; the other files start per read_from_head",
				"path", path, "positions", rec.Salvaged)
		}
	case main != nil && !main.pf.barge:
		switch {
		case len(main.data) == 0 && best != nil:
			if err := aside(main, "empty"); err != nil {
				return nil, rec, err
			}
		case best == tmp && tmp != nil && !tmp.mtime.Before(main.mtime):
		default:
			use = main
			rec.Fluentd = len(main.data) > 0
		}
	}
	if use != nil {
		s.entries, rec.From, rec.Entries = use.pf.entries, use.name, len(use.pf.entries)
		s.seq = use.pf.seq
		if use == main && main.pf.bad != nil {
			rec.BadLines = len(main.pf.bad)
			to := corrupt(path)
			if err := statefile.Write(to, main.data, opts.Fsync); err != nil {
				return nil, rec, fmt.Errorf("keep damaged pos_file aside: %w", err)
			}
			rec.MovedAside = append(rec.MovedAside, to)
			log.Error("pos_file lines do not parse; dropped, the file kept aside", "path", path, "lines", main.pf.bad, "moved_to", to)
		}
		rec.Unwatched, rec.Repeated = use.pf.unwatched, use.pf.repeated
		if use != main {
			log.Warn("pos_file recovered from another version", "path", use.name)
		}
	}
	s.version = 1 // write a whole file now, in barge's format
	if err := s.Sync(); err != nil {
		return nil, rec, err
	}
	return s, rec, nil
}
