package codec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// byteReader is a resettable bytes.Reader (kept to avoid an allocation per
// message).
type byteReader = bytes.Reader

// gunzipInitial is the smallest first buffer for a decompressed payload.
const gunzipInitial = 4 << 10

// gunzip decompresses a CompressedPackedForward payload, which may be
// several concatenated gzip members, into d.zbuf. The decompressed size is
// bounded by d.Limit: a larger payload (a gzip bomb) is rejected. The
// buffer starts at the size the last member's trailer announces (exact for
// the usual single member; a lie costs no more than the limit, which the
// payload could claim anyway), then grows (see gunzipSize), so that the
// payload and the buffers, old and new while one grows, never hold more
// than twice the limit.
func (d *Decoder) gunzip(p []byte) ([]byte, error) {
	limit := d.limit()
	d.zr.Reset(p)
	if d.gz == nil {
		gz, err := gzip.NewReader(&d.zr)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrMessage, err)
		}
		d.gz = gz
	} else if err := d.gz.Reset(&d.zr); err != nil {
		return nil, fmt.Errorf("%w: gzip: %v", ErrMessage, err)
	}
	d.gz.Multistream(true)
	hint := 0
	if len(p) >= 18 { // the smallest gzip member
		hint = int(binary.LittleEndian.Uint32(p[len(p)-4:]))
	}
	pl := pool{d.Alloc}
	out, err := pl.buffer(&d.zbuf, gunzipSize(0, hint, len(p), limit))
	if err != nil {
		return nil, err
	}
	for {
		if len(out) == cap(out) {
			// full: one more byte says whether it must grow
			n, err := io.ReadFull(d.gz, d.peek[:])
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%w: gzip: %v", ErrMessage, err)
			}
			if len(out)+n > limit {
				return nil, fmt.Errorf("%w: decompressed payload over %d bytes", ErrTooLarge, limit)
			}
			nb, err := pl.get(gunzipSize(cap(out), 0, len(p), limit))
			if err != nil {
				return nil, err
			}
			nb = append(nb, out...)
			pl.put(d.zbuf)
			d.zbuf = nb
			out = append(nb, d.peek[0])
		}
		n, err := d.gz.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if len(out) > limit { // a buffer larger than asked for
			return nil, fmt.Errorf("%w: decompressed payload over %d bytes", ErrTooLarge, limit)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrMessage, err)
		}
	}
	return out, nil
}

// gunzipSize is the size of the buffer for a payload of compressed bytes
// decompressing to at most limit: the first one when cur is 0 (the
// trailer's hint: the payload with it never holds more than twice the
// limit), else the one to grow a full buffer of cur bytes to. Growing, it
// stays within limit-compressed, from which one step to limit holds (with
// the payload, the old and the new buffer) no more than twice the limit;
// only a hint above that which proves too small (the last of several gzip
// members) may need more.
func gunzipSize(cur, hint, compressed, limit int) int {
	if cur == 0 {
		return min(max(hint, gunzipInitial), limit)
	}
	step := max(limit-compressed, gunzipInitial) // the largest size before the last step
	if cur < step {
		return min(2*cur, step)
	}
	return limit
}
