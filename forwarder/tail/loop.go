package tail

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"
)

// loop is Run's: it reads the files round-robin, one turn each, while any
// of them gives lines; then it waits for a wake-up (a file event), the
// reconcile (every second), the refresh (refresh_interval), the pos_file
// Sync (every second) or compaction.
func (t *Tailer) loop(ctx context.Context) {
	w := t.newWatcher()
	defer w.close()
	for _, p := range t.cfg.Paths() {
		w.addPattern(p)
	}
	t.watchAll(w)
	reconcile := time.NewTicker(t.reconcileEvery)
	defer reconcile.Stop()
	refresh := time.NewTicker(t.cfg.RefreshInterval)
	defer refresh.Stop()
	syncT := time.NewTicker(t.syncEvery)
	defer syncT.Stop()
	var compact <-chan time.Time
	if d := t.cfg.PosFileCompactionInterval; d > 0 {
		c := time.NewTicker(d)
		defer c.Stop()
		compact = c.C
	}
	dirty := false // an event named a file not followed: refresh soon
	for {
		progress, now := false, t.now()
		for _, fl := range slices.Clone(t.files) {
			if fl.idle && !(fl.parser.Held() > 0 && t.flushDue(fl, now)) {
				continue // idle: costs a stat at each reconcile
			}
			p, done, err := t.turn(ctx, fl)
			if err != nil {
				return
			}
			progress = progress || p
			if done {
				t.drop(fl)
			}
		}
		var ready <-chan struct{} // while files give lines, do not block
		if progress {
			ready = closed
		}
		select {
		case <-ctx.Done():
			return
		case <-ready:
		case ev, ok := <-w.events():
			if !ok {
				w.stop()
				continue
			}
			if fl := t.byPath[ev.Name]; fl != nil {
				// stat before reading: a truncation is seen before the
				// bytes written after it
				t.reconcileOne(w, fl, t.now())
				fl.idle = false
			} else {
				dirty = true
			}
			if ev.Op&^(fsnotify.Write|fsnotify.Chmod) != 0 {
				t.reconcile(w)
			}
		case err, ok := <-w.errors():
			if !ok {
				w.stop()
				continue
			}
			w.failed(err)
		case <-reconcile.C:
			t.reconcile(w)
			if dirty {
				dirty = false
				t.refresh()
				t.watchAll(w)
			}
		case <-refresh.C:
			t.refresh()
			t.watchAll(w)
		case <-syncT.C:
			t.sync()
		case <-compact:
			t.compact()
		}
	}
}

// closed is a closed channel: a select case always ready.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (t *Tailer) watchAll(w *watcher) {
	for _, fl := range t.files {
		w.add(fl.path)
	}
}

func (t *Tailer) sync() {
	if err := t.store.Sync(); err != nil {
		t.counters.errors.Add(1)
		t.log.Error("sync pos_file", "err", err)
	}
}

func (t *Tailer) compact() {
	keys := make(map[string]bool, len(t.files))
	for _, fl := range t.files {
		keys[fl.key] = true
	}
	if n := Compact(t.store, func(e Entry) bool { return keys[e.Path] }); n > 0 {
		t.log.Debug("positions of files no longer followed dropped", "records", n)
	}
}

// drop closes a file rotated away and read to its end, and forgets its
// position.
func (t *Tailer) drop(fl *follower) {
	if fl.key != fl.path {
		t.store.Delete(fl.key)
	}
	if err := fl.close(); err != nil {
		t.log.Warn("close", "path", fl.path, "err", err)
	}
	t.files = slices.DeleteFunc(t.files, func(x *follower) bool { return x == fl })
	if t.byPath[fl.path] == fl {
		delete(t.byPath, fl.path)
	}
	t.nfiles.Store(int64(len(t.files)))
}

// follow starts following path; fromEnd per read_from_head at first start.
func (t *Tailer) follow(path string, fromEnd bool) {
	if !t.started {
		// At start, a position of path whose file is elsewhere now
		// (rotated while stopped) goes with that file, before path's
		// position is given to the file there (adopt, or the position
		// set below): app.log.1 -> app.log.2 and app.log -> app.log.1.
		if e, ok := t.store.Get(path); ok && !isRotatedKey(path) && t.followed(e.ID.Dev, e.ID.Ino) == nil && !namesFile(path, e.ID) {
			t.findRotated(e, rotatedKey(path, e.ID))
		}
	}
	if fl := t.adoptable(path); fl != nil {
		t.adopt(fl, path)
		return
	}
	fl, err := t.openFollower(path, fromEnd)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			t.counters.errors.Add(1)
			t.log.Warn("file not followed; tried again at the next refresh", "path", path, "err", err)
		}
		return
	}
	if !t.started && fl.committed < 0 {
		if e, ok := t.store.Get(path); ok && t.followed(e.ID.Dev, e.ID.Ino) == nil {
			t.findRotated(e, rotatedKey(path, e.ID))
		}
	}
	if fl.committed < 0 {
		// The file gets a position before any of it is appended: a file
		// the pos_file does not name cannot be found again if it is
		// rotated away while barge is stopped, and its unread rest would
		// be lost. turn syncs it before the first Append.
		if t.setPosition(fl, fl.next) {
			fl.committed = fl.next
			t.unsynced = true
		}
	}
	t.files = append(t.files, fl)
	t.byPath[path] = fl
	t.nfiles.Store(int64(len(t.files)))
}

// refresh resolves Path: files found start being followed (from their
// end at first start unless read_from_head or a position says otherwise,
// else from their start); files no longer found are read for rotate_wait
// more. The first refresh drops the positions of files not followed.
func (t *Tailer) refresh() {
	now := t.now()
	if !t.started {
		t.recoverRotated()
	}
	found := t.resolver.Resolve(now, func(p string) bool { return t.byPath[p] != nil })
	seen := make(map[string]bool, len(found))
	for _, f := range found {
		seen[f.Path] = true
		if t.byPath[f.Path] == nil {
			t.follow(f.Path, !t.started && !t.cfg.ReadFromHead)
		}
	}
	for p, fl := range t.byPath {
		if !seen[p] {
			t.rotatedAway(fl, now)
		}
	}
	if !t.started {
		t.started = true
		t.compact()
	}
}

// reconcile stats each followed file: a path now naming another file (or
// none) rotates the old one away, and the new one is followed from its
// start; a file shorter than what was read, or whose first bytes changed,
// is read again from 0 (Decide); a file that grew is read.
func (t *Tailer) reconcile(w *watcher) {
	now := t.now()
	for _, fl := range slices.Clone(t.files) {
		t.reconcileOne(w, fl, now)
	}
	t.publishLag()
}

func (t *Tailer) reconcileOne(w *watcher, fl *follower, now time.Time) {
	if !fl.rotated.IsZero() {
		fl.idle = false // read each turn until rotate_wait passed
		return
	}
	fi, err := os.Stat(fl.path)
	if err != nil {
		t.rotatedAway(fl, now) // deleted (or unreadable): read to its end
		return
	}
	dev, ino, _ := fileID(fi)
	if dev != fl.id.Dev || ino != fl.id.Ino {
		t.rotatedAway(fl, now)
		t.follow(fl.path, false)
		w.add(fl.path)
		return
	}
	size := fi.Size()
	if fl.gz != nil { // offsets are decompressed: only growth is seen
		if size != fl.lastSize {
			fl.lastSize, fl.idle, fl.gz.zr = size, false, nil
		}
		return
	}
	if size == fl.lastSize && size >= fl.readOff() {
		return
	}
	fl.lastSize, fl.idle = size, false
	id, _, err := ReadIdentity(fl.f)
	if err != nil {
		t.counters.errors.Add(1)
		t.log.Warn("identity", "path", fl.path, "err", err)
		return
	}
	if _, v := Decide(Entry{Path: fl.path, Offset: fl.readOff(), ID: fl.id}, id, size); v != Resume {
		t.log.Info("file truncated or rewritten; read from its start", "path", fl.path, "verdict", v.String())
		t.reset(fl)
	}
	fl.id = id
}

// namesFile reports whether path names the file of identity id (by device
// and inode; unknown when it cannot be stat'ed: true).
func namesFile(path string, id Identity) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist)
	}
	dev, ino, ok := fileID(fi)
	return !ok || ino == id.Ino && (id.Dev == 0 || dev == id.Dev)
}
