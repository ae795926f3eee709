package tail

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/barge-dev/barge/forwarder/internal/statefile"
)

// Entry is the position of one file: where the next unread line starts,
// in bytes (of the decompressed stream for a .gz file), and the identity
// of the file it was read from.
type Entry struct {
	Path   string
	Offset int64
	ID     Identity
}

func (e Entry) check() error {
	switch {
	case e.Path == "" || strings.IndexByte(e.Path, 0) >= 0 && !isRotatedKey(e.Path):
		return fmt.Errorf("position of %q: not a path", e.Path)
	case e.Offset < 0:
		return fmt.Errorf("position of %s: negative offset %d", e.Path, e.Offset)
	case e.ID.FP.Len < 0 || e.ID.FP.Len > FingerprintSize:
		return fmt.Errorf("position of %s: fingerprint of %d bytes", e.Path, e.ID.FP.Len)
	}
	return nil
}

// Store keeps the positions of the files followed, one per path. The
// tailer calls Set only once Append returned nil for every line before the
// position, and Sync to make what it Set durable: nil means that a crash
// (and, with pos_file_fsync, a power loss) after it keeps every position
// Set before it. Methods are safe for concurrent use.
type Store interface {
	// Get returns the position of path, if any.
	Get(path string) (Entry, bool)
	// Set records a position in memory; an entry that is not a valid
	// position (an empty path, a negative offset) is refused.
	Set(e Entry) error
	// Delete forgets the position of path.
	Delete(path string)
	// Entries returns every position, sorted by path.
	Entries() []Entry
	// Sync writes the positions, if any changed since the last Sync.
	Sync() error
	// Seq is the greatest SetSeq, or what the pos_file recorded; SetSeq
	// records that the positions Set hold every marked append up to seq
	// (see marks.go). Sync writes it with the positions.
	Seq() uint64
	SetSeq(seq uint64)
}

var _ Store = (*FileStore)(nil)

// Compact deletes the positions keep refuses (files no longer followed;
// see pos_file_compaction_interval) and returns how many it deleted.
func Compact(s Store, keep func(Entry) bool) int {
	n := 0
	for _, e := range s.Entries() {
		if !keep(e) {
			s.Delete(e.Path)
			n++
		}
	}
	return n
}

// FileStore is the Store of a pos_file (see doc.go for its format and its
// recovery). Every Sync writes the whole file: to NAME.tmp, then NAME
// becomes NAME.prev (a hard link) and NAME.tmp becomes NAME. With an
// empty path it keeps positions in memory only. Entries are kept as Set
// (a fingerprint taken in this process holds its bytes, up to 1 KiB).
type FileStore struct {
	path  string
	fsync bool

	ioMu sync.Mutex // serialises Sync; guards gen
	gen  uint64     // of the file on disk

	mu      sync.Mutex // guards the fields below
	entries map[string]Entry
	version uint64 // counts changes
	synced  uint64 // version on disk
	seq     uint64
}

// FileOptions are a FileStore's settings beyond its path.
type FileOptions struct {
	// Fsync (pos_file_fsync) fsyncs every write and the directory.
	Fsync bool
	// Logger receives what recovery found (nil: discarded).
	Logger *slog.Logger
	// Now names the files moved aside (nil: time.Now).
	Now func() time.Time
}

// Get implements Store.
func (s *FileStore) Get(path string) (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[path]
	return e, ok
}

// Set implements Store.
func (s *FileStore) Set(e Entry) error {
	if err := e.check(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[e.Path] = e
	s.version++
	return nil
}

// Delete implements Store.
func (s *FileStore) Delete(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[path]; ok {
		delete(s.entries, path)
		s.version++
	}
}

// Seq implements Store.
func (s *FileStore) Seq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// SetSeq implements Store.
func (s *FileStore) SetSeq(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq = max(s.seq, seq)
}

// Entries implements Store.
func (s *FileStore) Entries() []Entry {
	s.mu.Lock()
	out := make([]Entry, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// Sync implements Store: when a position changed since the last Sync, the
// whole file is written again (see FileStore).
func (s *FileStore) Sync() error {
	s.ioMu.Lock()
	defer s.ioMu.Unlock()
	s.mu.Lock()
	v := s.version
	if s.path == "" || v == s.synced {
		s.mu.Unlock()
		return nil
	}
	b := encodePositions(s.gen+1, s.seq, s.entries)
	s.mu.Unlock()
	if err := s.write(b); err != nil {
		return err
	}
	s.gen++
	s.mu.Lock()
	s.synced = v
	s.mu.Unlock()
	return nil
}

// write replaces the pos_file with b: NAME.tmp is written (and fsynced),
// NAME.prev becomes a hard link to NAME (or, where links fail, NAME is
// renamed to it), then NAME.tmp is renamed to NAME. NAME exists at every
// step but that fallback's.
func (s *FileStore) write(b []byte) error {
	tmp, prev := s.path+".tmp", s.path+".prev"
	if err := statefile.Write(tmp, b, s.fsync); err != nil {
		return fmt.Errorf("write pos_file %s: %w", tmp, err)
	}
	if err := os.Remove(prev); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write pos_file: %w", err)
	}
	if err := os.Link(s.path, prev); err != nil && !errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(s.path, prev); err != nil {
			return fmt.Errorf("write pos_file: %w", err)
		}
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("write pos_file: %w", err)
	}
	if s.fsync {
		if err := statefile.SyncDir(filepath.Dir(s.path)); err != nil {
			return fmt.Errorf("write pos_file: %w", err)
		}
	}
	return nil
}
