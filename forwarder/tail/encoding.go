package tail

import "unicode/utf8"

// appendLatin1 appends b, ISO-8859-1 (from_encoding), as UTF-8. The other
// encodings (UTF-8, US-ASCII, ASCII-8BIT) only name what the bytes are,
// as Ruby's force_encoding: their lines are passed as they are.
func appendLatin1(dst, b []byte) []byte {
	for _, c := range b {
		if c < utf8.RuneSelf {
			dst = append(dst, c)
		} else {
			dst = utf8.AppendRune(dst, rune(c))
		}
	}
	return dst
}
