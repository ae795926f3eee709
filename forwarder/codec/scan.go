package codec

import (
	"errors"

	"github.com/barge-dev/barge/buffer/event"
)

// ErrMalformed is returned for bytes that are not msgpack.
var ErrMalformed = errors.New("codec: malformed msgpack")

// ErrTooLarge is returned for a msgpack object larger than the size limit.
var ErrTooLarge = errors.New("codec: frame over size limit")

// scanner finds the end of one msgpack object in a growing buffer. Its state
// survives between calls so that a frame arriving in many reads is scanned
// once.
type scanner struct {
	off     int    // bytes of the frame already scanned
	pending uint64 // objects still to scan; 0 before the first call
	need    int    // the buffer must hold at least this many bytes to progress
}

// scan continues over b (which starts with the frame and only grows between
// calls). It returns the frame length once the frame is complete, 0 while
// more bytes are needed. limit bounds the frame size.
func (s *scanner) scan(b []byte, limit int) (int, error) {
	if s.pending == 0 {
		s.pending = 1
	}
	for s.pending > 0 {
		hdr, payload, items, ok, bad := event.Head(b[s.off:])
		if bad {
			return 0, ErrMalformed
		}
		if !ok {
			s.need = len(b) + 1
			return 0, nil
		}
		end := uint64(s.off) + uint64(hdr) + payload
		if end+items > uint64(limit) {
			return 0, ErrTooLarge
		}
		if end > uint64(len(b)) {
			s.need = int(end)
			return 0, nil
		}
		s.off = int(end)
		s.pending += items - 1
		if uint64(s.off)+s.pending > uint64(limit) {
			return 0, ErrTooLarge
		}
	}
	n := s.off
	*s = scanner{}
	return n, nil
}
