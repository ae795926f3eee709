package format

import (
	"encoding/binary"
	"fmt"
)

// Small zero-copy msgpack readers for the hot path. Each takes b starting at
// a value's type byte and returns the rest after what it read.

var errNotBytes = fmt.Errorf("%w: not a str or bin", errMsgpack)

// readBytesValue reads a str or bin and returns its bytes (aliasing b).
func readBytesValue(b []byte) (v, rest []byte, err error) {
	if len(b) == 0 {
		return nil, b, errShort
	}
	var n, h int
	switch c := b[0]; {
	case c >= 0xa0 && c <= 0xbf:
		n, h = int(c&0x1f), 1
	case c == 0xd9 || c == 0xc4:
		if len(b) < 2 {
			return nil, b, errShort
		}
		n, h = int(b[1]), 2
	case c == 0xda || c == 0xc5:
		if len(b) < 3 {
			return nil, b, errShort
		}
		n, h = int(binary.BigEndian.Uint16(b[1:])), 3
	case c == 0xdb || c == 0xc6:
		if len(b) < 5 {
			return nil, b, errShort
		}
		n, h = int(binary.BigEndian.Uint32(b[1:])), 5
	default:
		return nil, b, errNotBytes
	}
	if len(b)-h < n {
		return nil, b, errShort
	}
	return b[h : h+n], b[h+n:], nil
}

// readUint reads uint8..uint64 (0xcc..0xcf).
func readUint(b []byte) (uint64, []byte, error) {
	switch b[0] {
	case 0xcc:
		if len(b) >= 2 {
			return uint64(b[1]), b[2:], nil
		}
	case 0xcd:
		if len(b) >= 3 {
			return uint64(binary.BigEndian.Uint16(b[1:])), b[3:], nil
		}
	case 0xce:
		if len(b) >= 5 {
			return uint64(binary.BigEndian.Uint32(b[1:])), b[5:], nil
		}
	case 0xcf:
		if len(b) >= 9 {
			return binary.BigEndian.Uint64(b[1:]), b[9:], nil
		}
	}
	return 0, b, errShort
}

// readInt reads int8..int64 (0xd0..0xd3).
func readInt(b []byte) (int64, []byte, error) {
	switch b[0] {
	case 0xd0:
		if len(b) >= 2 {
			return int64(int8(b[1])), b[2:], nil
		}
	case 0xd1:
		if len(b) >= 3 {
			return int64(int16(binary.BigEndian.Uint16(b[1:]))), b[3:], nil
		}
	case 0xd2:
		if len(b) >= 5 {
			return int64(int32(binary.BigEndian.Uint32(b[1:]))), b[5:], nil
		}
	case 0xd3:
		if len(b) >= 9 {
			return int64(binary.BigEndian.Uint64(b[1:])), b[9:], nil
		}
	}
	return 0, b, errShort
}

// readContainerLen reads the length of an array16/32 or map16/32.
func readContainerLen(b []byte) (int, []byte, error) {
	switch b[0] {
	case 0xdc, 0xde:
		if len(b) >= 3 {
			return int(binary.BigEndian.Uint16(b[1:])), b[3:], nil
		}
	case 0xdd, 0xdf:
		if len(b) >= 5 {
			return int(binary.BigEndian.Uint32(b[1:])), b[5:], nil
		}
	}
	return 0, b, errShort
}

// readMapHeader reads any map header and returns the number of pairs.
func readMapHeader(b []byte) (int, []byte, error) {
	if len(b) == 0 {
		return 0, b, errShort
	}
	switch c := b[0]; {
	case c >= 0x80 && c <= 0x8f:
		return int(c & 0x0f), b[1:], nil
	case c == 0xde || c == 0xdf:
		return readContainerLen(b)
	}
	return 0, b, fmt.Errorf("%w: record is not a map (0x%02x)", errMsgpack, b[0])
}

// readExt reads an extension's type and data.
func readExt(b []byte) (typ int8, data, rest []byte, err error) {
	var n, h int
	switch b[0] {
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		n, h = 1<<(b[0]-0xd4), 1
	case 0xc7:
		if len(b) < 2 {
			return 0, nil, b, errShort
		}
		n, h = int(b[1]), 2
	case 0xc8:
		if len(b) < 3 {
			return 0, nil, b, errShort
		}
		n, h = int(binary.BigEndian.Uint16(b[1:])), 3
	case 0xc9:
		if len(b) < 5 {
			return 0, nil, b, errShort
		}
		n, h = int(binary.BigEndian.Uint32(b[1:])), 5
	}
	if len(b)-h-1 < n {
		return 0, nil, b, errShort
	}
	return int8(b[h]), b[h+1 : h+1+n], b[h+1+n:], nil
}

// appendMapHeader appends a msgpack map header for n pairs.
func appendMapHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x80|byte(n))
	case n < 1<<16:
		return append(dst, 0xde, byte(n>>8), byte(n))
	default:
		return append(dst, 0xdf, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// appendStr appends a msgpack str.
func appendStr[T string | []byte](dst []byte, s T) []byte {
	n := len(s)
	switch {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n < 1<<8:
		dst = append(dst, 0xd9, byte(n))
	case n < 1<<16:
		dst = append(dst, 0xda, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, s...)
}
