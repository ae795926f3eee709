package format

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/barge-dev/barge/buffer/event"
)

// errMsgpack is wrapped by every error about malformed msgpack in a record.
var errMsgpack = fmt.Errorf("%w: malformed msgpack", event.ErrEntry)

var errShort = fmt.Errorf("%w: truncated", errMsgpack)

// AppendJSON transcodes the msgpack value at the front of b to JSON, appends
// it to dst and returns the rest of b. It works on the raw bytes, without
// decoding into Go values:
//   - str and bin become JSON strings; invalid UTF-8 becomes U+FFFD and control
//     characters, quotes and backslashes are escaped as encoding/json does
//     (but <, > and & are kept, as Ruby's JSON does);
//   - floats are written in the shortest form that reads back exactly, as
//     encoding/json does, with ".0" added to integral values so they stay
//     floats (as Ruby writes them); NaN and infinities become null;
//   - an EventTime (ext 0) or msgpack timestamp (ext -1) becomes a number of
//     seconds with nine decimals (exact, not rounded through a float);
//   - any other extension becomes {"ext":TYPE,"data":"BASE64"};
//   - map keys that are not strings are written as their JSON text in a
//     string ("1", "true"), nil as "".
//
// Maps and arrays may nest event.MaxDepth levels, the value itself (when
// it is one) being level 1; deeper is an error wrapping event.ErrTooDeep.
func AppendJSON(dst, b []byte) ([]byte, []byte, error) {
	return appendJSON(dst, b, 0)
}

func appendJSON(dst, b []byte, depth int) ([]byte, []byte, error) {
	if len(b) == 0 {
		return dst, b, errShort
	}
	c := b[0]
	switch {
	case c <= 0x7f:
		return strconv.AppendInt(dst, int64(c), 10), b[1:], nil
	case c >= 0xe0:
		return strconv.AppendInt(dst, int64(int8(c)), 10), b[1:], nil
	case c >= 0xa0 && c <= 0xbf:
		n := int(c & 0x1f)
		if len(b) < 1+n {
			return dst, b, errShort
		}
		return appendString(dst, b[1:1+n]), b[1+n:], nil
	case c >= 0x80 && c <= 0x8f:
		return appendJSONMap(dst, b[1:], int(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		return appendJSONArray(dst, b[1:], int(c&0x0f), depth)
	}
	switch c {
	case 0xc0:
		return append(dst, "null"...), b[1:], nil
	case 0xc2:
		return append(dst, "false"...), b[1:], nil
	case 0xc3:
		return append(dst, "true"...), b[1:], nil
	case 0xd9, 0xda, 0xdb, 0xc4, 0xc5, 0xc6:
		s, rest, err := readBytesValue(b)
		if err != nil {
			return dst, b, err
		}
		return appendString(dst, s), rest, nil
	case 0xca:
		if len(b) < 5 {
			return dst, b, errShort
		}
		f := math.Float32frombits(binary.BigEndian.Uint32(b[1:]))
		return appendFloat(dst, float64(f), 32), b[5:], nil
	case 0xcb:
		if len(b) < 9 {
			return dst, b, errShort
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(b[1:]))
		return appendFloat(dst, f, 64), b[9:], nil
	case 0xcc, 0xcd, 0xce, 0xcf:
		u, rest, err := readUint(b)
		if err != nil {
			return dst, b, err
		}
		return strconv.AppendUint(dst, u, 10), rest, nil
	case 0xd0, 0xd1, 0xd2, 0xd3:
		i, rest, err := readInt(b)
		if err != nil {
			return dst, b, err
		}
		return strconv.AppendInt(dst, i, 10), rest, nil
	case 0xdc, 0xdd, 0xde, 0xdf:
		n, rest, err := readContainerLen(b)
		if err != nil {
			return dst, b, err
		}
		if c >= 0xde {
			return appendJSONMap(dst, rest, n, depth)
		}
		return appendJSONArray(dst, rest, n, depth)
	case 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		typ, data, rest, err := readExt(b)
		if err != nil {
			return dst, b, err
		}
		return appendExt(dst, typ, data), rest, nil
	}
	return dst, b, fmt.Errorf("%w: invalid type byte 0x%02x", errMsgpack, c)
}

func appendJSONMap(dst, b []byte, n, depth int) ([]byte, []byte, error) {
	if depth >= event.MaxDepth {
		return dst, b, event.ErrTooDeep
	}
	dst = append(dst, '{')
	var err error
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, b, err = appendJSONKey(dst, b, depth); err != nil {
			return dst, b, err
		}
		dst = append(dst, ':')
		if dst, b, err = appendJSON(dst, b, depth+1); err != nil {
			return dst, b, err
		}
	}
	return append(dst, '}'), b, nil
}

func appendJSONArray(dst, b []byte, n, depth int) ([]byte, []byte, error) {
	if depth >= event.MaxDepth {
		return dst, b, event.ErrTooDeep
	}
	dst = append(dst, '[')
	var err error
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, b, err = appendJSON(dst, b, depth+1); err != nil {
			return dst, b, err
		}
	}
	return append(dst, ']'), b, nil
}

// appendJSONKey writes a map key as a JSON string.
func appendJSONKey(dst, b []byte, depth int) ([]byte, []byte, error) {
	if len(b) > 0 && b[0] >= 0xa0 && b[0] <= 0xbf { // fixstr: the common case
		n := int(b[0] & 0x1f)
		if len(b) < 1+n {
			return dst, b, errShort
		}
		return appendString(dst, b[1:1+n]), b[1+n:], nil
	}
	if s, rest, err := readBytesValue(b); err == nil {
		return appendString(dst, s), rest, nil
	}
	if len(b) > 0 && b[0] == 0xc0 {
		return append(dst, `""`...), b[1:], nil
	}
	start := len(dst)
	dst, rest, err := appendJSON(dst, b, depth+1)
	if err != nil {
		return dst, b, err
	}
	// Quote the key's JSON text. It is usually short; copy it aside.
	text := string(dst[start:])
	return appendString(dst[:start], []byte(text)), rest, nil
}

// appendFloat writes f as encoding/json does, plus ".0" for integral values.
func appendFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// e-09 -> e-9, as encoding/json does.
		n := len(dst)
		if n-start >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
		return dst
	}
	for _, c := range dst[start:] {
		if c == '.' {
			return dst
		}
	}
	return append(dst, '.', '0')
}

// appendExt writes an extension value (see AppendJSON).
func appendExt(dst []byte, typ int8, data []byte) []byte {
	switch {
	case typ == 0 && len(data) == 8:
		sec := int64(binary.BigEndian.Uint32(data))
		nsec := int64(binary.BigEndian.Uint32(data[4:]))
		return appendSecNsec(dst, sec, nsec)
	case typ == -1 && len(data) == 4:
		return appendSecNsec(dst, int64(binary.BigEndian.Uint32(data)), 0)
	case typ == -1 && len(data) == 8:
		v := binary.BigEndian.Uint64(data)
		return appendSecNsec(dst, int64(v&(1<<34-1)), int64(v>>34))
	case typ == -1 && len(data) == 12:
		nsec := int64(binary.BigEndian.Uint32(data))
		sec := int64(binary.BigEndian.Uint64(data[4:]))
		return appendSecNsec(dst, sec, nsec)
	}
	dst = append(dst, `{"ext":`...)
	dst = strconv.AppendInt(dst, int64(typ), 10)
	dst = append(dst, `,"data":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, data)
	return append(dst, `"}`...)
}

// appendSecNsec writes seconds with a nine-digit fraction.
func appendSecNsec(dst []byte, sec, nsec int64) []byte {
	if nsec < 0 || nsec >= 1e9 {
		nsec = 0
	}
	dst = strconv.AppendInt(dst, sec, 10)
	dst = append(dst, '.')
	var buf [9]byte
	for i := 8; i >= 0; i-- {
		buf[i] = byte('0' + nsec%10)
		nsec /= 10
	}
	return append(dst, buf[:]...)
}
