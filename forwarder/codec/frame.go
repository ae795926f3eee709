package codec

import (
	"errors"
	"io"
)

const (
	frameInitial = 16 << 10 // first buffer size, always kept
	frameKeep    = 1 << 20  // without an Allocator, buffers up to this size are kept between frames
	frameJump    = 1 << 20  // a frame declaring up to this size gets its buffer at once
	frameSlack   = 4 << 10  // room left after a declared payload for what follows it (options)
)

// FrameReader cuts a byte stream into msgpack objects (the forward protocol
// sends one message per top-level object). Its buffer never grows beyond
// the size limit: a frame declared or found to be larger is rejected with
// ErrTooLarge as soon as that is known, without reading it all. The buffer
// grows with the bytes received (a frame declaring up to 1 MiB gets its
// buffer at once), so that a client cannot make it hold much more than it
// sent.
type FrameReader struct {
	// Alloc, when set before the first Next, supplies the buffers beyond
	// the first 16 KiB one (see Allocator).
	Alloc Allocator

	r     io.Reader
	limit int
	base  []byte // the first buffer, kept
	buf   []byte // base or a larger buffer
	start int    // first byte of the next frame in buf
	end   int    // end of buffered data
	sc    scanner
}

// NewFrameReader returns a reader of frames of at most limit bytes from r.
func NewFrameReader(r io.Reader, limit int) *FrameReader {
	return &FrameReader{r: r, limit: limit}
}

// SetLimit changes the size limit for the frames not yet started (a server
// reads the authentication handshake with a small one).
func (f *FrameReader) SetLimit(limit int) { f.limit = limit }

// Buffered returns how many bytes of the next frame are already buffered:
// 0 means the reader is between frames.
func (f *FrameReader) Buffered() int { return f.end - f.start }

// Release gives a large buffer back to the Allocator, moving what is
// buffered of the next frame to the first buffer when it fits there.
func (f *FrameReader) Release() {
	p := pool{f.Alloc}
	if cap(f.buf) <= p.keep() || &f.buf[0] == &f.base[0] {
		return
	}
	n := f.end - f.start
	if n > len(f.base) {
		return // still needed
	}
	copy(f.base, f.buf[f.start:f.end])
	p.put(f.buf)
	f.buf, f.start, f.end = f.base, 0, n
}

// Next returns the next complete msgpack object. The slice is valid until
// the next call. It returns io.EOF at a clean end of stream,
// io.ErrUnexpectedEOF when the stream ends inside a frame, ErrTooLarge or
// ErrMalformed for bad input, the Allocator's error, or the error of the
// underlying reader.
func (f *FrameReader) Next() ([]byte, error) {
	if f.start == f.end {
		f.start, f.end = 0, 0
	}
	if f.buf != nil {
		f.Release()
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
	if f.base == nil {
		b, err := pool{f.Alloc}.get(frameInitial)
		if err != nil {
			return err
		}
		f.base = b[:cap(b)]
		f.buf = f.base
	}
	need := max(f.sc.need, f.end-f.start+1)
	if f.start+need > len(f.buf) || f.end == len(f.buf) {
		// compact, then grow if there is no room to read into, or if the
		// frame declared a size small enough to get at once
		n := copy(f.buf, f.buf[f.start:f.end])
		f.start, f.end = 0, n
		if f.end == len(f.buf) || need > len(f.buf) && need+frameSlack <= frameJump {
			if err := f.grow(); err != nil {
				return err
			}
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

// grow moves the buffered frame (at the front of buf) to a larger buffer:
// double the current one, or just what a declared payload needs (with
// slack for what follows it) when that is smaller or at most frameJump;
// never above the limit.
func (f *FrameReader) grow() error {
	size := 2 * len(f.buf)
	if d := f.sc.need; d > f.end+1 { // a payload ending at d was declared
		if d+frameSlack <= frameJump || d+frameSlack < size {
			size = d + frameSlack
		}
	}
	size = min(size, f.limit)
	if size <= len(f.buf) {
		return ErrTooLarge
	}
	p := pool{f.Alloc}
	nb, err := p.get(size)
	if err != nil {
		return err
	}
	nb = nb[:cap(nb)]
	copy(nb, f.buf[:f.end])
	if &f.buf[0] != &f.base[0] {
		p.put(f.buf)
	}
	f.buf = nb
	return nil
}
