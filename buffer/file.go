package buffer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// On-disk format of a chunk file (see doc.go for the directory layout).
//
//	header: "BRGC" | u8 version (1) | 3 zero bytes | u32 body length | u32 crc32c(body) | body
//	body:   [16]byte id | i64 created (unix ns) | i64 timekey (unix s) |
//	        u8 flags (1: tag is a chunk key, 2: time is a chunk key) |
//	        u16 len + tag | u16 n | n * (u16 len + key, u16 len + value)
//	        (strings longer than 65535 bytes are cut in the header)
//	frames: u32 body length | u32 crc32c(body) | body, one per Append, where
//	        body = u32 records | i64 first ns | i64 last ns | u16 len + tag | entries
//
// All integers are big-endian. A frame is written with one pwrite(2).
const (
	magic       = "BRGC"
	version     = 1
	headPrefix  = 16
	maxHeader   = 1 << 20
	flagTag     = 1
	flagTime    = 2
	chunkSuffix = ".chunk"
)

var (
	errTorn   = errors.New("torn frame")
	errCRC    = errors.New("frame checksum mismatch")
	crcTable  = crc32.MakeTable(crc32.Castagnoli)
	errHeader = errors.New("bad chunk header")
)

func crc(b []byte) uint32 { return crc32.Checksum(b, crcTable) }

// encodeHeader returns the file header for c.
func encodeHeader(c *Chunk, tagKey, timeKey bool) []byte {
	body := make([]byte, 0, 64)
	id, _ := hexDecode(c.ID)
	body = append(body, id[:]...)
	body = binary.BigEndian.AppendUint64(body, uint64(c.Created.UnixNano()))
	var tk int64
	var flags byte
	if timeKey {
		tk = c.TimeKey.Unix()
		flags |= flagTime
	}
	if tagKey {
		flags |= flagTag
	}
	body = binary.BigEndian.AppendUint64(body, uint64(tk))
	body = append(body, flags)
	body = appendStr(body, c.Tag)
	body = binary.BigEndian.AppendUint16(body, uint16(min(len(c.Keys), maxTagLen)))
	for _, k := range sortedKeys(c.Keys) {
		body = appendStr(body, k)
		body = appendStr(body, c.Keys[k])
	}
	h := make([]byte, 0, headPrefix+len(body))
	h = append(h, magic...)
	h = append(h, version, 0, 0, 0)
	h = binary.BigEndian.AppendUint32(h, uint32(len(body)))
	h = binary.BigEndian.AppendUint32(h, crc(body))
	return append(h, body...)
}

// decodeHeader reads a header from r into a new chunk and returns its length.
func decodeHeader(r io.Reader) (*Chunk, int, error) {
	var p [headPrefix]byte
	if _, err := io.ReadFull(r, p[:]); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", errHeader, err)
	}
	if string(p[:4]) != magic || p[4] != version {
		return nil, 0, fmt.Errorf("%w: magic or version", errHeader)
	}
	hl := binary.BigEndian.Uint32(p[8:])
	if hl > maxHeader {
		return nil, 0, fmt.Errorf("%w: header of %d bytes", errHeader, hl)
	}
	body := make([]byte, hl)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", errHeader, err)
	}
	if crc(body) != binary.BigEndian.Uint32(p[12:]) {
		return nil, 0, fmt.Errorf("%w: checksum", errHeader)
	}
	if len(body) < 33 {
		return nil, 0, fmt.Errorf("%w: short", errHeader)
	}
	c := &Chunk{ID: fmt.Sprintf("%x", body[:16])}
	c.Created = time.Unix(0, int64(binary.BigEndian.Uint64(body[16:])))
	tk := int64(binary.BigEndian.Uint64(body[24:]))
	flags := body[32]
	rest := body[33:]
	var err error
	if c.Tag, rest, err = readStr(rest); err != nil {
		return nil, 0, err
	}
	if flags&flagTime != 0 {
		c.TimeKey = time.Unix(tk, 0)
	}
	if len(rest) < 2 {
		return nil, 0, fmt.Errorf("%w: short", errHeader)
	}
	n := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	for i := 0; i < n; i++ {
		var k, v string
		if k, rest, err = readStr(rest); err != nil {
			return nil, 0, err
		}
		if v, rest, err = readStr(rest); err != nil {
			return nil, 0, err
		}
		if c.Keys == nil {
			c.Keys = make(map[string]string, n)
		}
		c.Keys[k] = v
	}
	return c, headPrefix + len(body), nil
}

func appendStr(b []byte, s string) []byte {
	if len(s) > maxTagLen {
		s = s[:maxTagLen]
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func readStr(b []byte) (string, []byte, error) {
	if len(b) < 2 || len(b) < 2+int(binary.BigEndian.Uint16(b)) {
		return "", nil, fmt.Errorf("%w: short", errHeader)
	}
	n := int(binary.BigEndian.Uint16(b))
	return string(b[2 : 2+n]), b[2+n:], nil
}

// fileStore keeps a chunk in a file. write is called under the buffer's
// lock; mu keeps close and rename apart from sync and open.
type fileStore struct {
	mu    sync.RWMutex
	f     *os.File
	path  string
	size  atomic.Int64 // end of the valid data: nothing past it is ever read
	fsync bool
	// torn: a failed write left bytes past size that could not be cut off.
	// The chunk takes no more frames; readers stop at size anyway.
	torn bool
}

func newFileStore(f *os.File, path string, size int64, fsync bool) *fileStore {
	s := &fileStore{f: f, path: path, fsync: fsync}
	s.size.Store(size)
	return s
}

// errTornWrite is wrapped by a failed write that left part of a frame in
// the file: the chunk must be sealed.
var errTornWrite = errors.New("chunk file keeps a partial frame")

func chunkPath(dir, prefix, id string) string {
	return filepath.Join(dir, prefix+id+chunkSuffix)
}

// createFile creates b<ID>.chunk with its header.
func createFile(dir string, c *Chunk, tagKey, timeKey, fsync bool) (*fileStore, error) {
	p := chunkPath(dir, "b", c.ID)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	h := encodeHeader(c, tagKey, timeKey)
	if _, err := f.WriteAt(h, 0); err != nil {
		f.Close()
		os.Remove(p)
		return nil, fmt.Errorf("write chunk header %s: %w", p, err)
	}
	if fsync {
		// The directory entry must be durable before any ack that relies on it.
		if err := syncDir(dir); err != nil {
			f.Close()
			os.Remove(p)
			return nil, err
		}
	}
	return newFileStore(f, p, int64(len(h)), fsync), nil
}

// write appends frame at the end of the valid data. On any error the file
// is cut back to that end, whatever WriteAt reported written: on ENOSPC
// pwrite(2) can store part of the frame and still return an error with no
// count. If the cut fails too, the error wraps errTornWrite.
func (s *fileStore) write(frame []byte) error {
	if s.torn {
		return fmt.Errorf("write chunk %s: %w", s.path, errTornWrite)
	}
	size := s.size.Load()
	n, err := s.f.WriteAt(frame, size)
	if err == nil {
		s.size.Store(size + int64(n))
		return nil
	}
	if terr := s.f.Truncate(size); terr != nil {
		s.torn = true
		return fmt.Errorf("write chunk %s: %w (cut back to %d bytes: %w): %w", s.path, err, size, terr, errTornWrite)
	}
	return fmt.Errorf("write chunk %s: %w", s.path, err)
}

func (s *fileStore) sync() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.f == nil {
		return nil // closed (synced first) or purged after a successful flush
	}
	if err := dataSync(s.f); err != nil {
		return fmt.Errorf("fsync %s: %w", s.path, err)
	}
	return nil
}

func (s *fileStore) open() (frameSource, error) {
	s.mu.RLock()
	p := s.path
	s.mu.RUnlock()
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	// Only the valid data: a failed write may have left bytes past it.
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, s.size.Load()), 64<<10)
	if _, _, err := decodeHeader(r); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &fileSource{f: f, r: r}, nil
}

func (s *fileStore) enqueue() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	dir, base := filepath.Split(s.path)
	if len(base) == 0 || base[0] != 'b' {
		return nil
	}
	q := filepath.Join(dir, "q"+base[1:])
	if err := os.Rename(s.path, q); err != nil {
		return err
	}
	s.path = q
	return nil
}

func (s *fileStore) closeLocked() error {
	if s.f == nil {
		return nil
	}
	var err error
	if s.fsync {
		err = s.f.Sync()
	}
	err = errors.Join(err, s.f.Close())
	s.f = nil
	return err
}

func (s *fileStore) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeLocked()
}

func (s *fileStore) purge() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeLocked()
	if err := os.Remove(s.path); err != nil {
		return err
	}
	// After the chunk file: a crash in between leaves a sidecar without a
	// chunk (removed by recovery), never a chunk without its name.
	return removeNames(s.path)
}

func (s *fileStore) moveTo(dir string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.torn && s.f != nil && s.f.Truncate(s.size.Load()) == nil {
		s.torn = false // failed/ keeps a file that reads to its end
	}
	s.closeLocked()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	to := filepath.Join(dir, filepath.Base(s.path))
	if err := os.Rename(s.path, to); err != nil {
		return "", err
	}
	from := s.path
	s.path = to
	if err := moveNames(from, to); err != nil {
		return to, fmt.Errorf("move the names of %s: %w", to, err)
	}
	return to, nil
}

// fileSource streams frames from a chunk file.
type fileSource struct {
	f   *os.File
	r   *bufio.Reader
	buf []byte
}

func (s *fileSource) next() ([]byte, error) {
	var h [frameHead]byte
	if _, err := io.ReadFull(s.r, h[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, errTorn
	}
	l := int(binary.BigEndian.Uint32(h[:]))
	if l < frameFixed {
		return nil, errTorn
	}
	if cap(s.buf) < l {
		s.buf = make([]byte, l)
	}
	body := s.buf[:l]
	if _, err := io.ReadFull(s.r, body); err != nil {
		return nil, errTorn
	}
	if crc(body) != binary.BigEndian.Uint32(h[4:]) {
		return nil, errCRC
	}
	return body, nil
}

func (s *fileSource) close() error { return s.f.Close() }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
