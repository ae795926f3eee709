package codec

import (
	"errors"
	"io"
)

const (
	frameInitial = 16 << 10 // first buffer size
	frameKeep    = 1 << 20  // buffers up to this size are kept between frames
)

// FrameReader cuts a byte stream into msgpack objects (the forward protocol
// sends one message per top-level object). Its buffer never grows beyond
// the size limit: a frame declared or found to be larger is rejected with
// ErrTooLarge as soon as that is known, without reading it all.
type FrameReader struct {
	r     io.Reader
	limit int
	buf   []byte
	start int // first byte of the next frame in buf
	end   int // end of buffered data
	sc    scanner
}

// NewFrameReader returns a reader of frames of at most limit bytes from r.
func NewFrameReader(r io.Reader, limit int) *FrameReader {
	return &FrameReader{r: r, limit: limit}
}

// Buffered returns how many bytes of the next frame are already buffered:
// 0 means the reader is between frames.
func (f *FrameReader) Buffered() int { return f.end - f.start }

// Next returns the next complete msgpack object. The slice is valid until
// the next call. It returns io.EOF at a clean end of stream,
// io.ErrUnexpectedEOF when the stream ends inside a frame, ErrTooLarge or
// ErrMalformed for bad input, or the error of the underlying reader.
func (f *FrameReader) Next() ([]byte, error) {
	if f.start == f.end {
		f.start, f.end = 0, 0
		if cap(f.buf) > frameKeep {
			f.buf = nil
		}
	}
	for {
		if f.end > f.start {
			n, err := f.sc.scan(f.buf[f.start:f.end], f.limit)
			if err != nil {
				return nil, err
			}
			if n > 0 {
				frame := f.buf[f.start : f.start+n : f.start+n]
				f.start += n
				return frame, nil
			}
		}
		if err := f.fill(); err != nil {
			if errors.Is(err, io.EOF) && f.end > f.start {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// fill reads more bytes, making room for at least the scanner's need.
func (f *FrameReader) fill() error {
	need := f.sc.need
	if need < f.end-f.start+1 {
		need = f.end - f.start + 1
	}
	if f.buf == nil {
		f.buf = make([]byte, frameInitial)
	}
	if f.start+need > len(f.buf) || f.end == len(f.buf) {
		// compact, then grow if the frame still does not fit
		n := copy(f.buf, f.buf[f.start:f.end])
		f.start, f.end = 0, n
		if need > len(f.buf) || f.end == len(f.buf) {
			size := 2 * len(f.buf)
			for size < need {
				size *= 2
			}
			if size > f.limit {
				size = f.limit
			}
			if size <= len(f.buf) {
				return ErrTooLarge
			}
			nb := make([]byte, size)
			copy(nb, f.buf[:f.end])
			f.buf = nb
		}
	}
	n, err := f.r.Read(f.buf[f.end:])
	f.end += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}
