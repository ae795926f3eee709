package tail

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/fsnotify/fsnotify"
)

// watcher wakes the reader on file events (enable_stat_watcher): it
// watches the directories of the files followed and the fixed leading
// directories of the globs. It carries no decision: a lost event costs
// latency until the next reconcile. A nil *watcher watches nothing.
type watcher struct {
	w      *fsnotify.Watcher
	log    *slog.Logger
	dirs   map[string]bool
	warned bool
	dead   bool // its channels closed: polling alone
}

// newWatcher returns nil when the stat watcher is off or unavailable
// (logged once): the reconcile polls alone.
func (t *Tailer) newWatcher() *watcher {
	if !t.cfg.EnableStatWatcher {
		return nil
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		t.log.Warn("file events unavailable; polling every second", "err", err)
		return nil
	}
	return &watcher{w: fw, log: t.log, dirs: map[string]bool{}}
}

func (w *watcher) close() {
	if w != nil {
		w.w.Close()
	}
}

func (w *watcher) events() <-chan fsnotify.Event {
	if w == nil || w.dead {
		return nil
	}
	return w.w.Events
}

func (w *watcher) errors() <-chan error {
	if w == nil || w.dead {
		return nil
	}
	return w.w.Errors
}

// failed logs the watcher's first error (an overflow, a watch limit):
// polling goes on regardless.
func (w *watcher) failed(err error) {
	if w == nil || err == nil || w.warned {
		return
	}
	w.warned = true
	msg := "file events failed; the reconcile polls every second"
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		msg = "file events overflowed; the reconcile polls every second"
	}
	w.log.Warn(msg, "err", err)
}

// stop gives up on events whose channel closed.
func (w *watcher) stop() {
	w.failed(errors.New("fsnotify: channels closed"))
	w.dead = true
}

// add watches the directory of a file followed.
func (w *watcher) add(path string) { w.addDir(filepath.Dir(path)) }

// addPattern watches the longest leading directory of a pattern that
// holds no wildcard nor strftime conversion.
func (w *watcher) addPattern(p string) {
	dir := filepath.Dir(p)
	for dir != "." && dir != "/" && strings.ContainsAny(dir, "*?[%") {
		dir = filepath.Dir(dir)
	}
	w.addDir(dir)
}

func (w *watcher) addDir(dir string) {
	if w == nil || w.dirs[dir] {
		return
	}
	w.dirs[dir] = true // tried once; a failure is not retried
	if err := w.w.Add(dir); err != nil {
		w.failed(err)
	}
}
