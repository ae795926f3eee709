package format

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"unicode/utf8"
)

// jsonSafe[c] is true for ASCII bytes that go into a JSON string unescaped.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// appendString writes s as a quoted JSON string.
func appendString(dst, s []byte) []byte {
	i := safePrefix(s, 0)
	if i == len(s) { // the common case: nothing to escape
		n := len(dst)
		dst = slices.Grow(dst, len(s)+2)[:n+len(s)+2]
		dst[n] = '"'
		copy(dst[n+1:], s)
		dst[n+1+len(s)] = '"'
		return dst
	}
	dst = append(dst, '"')
	start := 0
	for i < len(s) {
		c := s[i]
		if jsonSafe[c] {
			i = safePrefix(s, i+1)
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			i = safePrefix(s, i)
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
		} else {
			i += size
		}
		i = safePrefix(s, i)
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// safePrefix returns the index of the first byte at or after i that a JSON
// string cannot take as it is (or len(s)), eight bytes at a time. When s is
// followed by more bytes of its array (a string inside a chunk usually is),
// a short tail is read in one load too, the bytes past len(s) masked off.
// It may stop early at a byte that is safe; the caller then goes on byte by
// byte.
func safePrefix(s []byte, i int) int {
	for i+8 <= len(s) {
		if m := unsafeBytes(binary.LittleEndian.Uint64(s[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	if i < len(s) && i+8 <= cap(s) {
		m := unsafeBytes(binary.LittleEndian.Uint64(s[i:cap(s)])) & (1<<(8*uint(len(s)-i)) - 1)
		if m == 0 {
			return len(s)
		}
		return i + bits.TrailingZeros64(m)>>3
	}
	return i
}

// unsafeBytes flags (high bit of each byte) the bytes of w that a JSON
// string cannot take as they are: controls, '"', '\\' and non-ASCII. Bytes
// above the lowest flagged one may be flagged wrongly.
func unsafeBytes(w uint64) uint64 {
	q := w ^ (swarLo * '"')
	bs := w ^ (swarLo * '\\')
	return ((w-swarLo*0x20)&^w | (q-swarLo)&^q | (bs-swarLo)&^bs | w) & swarHi
}
