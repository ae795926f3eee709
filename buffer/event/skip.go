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

// skimSlow is Skim for every input: it reads each header with Head.
func skimSlow(b []byte) (n, containers int, err error) {
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

// fixedSize is the whole length of a msgpack object of each type byte whose
// length that byte alone tells (0: it does not, or a map or an array).
var fixedSize = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c <= 0x7f || c >= 0xe0: // fixints
			t[c] = 1
		case c >= 0xa0 && c <= 0xbf: // fixstr
			t[c] = uint8(1 + c&0x1f)
		}
	}
	for c, n := range map[byte]uint8{
		0xc0: 1, 0xc2: 1, 0xc3: 1, // nil, false, true
		0xca: 5, 0xcb: 9, // floats
		0xcc: 2, 0xcd: 3, 0xce: 5, 0xcf: 9, 0xd0: 2, 0xd1: 3, 0xd2: 5, 0xd3: 9, // ints
		0xd4: 3, 0xd5: 4, 0xd6: 6, 0xd7: 10, 0xd8: 18, // fixext 1 to 16
	} {
		t[c] = n
	}
	return t
}()

// Skim is Skip that also counts the non-empty maps and arrays it crossed.
// Nesting is at most that count plus one (an empty one at the bottom), so a
// small count proves shallow nesting without tracking levels.
//
// It is fast on the types records are mostly made of:
// one table lookup for the types of fixed length, fixmap and fixarray,
// str8, str16, bin8 and bin16. Any other type, and any malformed input,
// is left to skimSlow from the start, so the results are the same.
func Skim(b []byte) (n, containers int, err error) {
	off := 0
	for pending := 1; pending > 0; pending-- {
		if off >= len(b) {
			return skimSlow(b)
		}
		c := b[off]
		if sz := fixedSize[c]; sz != 0 {
			off += int(sz)
			continue
		}
		switch {
		case c <= 0x9f: // fixmap (0x80-0x8f), fixarray (0x90-0x9f)
			items := int(c & 0x0f)
			if c <= 0x8f {
				items *= 2
			}
			off++
			if items > 0 {
				pending += items
				containers++
			}
		case c == 0xd9 || c == 0xc4: // str8, bin8
			if off+1 >= len(b) {
				return skimSlow(b)
			}
			off += 2 + int(b[off+1])
		case c == 0xda || c == 0xc5: // str16, bin16
			if off+2 >= len(b) {
				return skimSlow(b)
			}
			off += 3 + (int(b[off+1])<<8 | int(b[off+2]))
		default:
			return skimSlow(b)
		}
	}
	if off > len(b) {
		return skimSlow(b)
	}
	return off, containers, nil
}
