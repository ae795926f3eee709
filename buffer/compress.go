package buffer

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
)

// <buffer> compress gzip: each frame's entries are stored as one gzip
// member (gzipFlag in the frame's records field), so a chunk takes less
// disk and memory. chunk_limit_size and total_limit_size still count the
// entries as appended: a chunk holds as many records either way. Readers
// (Chunk.Open) get the entries back as they were; recovery reads their
// size from the member's trailer. A chunk may mix frames of both kinds
// (compress changed between runs).

// frameGzip compresses frames' entries; a scan keeps one.
type frameGzip struct {
	w   *gzip.Writer
	buf bytes.Buffer
	out []byte // the frame buffer not in use by the caller
}

// frame returns frame (a finished frame, see endFrame) with its entries
// gzipped, in a buffer of its own: frame's buffer is kept for the next
// call, so the caller must not use frame afterwards.
func (z *frameGzip) frame(frame []byte) ([]byte, error) {
	fi, err := parseBody(frame[frameHead:])
	if err != nil {
		return nil, err
	}
	off := len(frame) - len(fi.entries)
	z.buf.Reset()
	if z.w == nil {
		z.w, _ = gzip.NewWriterLevel(&z.buf, gzip.BestSpeed) // the level is valid
	} else {
		z.w.Reset(&z.buf)
	}
	if _, err := z.w.Write(fi.entries); err != nil {
		return nil, err
	}
	if err := z.w.Close(); err != nil {
		return nil, err
	}
	out := append(z.out[:0], frame[:off]...)
	out = append(out, z.buf.Bytes()...)
	recs := binary.BigEndian.Uint32(out[frameHead:])
	binary.BigEndian.PutUint32(out[frameHead:], recs|gzipFlag)
	out = endFrame(out, fi.records, fi.first, fi.last)
	z.out = frame[:0]
	return out, nil
}

// size is the length of the frame's entries as appended: for a gzipped
// frame, the uncompressed length its gzip trailer gives (ISIZE).
func (fi *frameInfo) size() int64 {
	if fi.gzipped && len(fi.entries) >= 4 {
		return int64(binary.LittleEndian.Uint32(fi.entries[len(fi.entries)-4:]))
	}
	return int64(len(fi.entries))
}

// gunzipper decompresses gzipped frames for a Reader.
type gunzipper struct {
	r   *gzip.Reader
	src bytes.Reader
	out []byte
}

// gunzip returns the entries of a gzipped frame, valid until the next call.
func (g *gunzipper) gunzip(member []byte) ([]byte, error) {
	if len(member) < 4 {
		return nil, fmt.Errorf("gzip member of %d bytes", len(member))
	}
	g.src.Reset(member)
	if g.r == nil {
		r, err := gzip.NewReader(&g.src)
		if err != nil {
			return nil, err
		}
		g.r = r
	} else if err := g.r.Reset(&g.src); err != nil {
		return nil, err
	}
	g.r.Multistream(false)
	n := int(binary.LittleEndian.Uint32(member[len(member)-4:]))
	if cap(g.out) < n {
		g.out = make([]byte, n)
	}
	g.out = g.out[:n]
	if _, err := io.ReadFull(g.r, g.out); err != nil {
		return nil, err
	}
	var one [1]byte
	if k, err := g.r.Read(one[:]); k != 0 || err != io.EOF {
		return nil, fmt.Errorf("gzip member longer than its trailer says")
	}
	return g.out, nil
}
