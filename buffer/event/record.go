package event

import (
	"encoding/binary"
	"fmt"
)

// IsMap reports whether b starts with a msgpack map header (fixmap, map16
// or map32): the one test of "the record is a map".
func IsMap(b []byte) bool {
	return len(b) > 0 && (b[0]&0xf0 == 0x80 || b[0] == 0xde || b[0] == 0xdf)
}

// CheckRecord checks that b starts with a record: a well-formed msgpack map
// nested at most MaxDepth levels, the map itself being level 1,
// maps and arrays nested in it (as keys or values) level 2, and so on. It
// returns the rest of b after the record.
func CheckRecord(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return b, errShort
	}
	if !IsMap(b) {
		return b, fmt.Errorf("%w: record is not a map (0x%02x)", ErrEntry, b[0])
	}
	return skipValues(b, 1, 0)
}

// skipValues returns b after n msgpack values; the maps and arrays among
// them are at level depth+1.
func skipValues(b []byte, n, depth int) ([]byte, error) {
	for ; n > 0; n-- {
		if len(b) == 0 {
			return b, errShort
		}
		c := b[0]
		size, count := 1, -1 // bytes of the value (of a container: its header); elements of a container
		switch {
		case c <= 0x7f || c >= 0xe0:
			b = b[1:]
			continue
		case c >= 0xa0 && c <= 0xbf:
			size = 1 + int(c&0x1f)
		case c >= 0x80 && c <= 0x8f:
			count = 2 * int(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			count = int(c & 0x0f)
		default:
			var ok bool
			if size, count, ok = valueSize(b); !ok {
				if c == 0xc1 {
					return b, errInvalidByte
				}
				return b, errShort
			}
		}
		if len(b) < size {
			return b, errShort
		}
		b = b[size:]
		if count < 0 {
			continue
		}
		if depth+1 > MaxDepth {
			return b, ErrTooDeep
		}
		if count > len(b) { // every element takes a byte at least
			return b, errShort
		}
		var err error
		if b, err = skipValues(b, count, depth+1); err != nil {
			return b, err
		}
	}
	return b, nil
}

// valueSize returns the size of the value at b (0xc0..0xdf), or of its
// header and its number of elements (count >= 0) for an array or map. ok
// is false when b is too short to tell, or for 0xc1.
func valueSize(b []byte) (size, count int, ok bool) {
	c := b[0]
	count = -1
	switch c {
	case 0xc0, 0xc2, 0xc3:
		return 1, count, true
	case 0xcc, 0xd0:
		return 2, count, true
	case 0xcd, 0xd1:
		return 3, count, true
	case 0xca, 0xce, 0xd2:
		return 5, count, true
	case 0xcb, 0xcf, 0xd3:
		return 9, count, true
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext: type byte and 1..16 bytes
		return 2 + 1<<(c-0xd4), count, true
	}
	var n, h int
	switch c {
	case 0xd9, 0xc4, 0xc7:
		if len(b) < 2 {
			return 0, 0, false
		}
		n, h = int(b[1]), 2
	case 0xda, 0xc5, 0xc8, 0xdc, 0xde:
		if len(b) < 3 {
			return 0, 0, false
		}
		n, h = int(binary.BigEndian.Uint16(b[1:])), 3
	case 0xdb, 0xc6, 0xc9, 0xdd, 0xdf:
		if len(b) < 5 {
			return 0, 0, false
		}
		n, h = int(binary.BigEndian.Uint32(b[1:])), 5
	default: // 0xc1
		return 0, 0, false
	}
	switch c {
	case 0xdc, 0xdd:
		return h, n, true
	case 0xde, 0xdf:
		return h, 2 * n, true
	case 0xc7, 0xc8, 0xc9:
		return h + 1 + n, count, true // and the ext type byte
	}
	return h + n, count, true
}
