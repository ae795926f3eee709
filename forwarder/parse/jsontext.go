package parse

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

// The JSON transcoder turns JSON text into msgpack without building Go
// values. It reads what encoding/json reads (RFC 8259) and decodes it the
// same way: invalid UTF-8 and lone surrogate escapes become U+FFFD; a
// number without a fraction or an exponent is an integer (int64, else
// uint64, else a float), any other number a float64, and one out of
// float64's range an error. Duplicate keys are kept as they come (a
// decoder of the record keeps the last, as encoding/json and Ruby do);
// the top-level object of a record is deduplicated by the record builder.
// Containers nest at most event.MaxDepth levels.

var (
	errJSON  = errors.New("parse: invalid JSON")
	errDeep  = errors.New("parse: JSON nested too deeply")
	errRange = errors.New("parse: JSON number out of range")
)

func skipWS(src []byte, i int) int {
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// appendJSON transcodes the JSON value at src[i:] (white space first
// allowed) and appends it to dst. level is the nesting level of the
// container holding the value (a record is level 1). It returns the index
// after the value.
func appendJSON(dst, src []byte, i, level int) ([]byte, int, error) {
	i = skipWS(src, i)
	if i >= len(src) {
		return dst, i, errJSON
	}
	switch c := src[i]; c {
	case '{':
		return appendObject(dst, src, i, level+1, nil)
	case '[':
		return appendArray(dst, src, i, level+1)
	case '"':
		return appendJSONString(dst, src, i)
	case 't':
		if hasLiteral(src, i, "true") {
			return msgp.AppendBool(dst, true), i + 4, nil
		}
	case 'f':
		if hasLiteral(src, i, "false") {
			return msgp.AppendBool(dst, false), i + 5, nil
		}
	case 'n':
		if hasLiteral(src, i, "null") {
			return msgp.AppendNil(dst), i + 4, nil
		}
	default:
		if c == '-' || isDigit(c) {
			return appendNumber(dst, src, i)
		}
	}
	return dst, i, errJSON
}

func hasLiteral(src []byte, i int, lit string) bool {
	return len(src)-i >= len(lit) && string(src[i:i+len(lit)]) == lit
}

// appendObject transcodes the object at src[i] (a brace) at level. top,
// when not nil, is the Transcoder of a record: its Field sees each field
// and its Tail follows them.
func appendObject(dst, src []byte, i, level int, top *Transcoder) ([]byte, int, error) {
	if level > event.MaxDepth {
		return dst, i, errDeep
	}
	h := len(dst)
	dst = append(dst, 0xdf, 0, 0, 0, 0)
	i = skipWS(src, i+1)
	n := 0
	if i < len(src) && src[i] == '}' {
		i++
	} else {
		var err error
		for {
			i = skipWS(src, i)
			if i >= len(src) || src[i] != '"' {
				return dst, i, errJSON
			}
			k := len(dst)
			if dst, i, err = appendJSONString(dst, src, i); err != nil {
				return dst, i, err
			}
			if i = skipWS(src, i); i >= len(src) || src[i] != ':' {
				return dst, i, errJSON
			}
			v := len(dst)
			if dst, i, err = appendJSON(dst, src, i+1, level); err != nil {
				return dst, i, err
			}
			n++
			if top != nil && top.Field != nil {
				if dst, err = top.Field(dst, k, v); err != nil {
					return dst, i, err
				}
				if len(dst) <= k {
					n-- // dropped
				}
			}
			if i = skipWS(src, i); i >= len(src) {
				return dst, i, errJSON
			}
			if src[i] == ',' {
				i++
				continue
			}
			if src[i] != '}' {
				return dst, i, errJSON
			}
			i++
			break
		}
	}
	if top != nil {
		dst = append(dst, top.Tail...)
		n += top.TailLen
	}
	return closeContainer(dst, h, n, true), i, nil
}

func appendArray(dst, src []byte, i, level int) ([]byte, int, error) {
	if level > event.MaxDepth {
		return dst, i, errDeep
	}
	h := len(dst)
	dst = append(dst, 0xdd, 0, 0, 0, 0)
	i = skipWS(src, i+1)
	n := 0
	if i < len(src) && src[i] == ']' {
		return closeContainer(dst, h, 0, false), i + 1, nil
	}
	var err error
	for {
		if dst, i, err = appendJSON(dst, src, i, level); err != nil {
			return dst, i, err
		}
		n++
		if i = skipWS(src, i); i >= len(src) {
			return dst, i, errJSON
		}
		if src[i] == ',' {
			i++
			continue
		}
		if src[i] != ']' {
			return dst, i, errJSON
		}
		return closeContainer(dst, h, n, false), i + 1, nil
	}
}

// closeContainer writes the smallest header for n elements over the 5
// bytes reserved at dst[h:], moving the elements back when it is shorter.
func closeContainer(dst []byte, h, n int, isMap bool) []byte {
	var hdr [5]byte
	var hl int
	switch {
	case n < 16:
		hdr[0], hl = 0x90|byte(n), 1
		if isMap {
			hdr[0] = 0x80 | byte(n)
		}
	case n < 1<<16:
		hdr[0], hl = 0xdc, 3
		if isMap {
			hdr[0] = 0xde
		}
		binary.BigEndian.PutUint16(hdr[1:], uint16(n))
	default:
		hdr[0], hl = 0xdd, 5
		if isMap {
			hdr[0] = 0xdf
		}
		binary.BigEndian.PutUint32(hdr[1:], uint32(n))
	}
	return closeHeader(dst, h, hdr[:hl])
}

// closeHeader puts hdr over the 5 bytes reserved at dst[h:].
func closeHeader(dst []byte, h int, hdr []byte) []byte {
	if len(hdr) < 5 {
		copy(dst[h+len(hdr):], dst[h+5:])
		dst = dst[:len(dst)-(5-len(hdr))]
	}
	copy(dst[h:], hdr)
	return dst
}

// appendNumber transcodes the JSON number at src[i:].
func appendNumber(dst, src []byte, i int) ([]byte, int, error) {
	end, err := scanNumber(src, i)
	if err != nil {
		return dst, end, err
	}
	return appendNumberText(dst, src[i:end]), end, nil
}

// scanNumber checks the JSON number at src[i:] and returns its end. A
// number out of float64's range is an error, as in encoding/json.
func scanNumber(src []byte, i int) (int, error) {
	start := i
	if src[i] == '-' {
		i++
	}
	if i >= len(src) || !isDigit(src[i]) {
		return i, errJSON
	}
	if src[i] == '0' {
		i++
	} else {
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	}
	if i < len(src) && src[i] == '.' {
		i++
		if i >= len(src) || !isDigit(src[i]) {
			return i, errJSON
		}
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	}
	exp := false
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		exp = true
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if i >= len(src) || !isDigit(src[i]) {
			return i, errJSON
		}
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	}
	if exp || i-start > 300 { // only these can be out of range
		if _, err := strconv.ParseFloat(unsafeString(src[start:i]), 64); err != nil {
			return i, errRange
		}
	}
	return i, nil
}

// appendNumberText appends a checked JSON number: an integer (int64,
// else uint64) when it has no fraction nor exponent and fits, else a
// float64.
func appendNumberText(dst, num []byte) []byte {
	i := 0
	neg := num[0] == '-'
	if neg {
		i++
	}
	var u uint64
	for ; i < len(num); i++ {
		c := num[i]
		if !isDigit(c) || u > (math.MaxUint64-uint64(c-'0'))/10 {
			u, i = 0, -1
			break
		}
		u = u*10 + uint64(c-'0')
	}
	if i == len(num) {
		switch {
		case !neg && u <= math.MaxInt64:
			return msgp.AppendInt64(dst, int64(u))
		case !neg:
			return msgp.AppendUint64(dst, u)
		case u <= 1<<63:
			return msgp.AppendInt64(dst, int64(-u))
		}
	}
	f, ok := exactFloat(num)
	if !ok {
		f, _ = strconv.ParseFloat(unsafeString(num), 64)
	}
	return msgp.AppendFloat64(dst, f)
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// exactFloat converts a number like "-123.45" (a fraction, no exponent,
// at most 15 digits) without strconv: its digits make an integer below
// 2^53 and the divisor a power of ten below 1e22, both exact in a
// float64, so the one division rounds correctly, as strconv.ParseFloat's
// own fast path does. ok is false for any other text.
func exactFloat[T string | []byte](num T) (float64, bool) {
	neg := len(num) > 0 && num[0] == '-'
	if neg {
		num = num[1:]
	}
	var m uint64
	digits, frac := 0, -1
	for i := 0; i < len(num); i++ {
		switch c := num[i]; {
		case isDigit(c):
			m = m*10 + uint64(c-'0')
			digits++
		case c == '.' && frac < 0:
			frac = len(num) - i - 1
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 || frac < 0 {
		return 0, false
	}
	f := float64(m) / pow10[frac]
	if neg {
		f = -f
	}
	return f, true
}
