package buffer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
)

// An output that chooses a chunk's object name at its first flush attempt
// (fluent-plugin-s3's %{index}: the next free index at that moment) records
// it with the chunk, so that every later attempt, after an error or a
// crash, writes the same name. A memory chunk keeps its names in memory; a
// file chunk in a sidecar file beside it, path/<ID>.names:
//
//	{"OWNER": "NAME", ...}      JSON, written to <ID>.names.tmp, fsynced,
//	                            renamed, the directory fsynced
//
// OWNER says which output chose NAME (its destination and key format), so
// a <secondary>, or an output whose configuration changed, does not take
// another's name. The sidecar is removed after the chunk file when the
// chunk is purged (a crash in between leaves a sidecar without chunk,
// which recovery removes), moved with it into failed/, and read back by
// recovery.

// namesSuffix ends the name of a chunk's sidecar file.
const namesSuffix = ".names"

// Name returns the name that owner recorded for the chunk with SetName,
// "" if none. Name and SetName are for the Flusher flushing the chunk (a
// chunk is flushed by one goroutine at a time).
func (c *Chunk) Name(owner string) string {
	return c.names[owner]
}

// SetName records name as owner's name for the chunk. nil means durable:
// for a file chunk, the sidecar file is written and fsynced, so Name gives
// it back after a restart. On error the name recorded before stays.
func (c *Chunk) SetName(owner, name string) error {
	if c.names[owner] == name {
		return nil
	}
	names := maps.Clone(c.names)
	if names == nil {
		names = make(map[string]string, 1)
	}
	names[owner] = name
	if c.st != nil {
		if err := c.st.saveNames(names); err != nil {
			return fmt.Errorf("record the name of chunk %s: %w", c.ID, err)
		}
	}
	c.names = names
	return nil
}

// namesPath is the sidecar file of the chunk file at path.
func namesPath(path string) string {
	dir, base := filepath.Split(path)
	return filepath.Join(dir, strings.TrimSuffix(base[1:], chunkSuffix)+namesSuffix)
}

// saveNames writes the sidecar of a file chunk atomically and durably.
func (s *fileStore) saveNames(names map[string]string) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, err := json.Marshal(names)
	if err != nil {
		return err
	}
	p := namesPath(s.path)
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(p))
}

// removeNames removes the sidecar of the chunk file at path, if any.
func removeNames(path string) error {
	err := os.Remove(namesPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// moveNames moves the sidecar of the chunk file at from beside the chunk
// file at to, if there is one.
func moveNames(from, to string) error {
	err := os.Rename(namesPath(from), namesPath(to))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// loadNames reads the sidecar of a recovered file chunk. An unreadable
// one is logged and moved to corrupt/: the chunk's output chooses a name
// again.
func (b *Buffer) loadNames(c *Chunk) {
	s, ok := c.st.(*fileStore)
	if !ok {
		return
	}
	p := namesPath(s.path)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var names map[string]string
	if err == nil {
		err = json.Unmarshal(data, &names)
	}
	if err != nil {
		to, merr := b.moveCorrupt(p, "")
		b.log.Error("unreadable names of a chunk moved to corrupt/: its output names it again", "chunk_id", c.ID, "path", to, "err", errors.Join(err, merr))
		return
	}
	c.names = names
}

// removeOrphanNames removes the sidecars (and their temporary files) of
// chunks that are not in the directory: a crash after a purge removed the
// chunk file but not its sidecar. ids holds the chunks recovered; a chunk
// file that recovery left as it is (to try again at the next start) keeps
// its sidecar too.
func (b *Buffer) removeOrphanNames(ents []os.DirEntry, ids map[string]bool) {
	ids = maps.Clone(ids)
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, chunkSuffix) && (n[0] == 'b' || n[0] == 'q') {
			ids[strings.TrimSuffix(n[1:], chunkSuffix)] = true
		}
	}
	for _, e := range ents {
		name := e.Name()
		id, ok := strings.CutSuffix(strings.TrimSuffix(name, ".tmp"), namesSuffix)
		if !ok || !e.Type().IsRegular() || (ids[id] && !strings.HasSuffix(name, ".tmp")) {
			continue
		}
		p := filepath.Join(b.cfg.Path, name)
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			b.log.Warn("remove the names of a chunk that is gone", "path", p, "err", err)
			continue
		}
		b.log.Info("removed the names of a chunk that is gone", "path", p)
	}
}
