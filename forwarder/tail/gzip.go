package tail

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strings"
)

// isGzip reports whether path names a .gz file, read decompressed: its
// offsets count decompressed bytes, its fingerprint is that of its
// decompressed first bytes.
func isGzip(path string) bool { return strings.HasSuffix(path, ".gz") }

// gzSource reads a .gz file's decompressed bytes at an offset. The stream
// only goes forward: an offset before where it is, or a stream cut short
// (a file still being compressed), opens it again from the start and
// skips to the offset.
type gzSource struct {
	f   *os.File
	zr  *gzip.Reader // nil: to be opened at the next read
	off int64        // decompressed offset zr is at
}

func (g *gzSource) open() error {
	g.zr, g.off = nil, 0
	zr, err := gzip.NewReader(bufio.NewReader(io.NewSectionReader(g.f, 0, math.MaxInt64)))
	if err != nil {
		return err
	}
	g.zr = zr
	return nil
}

// ReadAt reads decompressed bytes from off into p. At the end of what the
// file holds now (complete or cut short) it returns 0 and io.EOF.
func (g *gzSource) ReadAt(p []byte, off int64) (int, error) {
	if g.zr == nil || off < g.off {
		if err := g.open(); err != nil {
			return 0, gzEOF(err)
		}
	}
	if off > g.off {
		n, err := io.CopyN(io.Discard, g.zr, off-g.off)
		g.off += n
		if err != nil {
			g.zr = nil
			return 0, gzEOF(err)
		}
	}
	n, err := g.zr.Read(p)
	g.off += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		g.zr = nil // cut short (or damaged): opened again next time
		if n > 0 && errors.Is(err, io.ErrUnexpectedEOF) {
			err = nil
		}
	}
	return n, gzEOF(err)
}

// gzEOF: a stream cut short is the end of what the file holds now.
func gzEOF(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return io.EOF
	}
	return err
}

// readIdentity is ReadIdentity, with the fingerprint of the decompressed
// first bytes when gz.
func readIdentity(f *os.File, gz bool) (Identity, fs.FileInfo, error) {
	id, fi, err := ReadIdentity(f)
	if err != nil || !gz {
		return id, fi, err
	}
	zr, err := gzip.NewReader(io.NewSectionReader(f, 0, math.MaxInt64))
	if err != nil {
		id.FP = Fingerprint{} // empty, or not yet a whole header
		return id, fi, nil
	}
	fp, err := ReadFingerprint(zr)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return Identity{}, nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	id.FP = fp
	return id, fi, nil
}

// gzSize returns the decompressed size of what f holds now.
func gzSize(f *os.File) (int64, error) {
	g := &gzSource{f: f}
	if err := g.open(); err != nil {
		return 0, gzEOF(err)
	}
	n, err := io.Copy(io.Discard, g.zr)
	return n, gzEOF(err)
}
