package files

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/barge-dev/barge/forwarder/internal/statefile"
)

// ownFiles are the input's own files and directories, never shipped even
// when a glob matches them: the pos_file and its siblings, error_dir and
// the move_to directory.
type ownFiles struct {
	pos  string
	dirs []string
}

func newOwnFiles(pos string, dirs ...string) (ownFiles, error) {
	var o ownFiles
	var err error
	if o.pos, err = filepath.Abs(pos); err != nil {
		return o, fmt.Errorf("files: %w", err)
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		a, err := filepath.Abs(d)
		if err != nil {
			return o, fmt.Errorf("files: %w", err)
		}
		o.dirs = append(o.dirs, a)
	}
	return o, nil
}

func (o *ownFiles) has(path string) bool {
	a, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	if a == o.pos || strings.HasPrefix(a, o.pos+".") {
		return true
	}
	for _, d := range o.dirs {
		if a == d || strings.HasPrefix(a, d+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// match returns the paths the globs match, without exclusions, sorted.
func (in *Input) match() []string {
	var out []string
	for _, g := range in.cfg.Path {
		ms, _ := filepath.Glob(g) // patterns were checked by Validate
	next:
		for _, m := range ms {
			for _, ex := range in.cfg.ExcludePath {
				if ok, _ := filepath.Match(ex, m); ok {
					continue next
				}
			}
			if !in.ownFiles.has(m) {
				out = append(out, m)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// candidate is a file to ship in this scan.
type candidate struct {
	path  string
	mtime int64
}

// scan lists the files, ships the settled new or changed ones (and resumes
// half-read ones) oldest mtime first, and finishes pending after_transfer
// and error_dir moves. It returns when the earliest unsettled file will
// have been unchanged for settle_time (zero if none).
func (in *Input) scan(ctx context.Context) time.Time {
	in.stats.scans.Add(1)
	now := in.now()
	var cands []candidate
	var settle time.Time
	seen := map[string]bool{}
	unsettled := 0
	for _, p := range in.match() {
		fi, err := os.Stat(p)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				in.log.Warn("stat", "path", p, "err", err)
			}
			continue
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		seen[p] = true
		size, mtime := fi.Size(), fi.ModTime().UnixNano()
		if e := in.led.entries[p]; e != nil && e.size == size && e.mtime == mtime {
			delete(in.obs, p)
			if e.state == stateReading {
				cands = append(cands, candidate{p, mtime}) // resume at once
			} else {
				in.finish(p, e)
			}
			continue
		}
		o, ok := in.obs[p]
		if !ok || o.size != size || o.mtime != mtime {
			o = observation{size: size, mtime: mtime, since: now}
			in.obs[p] = o
		}
		if due := o.since.Add(in.cfg.SettleTime); now.Before(due) {
			unsettled++
			if settle.IsZero() || due.Before(settle) {
				settle = due
			}
			continue
		}
		cands = append(cands, candidate{p, mtime})
	}
	in.stats.unsettled.Store(int64(unsettled))
	in.forget(seen, now)
	slices.SortFunc(cands, func(a, b candidate) int {
		if a.mtime != b.mtime {
			return compareInt(a.mtime, b.mtime)
		}
		return strings.Compare(a.path, b.path)
	})
	for _, c := range cands {
		if ctx.Err() != nil {
			break
		}
		delete(in.obs, c.path)
		in.transfer(ctx, c.path)
	}
	if in.led.dirty || in.led.jlines > 0 {
		_ = in.save() // compact the journal into a snapshot; logged
	}
	return settle
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// forget drops observations of paths no longer seen, and ledger entries
// of paths missing for forgetAfter.
func (in *Input) forget(seen map[string]bool, now time.Time) {
	for p := range in.obs {
		if !seen[p] {
			delete(in.obs, p)
		}
	}
	changed := false
	for p := range in.led.entries {
		if seen[p] {
			delete(in.missing, p)
			continue
		}
		since, ok := in.missing[p]
		if !ok {
			in.missing[p] = now
			continue
		}
		if now.Sub(since) >= forgetAfter {
			delete(in.led.entries, p)
			delete(in.missing, p)
			changed = true
		}
	}
	for p := range in.missing {
		if in.led.entries[p] == nil {
			delete(in.missing, p)
		}
	}
	if changed {
		_ = in.save() // logged; retried with the next change
	}
}

// finish applies what follows a durable mark: after_transfer for a
// shipped file, the move to error_dir for a failed one. It acts only once
// a snapshot of the ledger holds the mark (it writes one if the mark is
// only in the journal), and is retried at every scan until it succeeds.
// The entry is then dropped: the path holds nothing any more.
func (in *Input) finish(path string, e *entry) {
	var dir string
	switch {
	case e.state == stateShipped && in.after.mode == "delete":
	case e.state == stateShipped && in.after.mode == "move_to":
		dir = in.after.dir
	case e.state == stateFailed && in.cfg.ErrorDir != "":
		dir = in.cfg.ErrorDir
	default:
		return
	}
	if (in.led.dirty || in.led.jlines > 0) && in.save() != nil {
		return // the mark is not in a snapshot yet
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != e.size || fi.ModTime().UnixNano() != e.mtime {
		return // gone, or another version now: the next scan sees to it
	}
	if dir == "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			in.stats.afterErrors.Add(1)
			in.log.Error("after_transfer delete", "path", path, "err", err)
			return
		}
		if err := statefile.SyncDir(filepath.Dir(path)); err != nil {
			in.log.Warn("after_transfer delete: sync directory", "path", path, "err", err)
		}
		in.log.Info("deleted after transfer", "path", path)
	} else {
		dst, err := moveFile(path, dir)
		if err != nil {
			in.stats.afterErrors.Add(1)
			in.log.Error("move file", "path", path, "err", err)
			return
		}
		in.log.Info("moved", "path", path, "moved_to", dst, "state", e.state.String())
	}
	delete(in.led.entries, path)
	_ = in.note(path)
}
