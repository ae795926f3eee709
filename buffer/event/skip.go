package event

import "fmt"

// errShort reports a truncated object inside a complete buffer;
// errInvalidByte the type byte 0xc1, which msgpack never uses.
var (
	errShort       = fmt.Errorf("%w: malformed msgpack (truncated)", ErrEntry)
	errInvalidByte = fmt.Errorf("%w: malformed msgpack (invalid type byte 0xc1)", ErrEntry)
)

// Head decodes the header of the msgpack object at the front of b. It returns
// the header length, the length of the payload that follows it (str, bin,
// ext and fixed-size types), and the number of nested objects that follow
// (arrays and maps). ok is false when b is too short to hold the header;
// bad is true when b[0] is not a msgpack type byte.
func Head(b []byte) (hdr int, payload, items uint64, ok, bad bool) {
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
	n, _, err := Skim(b)
	return n, err
}

// Skim is Skip that also counts the non-empty maps and arrays it crossed.
// Nesting is at most that count plus one (an empty one at the bottom), so a
// small count proves shallow nesting without tracking levels.
func Skim(b []byte) (n, containers int, err error) {
	off := 0
	for pending := uint64(1); pending > 0; pending-- {
		hdr, payload, items, ok, bad := Head(b[off:])
		if bad {
			return 0, 0, errInvalidByte
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
