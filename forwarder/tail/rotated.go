package tail

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/barge-dev/barge/forwarder/parse"
)

// A file rotated away (renamed, deleted, or no longer matched) keeps a
// position of its own until it is read to its end: the store's key for it
// is rotatedKey(path, id), "PATH\x00rotated:DEV:INO", while the file now at
// PATH takes PATH's. No path holds a NUL, so such a key names no file; the
// pos_file writes it Go-quoted (see doc.go).
const rotatedMark = "\x00rotated:"

// rotatedKey is the store's key for the file of identity id rotated away
// from path.
func rotatedKey(path string, id Identity) string {
	return fmt.Sprintf("%s%s%016x:%016x", path, rotatedMark, id.Dev, id.Ino)
}

// rotatedPath returns the path of a key made by rotatedKey; ok is false
// for any other key.
func rotatedPath(key string) (path string, ok bool) {
	p, rest, ok := strings.Cut(key, rotatedMark)
	if !ok || p == "" || strings.IndexByte(p, 0) >= 0 {
		return "", false
	}
	dev, ino, ok := strings.Cut(rest, ":")
	if !ok {
		return "", false
	}
	if _, err := parseHex(dev, true); err != nil {
		return "", false
	}
	if _, err := parseHex(ino, true); err != nil {
		return "", false
	}
	return p, true
}

// rotatedAway marks fl as no longer named by its path: it is read for
// rotate_wait more, then to its end, then closed. Its position moves to a
// key of its own, so that the file now at the path does not take it over
// before its rest is read.
func (t *Tailer) rotatedAway(fl *follower, now time.Time) {
	fl.rotated, fl.idle = now, false
	if t.byPath[fl.path] == fl {
		delete(t.byPath, fl.path)
	}
	if fl.key != fl.path {
		return // rotated already
	}
	fl.key = rotatedKey(fl.path, fl.id)
	pos := fl.committed
	if pos < 0 {
		pos = fl.next // nothing read yet: where reading starts
	}
	t.setPosition(fl, pos)
}

// followed reports whether a file of identity id is followed already.
func (t *Tailer) followed(dev, ino uint64) *follower {
	for _, fl := range t.files {
		if fl.id.Ino == ino && fl.id.Dev == dev {
			return fl
		}
	}
	return nil
}

// recoverRotated, at start, looks for the files of the positions of files
// rotated away (read before a stop or a crash, not to their end) in their
// directory, by device, inode and fingerprint (findRotated). A file not
// found (deleted) is gone: its position is dropped at the first compaction.
func (t *Tailer) recoverRotated() {
	for _, e := range t.store.Entries() {
		p, ok := rotatedPath(e.Path)
		if !ok || t.followed(e.ID.Dev, e.ID.Ino) != nil {
			continue
		}
		t.findRotated(Entry{Path: p, Offset: e.Offset, ID: e.ID}, e.Path)
	}
}

// adopt makes fl (a file rotated away or, with follow_inodes, followed
// under another path) the file of path: its position moves to path, so the
// file is read on, not again from its start. The path it had, if it still
// named it, is followed again (it now names another file, or none).
func (t *Tailer) adopt(fl *follower, path string) {
	oldPath, oldKey := fl.path, fl.key
	named := t.byPath[oldPath] == fl
	if named {
		delete(t.byPath, oldPath)
	}
	t.log.Info("file followed under another path", "path", path, "was", oldPath)
	fl.path, fl.key, fl.tag, fl.rotated, fl.idle = path, path, t.cfg.TagFor(path), time.Time{}, false
	t.store.Delete(oldKey)
	if fl.committed >= 0 {
		t.setPosition(fl, fl.committed)
	}
	t.byPath[path] = fl
	if named {
		t.follow(oldPath, false)
	}
}

// adoptable returns the follower of the file at path if it is followed
// already but not as path's: rotated away (from path, no longer matched,
// then matched again; or from another path, renamed to one the globs
// match, as logrotate does with app.log*), or, with follow_inodes, under
// another path. So a rotated file is read on under its new name, never
// again from its start, with or without follow_inodes.
func (t *Tailer) adoptable(path string) *follower {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	dev, ino, ok := fileID(fi)
	if !ok {
		return nil
	}
	if fl := t.followed(dev, ino); fl != nil && t.byPath[path] != fl && (t.cfg.FollowInodes || fl.path == path || !fl.rotated.IsZero()) {
		return fl
	}
	return nil
}

// byIdentity returns the position of the file of identity id kept under
// a rotated key (a file rotated away, now found under a name the globs
// match) or, with follow_inodes, under any other key.
func (t *Tailer) byIdentity(id Identity) (Entry, bool) {
	for _, e := range t.store.Entries() {
		if !t.cfg.FollowInodes && !isRotatedKey(e.Path) {
			continue
		}
		if e.ID.Ino != 0 && e.ID.Same(id) && t.followed(e.ID.Dev, e.ID.Ino) == nil {
			return e, true
		}
	}
	return Entry{}, false
}

func isRotatedKey(key string) bool {
	_, ok := rotatedPath(key)
	return ok
}

// findRotated looks, at start, for the file of a position whose path now
// names another file (rotated while barge was stopped, or while it was
// read) among the files of the same directory: by device and inode (and
// fingerprint), else, among the .gz files, by the fingerprint of their
// decompressed first bytes (rotated and compressed). Found, it is read
// from the position as a file rotated away, its position kept under key
// (set at once: the file now at the path takes the path's).
func (t *Tailer) findRotated(e Entry, key string) {
	dir := filepath.Dir(e.Path)
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var gzs []string
	for _, de := range des {
		if !de.Type().IsRegular() {
			continue
		}
		name := filepath.Join(dir, de.Name())
		if isGzip(name) {
			gzs = append(gzs, name)
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		dev, ino, _ := fileID(fi)
		if ino != e.ID.Ino || e.ID.Dev != 0 && dev != e.ID.Dev {
			continue
		}
		t.readRotated(e, key, name, true)
		return
	}
	if e.ID.FP.Len == 0 {
		return // a fingerprint unknown matches any file
	}
	for _, name := range gzs {
		if t.readRotated(e, key, name, false) {
			return
		}
	}
}

// readRotated opens name and, if it is e's file (by inode and fingerprint
// when byInode, else by fingerprint alone) holding e.Offset bytes, reads
// it from there as a file rotated away. It reports whether it does.
func (t *Tailer) readRotated(e Entry, key, name string, byInode bool) bool {
	f, err := os.Open(name)
	if err != nil {
		t.log.Warn("rotated file unreadable; its rest is not read", "path", name, "err", err)
		return false
	}
	gz := isGzip(name)
	id, fi, err := readIdentity(f, gz)
	same := err == nil && (byInode && e.ID.Same(id) || !byInode && id.FP.Len > 0 && e.ID.FP.Match(id.FP))
	if !same || !gz && fi.Size() < e.Offset {
		f.Close()
		return false
	}
	if t.followed(id.Dev, id.Ino) != nil {
		f.Close()
		return true // read already (found from another position)
	}
	p, err := parse.New(t.cfg.Parse, t.parseOpt)
	if err != nil {
		f.Close()
		return false
	}
	t.log.Info("reading the rest of a rotated file", "path", e.Path, "rotated", name)
	fl := &follower{
		path: e.Path, key: key, tag: t.cfg.TagFor(e.Path), f: f, id: id, parser: p, maxLen: t.cfg.MaxLineSize,
		bufOff: e.Offset, next: e.Offset, committed: e.Offset, lastSize: fi.Size(), rotated: t.now(),
	}
	if gz {
		fl.gz = &gzSource{f: f}
	}
	t.files = append(t.files, fl)
	t.nfiles.Store(int64(len(t.files)))
	t.setPosition(fl, e.Offset)
	return true
}
