package codec

import (
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// byteReader is a resettable bytes.Reader (kept to avoid an allocation per
// message).
type byteReader = bytes.Reader

// gunzip decompresses a CompressedPackedForward payload, which may be
// several concatenated gzip members, into d.zbuf. The decompressed size is
// bounded by d.Limit: a larger payload (a gzip bomb) is rejected.
func (d *Decoder) gunzip(p []byte) ([]byte, error) {
	limit := d.Limit
	if limit <= 0 {
		limit = 64 << 20
	}
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
	if cap(d.zbuf) == 0 {
		d.zbuf = make([]byte, 0, 64<<10)
	}
	out := d.zbuf[:0]
	for {
		if len(out) == cap(out) {
			if len(out) > limit {
				return nil, fmt.Errorf("%w: decompressed payload over %d bytes", ErrTooLarge, limit)
			}
			grow := 2 * cap(out)
			if grow > limit+1 {
				grow = limit + 1
			}
			nb := make([]byte, len(out), grow)
			copy(nb, out)
			out = nb
			d.zbuf = nb
		}
		n, err := d.gz.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if len(out) > limit {
			return nil, fmt.Errorf("%w: decompressed payload over %d bytes", ErrTooLarge, limit)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrMessage, err)
		}
	}
	if cap(out) > frameKeep {
		d.zbuf = nil // do not keep a large buffer between messages
	} else {
		d.zbuf = out[:0]
	}
	return out, nil
}
