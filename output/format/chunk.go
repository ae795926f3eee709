package format

import (
	"errors"
	"io"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/event"
)

// EncodeChunk encodes every record of c to w (see Encode).
func (e *Encoder) EncodeChunk(w io.Writer, c *buffer.Chunk) (Stats, error) {
	r, err := c.Open()
	if err != nil {
		return Stats{}, err
	}
	stats, err := e.Encode(w, r)
	if cerr := r.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return stats, err
}

// IsDataError reports whether err is about malformed records (it wraps
// event.ErrEntry): retrying cannot help. Encode no longer
// returns such errors, it rejects the records (Stats.Rejects); their
// reasons come from them.
func IsDataError(err error) bool {
	return errors.Is(err, event.ErrEntry)
}
