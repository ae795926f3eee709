package buffer

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// An output that uploads a chunk (s3, gcs) encodes it into a spool first
// and uploads from there: the parts and requests it sends are sections of
// the spool, read again on a retry, so the memory an upload holds is a few
// small buffers whatever its part size, concurrency or the chunk's size.
//
// A file chunk's spool is a file in the buffer's spool/ directory, on the
// chunk's volume. The file has no name: it is opened with O_TMPFILE, or,
// where the file system does not support that, created and removed at
// once. Its space is freed when it is closed or the process ends, so a
// crash leaves nothing behind; recovery empties spool/ of what the second
// way can leave (a crash between the create and the remove). A memory
// chunk's spool is in memory: the chunk is there already, and its encoded
// form is smaller.

// spoolDir is the directory, inside a file buffer's, of the spools.
const spoolDir = "spool"

// spoolBlock is the size of a memory spool's blocks and of a file spool's
// write buffer.
const spoolBlock = 256 << 10

// Spool is where a Flusher stages the encoded form of one chunk. Write
// appends; ReadAt and Section read what was written and flushed (Flush).
// Readers may run concurrently with each other and with Write, on the
// flushed part; Write, Flush and Close are for one goroutine. A read after
// Close fails.
type Spool struct {
	mu      sync.RWMutex // a memory spool's blocks and flushed, against readers
	f       *os.File
	buf     []byte   // file: written, not yet flushed to f
	blocks  [][]byte // memory: the data, in blocks of spoolBlock
	size    int64    // bytes written
	flushed int64    // bytes readable
	closed  bool
}

// Spool returns an empty spool for chunk c's encoded form (see above). The
// caller closes it.
func (c *Chunk) Spool() (*Spool, error) {
	s, ok := c.st.(*fileStore)
	if !ok {
		return &Spool{}, nil
	}
	dir := filepath.Join(filepath.Dir(s.path), spoolDir)
	f, err := tempFile(dir)
	if err != nil {
		return nil, fmt.Errorf("spool for chunk %s: %w", c.ID, err)
	}
	return &Spool{f: f, buf: make([]byte, 0, spoolBlock)}, nil
}

// tempFile opens an unnamed file in dir, creating dir.
func tempFile(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if o_TMPFILE != 0 {
		fd, err := syscall.Open(dir, syscall.O_RDWR|o_TMPFILE|syscall.O_CLOEXEC, 0o600)
		if err == nil {
			return os.NewFile(uintptr(fd), filepath.Join(dir, "(unnamed)")), nil
		}
	}
	f, err := os.CreateTemp(dir, "spool-")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// cleanSpools removes what a crash left in the buffer's spool/ directory.
func (b *Buffer) cleanSpools() {
	dir := filepath.Join(b.cfg.Path, spoolDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			b.log.Warn("read the spool directory", "path", dir, "err", err)
		}
		return
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(p); err != nil {
			b.log.Warn("remove a spool file left by a crash", "path", p, "err", err)
			continue
		}
		b.log.Info("removed a spool file left by a crash", "path", p)
	}
}

var errSpoolClosed = errors.New("buffer: spool closed")

// Write appends p.
func (s *Spool) Write(p []byte) (int, error) {
	if s.closed {
		return 0, errSpoolClosed
	}
	n := len(p)
	if s.f == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		for len(p) > 0 {
			if len(s.blocks) == 0 || len(s.blocks[len(s.blocks)-1]) == spoolBlock {
				s.blocks = append(s.blocks, make([]byte, 0, spoolBlock))
			}
			last := &s.blocks[len(s.blocks)-1]
			k := min(spoolBlock-len(*last), len(p))
			*last = append(*last, p[:k]...)
			p = p[k:]
		}
		s.size += int64(n)
		s.flushed = s.size
		return n, nil
	}
	if len(s.buf)+len(p) > cap(s.buf) {
		if err := s.Flush(); err != nil {
			return 0, err
		}
		if len(p) >= cap(s.buf) {
			if _, err := s.f.WriteAt(p, s.size); err != nil {
				return 0, fmt.Errorf("write spool: %w", err)
			}
			s.size += int64(n)
			s.flushed = s.size
			return n, nil
		}
	}
	s.buf = append(s.buf, p...)
	s.size += int64(n)
	return n, nil
}

// Flush makes every byte written readable.
func (s *Spool) Flush() error {
	if s.f == nil || len(s.buf) == 0 {
		return nil
	}
	if _, err := s.f.WriteAt(s.buf, s.flushed); err != nil {
		return fmt.Errorf("write spool: %w", err)
	}
	s.flushed += int64(len(s.buf))
	s.buf = s.buf[:0]
	return nil
}

// Size returns the number of bytes written.
func (s *Spool) Size() int64 { return s.size }

// ReadAt reads flushed bytes.
func (s *Spool) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("buffer: spool read at a negative offset")
	}
	if s.f != nil {
		return s.f.ReadAt(p, off)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, errSpoolClosed
	}
	n := 0
	for n < len(p) && off < s.flushed {
		b := s.blocks[off/spoolBlock]
		c := copy(p[n:], b[off%spoolBlock:])
		n += c
		off += int64(c)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Section returns a reader of n bytes at off: a part or a request body,
// which a retry reads again from the start (it is an io.ReadSeeker).
func (s *Spool) Section(off, n int64) *io.SectionReader {
	return io.NewSectionReader(s, off, n)
}

// Close releases the spool: a file's space is freed. It is idempotent.
func (s *Spool) Close() error {
	if s.closed {
		return nil
	}
	s.mu.Lock()
	s.closed = true
	s.blocks, s.buf = nil, nil
	s.mu.Unlock()
	if s.f != nil {
		return s.f.Close()
	}
	return nil
}
