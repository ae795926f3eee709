package parse

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/tinylib/msgp/msgp"
)

// plainPrefix returns the length of b's prefix of printable ASCII other
// than '"' and '\\' (the bytes a JSON string holds as they are), eight
// bytes at a time.
func plainPrefix(b []byte) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q, bs := x^(lo*'"'), x^(lo*'\\')
		// a zero byte in q or bs, a byte below 0x20, or one from 0x80
		if m := ((q-lo)&^q | (bs-lo)&^bs | (x-lo*0x20)&^x | x) & hi; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
	}
	return i
}

// appendJSONString transcodes the JSON string at src[i] (a quote) to a
// msgpack str.
func appendJSONString(dst, src []byte, i int) ([]byte, int, error) {
	h := len(dst)
	out, s, plain, j, err := jsonString(dst, src, i)
	if err != nil {
		return dst, i, err
	}
	if plain {
		return msgp.AppendStringFromBytes(dst, s), j, nil
	}
	// s was appended to dst: put the header in front
	out = append(out, 0, 0, 0, 0, 0)
	copy(out[h+5:], out[h:h+len(s)])
	return closeString(out, h), j, nil
}

// jsonString reads the JSON string at src[i] (a quote). A string without
// escapes nor bytes to check is returned as a slice of src (plain);
// any other is decoded and appended to dst, and returned as that part of
// the result, with the new dst. j is the index after the closing quote.
func jsonString(dst, src []byte, i int) (out, s []byte, plain bool, j int, err error) {
	i++
	start := i
	i += plainPrefix(src[i:])
	if i < len(src) && src[i] == '"' {
		return dst, src[start:i], true, i + 1, nil
	}
	h := len(dst)
	dst = append(dst, src[start:i]...)
	for {
		if i >= len(src) {
			return dst, nil, false, i, errJSON
		}
		c := src[i]
		switch {
		case c == '"':
			return dst, dst[h:], false, i + 1, nil
		case c == '\\':
			if i+1 >= len(src) {
				return dst, nil, false, i, errJSON
			}
			switch e := src[i+1]; e {
			case '"', '\\', '/':
				dst = append(dst, e)
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r, ok := hex4(src, i+2)
				if !ok {
					return dst, nil, false, i, errJSON
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(src, i+2); ok && i+1 < len(src) && src[i] == '\\' && src[i+1] == 'u' {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							dst = utf8.AppendRune(dst, d)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default:
				return dst, nil, false, i, errJSON
			}
			i += 2
		case c < 0x20:
			return dst, nil, false, i, errJSON
		case c < 0x80:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, src[i:i+size]...)
			}
			i += size
		}
	}
}

// closeString writes the str header of the bytes after the 5 reserved at
// dst[h:].
func closeString(dst []byte, h int) []byte {
	n := len(dst) - h - 5
	var hdr [5]byte
	var hl int
	switch {
	case n < 32:
		hdr[0], hl = 0xa0|byte(n), 1
	case n < 1<<8:
		hdr[0], hdr[1], hl = 0xd9, byte(n), 2
	case n < 1<<16:
		hdr[0], hl = 0xda, 3
		binary.BigEndian.PutUint16(hdr[1:], uint16(n))
	default:
		hdr[0], hl = 0xdb, 5
		binary.BigEndian.PutUint32(hdr[1:], uint32(n))
	}
	return closeHeader(dst, h, hdr[:hl])
}

func hex4(src []byte, i int) (rune, bool) {
	if len(src)-i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range src[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
