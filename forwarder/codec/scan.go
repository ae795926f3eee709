package codec

import "errors"

// ErrMalformed is returned for bytes that are not msgpack.
var ErrMalformed = errors.New("codec: malformed msgpack")

// ErrTooLarge is returned for a msgpack object larger than the size limit.
var ErrTooLarge = errors.New("codec: frame over size limit")

// errShort reports a truncated object inside a complete buffer.
var errShort = errors.New("codec: truncated msgpack")

// head decodes the header of the msgpack object at the front of b. It returns
// the header length, the length of the payload that follows it (str, bin,
// ext and fixed-size types), and the number of nested objects that follow
// (arrays and maps). ok is false when b is too short to hold the header;
// bad is true when b[0] is not a msgpack type byte.
func head(b []byte) (hdr int, payload, items uint64, ok, bad bool) {
	if len(b) == 0 {
		return 0, 0, 0, false, false
	}
	c := b[0]
	switch {
	case c <= 0x7f || c >= 0xe0:
		return 1, 0, 0, true, false
	case c <= 0x8f:
		return 1, 0, uint64(c&0x0f) * 2, true, false
	case c <= 0x9f:
		return 1, 0, uint64(c & 0x0f), true, false
	case c <= 0xbf:
		return 1, uint64(c & 0x1f), 0, true, false
	}
	switch c {
	case 0xc0, 0xc2, 0xc3:
		return 1, 0, 0, true, false
	case 0xc4, 0xd9: // bin8, str8
		if len(b) < 2 {
			return 0, 0, 0, false, false
		}
		return 2, uint64(b[1]), 0, true, false
	case 0xc5, 0xda:
		if len(b) < 3 {
			return 0, 0, 0, false, false
		}
		return 3, uint64(be16(b[1:])), 0, true, false
	case 0xc6, 0xdb:
		if len(b) < 5 {
			return 0, 0, 0, false, false
		}
		return 5, uint64(be32(b[1:])), 0, true, false
	case 0xc7: // ext8: len, type
		if len(b) < 3 {
			return 0, 0, 0, false, false
		}
		return 3, uint64(b[1]), 0, true, false
	case 0xc8:
		if len(b) < 4 {
			return 0, 0, 0, false, false
		}
		return 4, uint64(be16(b[1:])), 0, true, false
	case 0xc9:
		if len(b) < 6 {
			return 0, 0, 0, false, false
		}
		return 6, uint64(be32(b[1:])), 0, true, false
	case 0xca, 0xce, 0xd2:
		return 1, 4, 0, true, false
	case 0xcb, 0xcf, 0xd3:
		return 1, 8, 0, true, false
	case 0xcc, 0xd0:
		return 1, 1, 0, true, false
	case 0xcd, 0xd1:
		return 1, 2, 0, true, false
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16 plus the type byte
		return 2, 1 << (c - 0xd4), 0, true, false
	case 0xdc:
		if len(b) < 3 {
			return 0, 0, 0, false, false
		}
		return 3, 0, uint64(be16(b[1:])), true, false
	case 0xdd:
		if len(b) < 5 {
			return 0, 0, 0, false, false
		}
		return 5, 0, uint64(be32(b[1:])), true, false
	case 0xde:
		if len(b) < 3 {
			return 0, 0, 0, false, false
		}
		return 3, 0, 2 * uint64(be16(b[1:])), true, false
	case 0xdf:
		if len(b) < 5 {
			return 0, 0, 0, false, false
		}
		return 5, 0, 2 * uint64(be32(b[1:])), true, false
	}
	return 0, 0, 0, false, true // 0xc1
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }
func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// Skip returns the length of the msgpack object at the front of b. It does
// not recurse, so deeply nested input costs no stack.
func Skip(b []byte) (int, error) {
	n, _, err := skim(b)
	return n, err
}

// skim is Skip that also counts the non-empty maps and arrays it crossed.
// Nesting is at most that count plus one (an empty one at the bottom), so a
// small count proves shallow nesting without tracking levels.
func skim(b []byte) (n, containers int, err error) {
	off := 0
	for pending := uint64(1); pending > 0; pending-- {
		hdr, payload, items, ok, bad := head(b[off:])
		if bad {
			return 0, 0, ErrMalformed
		}
		if !ok || hdr > len(b)-off || payload > uint64(len(b)-off-hdr) {
			return 0, 0, errShort
		}
		off += hdr + int(payload)
		if items > 0 {
			// every pending object takes at least one byte
			if items > uint64(len(b)-off) {
				return 0, 0, errShort
			}
			pending += items
			containers++
		}
	}
	return off, containers, nil
}

// nestedDeeper reports whether maps and arrays nest more than max levels
// in the well-formed object b, the object itself being level 1 when it is
// a map or an array. It keeps one count per open level in a fixed array,
// so even input nested 100,000 deep costs no stack. max is at most
// MaxDepth+1.
func nestedDeeper(b []byte, max int) bool {
	var open [MaxDepth + 1]uint64 // objects still to read in each enclosing level
	depth, off := 0, 0
	for pending := uint64(1); ; {
		hdr, payload, items, ok, bad := head(b[off:])
		if !ok || bad {
			return false // not well-formed: Skip reports it
		}
		c := b[off]
		off += hdr + int(payload)
		pending--
		if c&0xe0 == 0x80 || c >= 0xdc && c <= 0xdf { // map or array
			if depth == max {
				return true
			}
			if items > 0 {
				open[depth] = pending
				depth++
				pending = items
				continue
			}
		}
		for pending == 0 {
			if depth == 0 {
				return false
			}
			depth--
			pending = open[depth]
		}
	}
}

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
		hdr, payload, items, ok, bad := head(b[s.off:])
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
