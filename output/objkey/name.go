package objkey

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxValueLen is the longest value, in bytes, that CleanPathValue returns:
// under the 255-byte limit most file systems put on a path element, with
// room for the literal text a template adds around it.
const MaxValueLen = 200

// hashLen is the length of the suffix ("~" and 16 hex digits) that marks a
// value cut to a length limit.
const hashLen = 1 + 16

// MaxObjectKeyLen is the longest object key, in bytes, that S3 and GCS
// accept.
const MaxObjectKeyLen = 1024

// ErrObjectKey is wrapped by CheckObjectKey's errors: an object key that no
// store accepts, whatever the number of retries.
var ErrObjectKey = errors.New("output: invalid object key")

// CleanPathValue makes a value that comes from the data (a tag or one of
// its parts, a record chunk key's value, the host name) safe as part of a
// file path or an object key:
//   - "/", "\", NUL, newlines and every other control character (C0, DEL,
//     C1), and bytes that are not valid UTF-8, become "_", so a value is
//     one path element and never climbs out of the configured path;
//   - "", "." and ".." become "_";
//   - a value longer than MaxValueLen bytes is cut on a UTF-8 boundary and
//     ends with "~" and 16 hex digits of the SHA-256 of the whole value, so
//     values that differ only past the cut keep distinct names, within
//     MaxValueLen bytes.
//
// A value that needs none of this is returned as it is. The result depends
// only on s: a retried flush writes the same name.
func CleanPathValue(s string) string {
	if s == "" || s == "." || s == ".." {
		return "_"
	}
	if len(s) <= MaxValueLen && cleanPath(s) {
		return s
	}
	return cleanValue(s, MaxValueLen, true)
}

// cleanPath reports whether s holds nothing CleanPathValue replaces; its
// length and "", "." and ".." are the caller's to check.
func cleanPath(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '/' || c == '\\' {
			return false
		}
		ascii = ascii && c < 0x80
	}
	return ascii || cleanText(s)
}

// cleanText reports whether s is valid UTF-8 without control characters.
func cleanText(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || unicode.IsControl(r) {
			return false
		}
		i += n
	}
	return true
}

// cleanValue replaces, in s, the bytes that are not valid UTF-8 and the
// control characters (and with path set, "/" and "\") with "_", and cuts a
// value longer than max bytes to at most max bytes ending with a hash of
// the whole of s. max must be more than hashLen.
func cleanValue(s string, max int, path bool) string {
	limit := len(s)
	long := len(s) > max
	if long {
		limit = max - hashLen
	}
	b := make([]byte, 0, min(len(s), max))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		bad := r == utf8.RuneError && n == 1 || unicode.IsControl(r) || path && (r == '/' || r == '\\')
		w := n
		if bad {
			w = 1
		}
		if len(b)+w > limit {
			break
		}
		if bad {
			b = append(b, '_')
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	if long {
		b = appendHash(b, s)
	}
	return string(b)
}

// appendHash appends "~" and the first 16 hex digits of the SHA-256 of s.
func appendHash(dst []byte, s string) []byte {
	sum := sha256.Sum256([]byte(s))
	dst = append(dst, '~')
	return hex.AppendEncode(dst, sum[:8])
}

// CheckObjectKey reports a key that S3 and GCS refuse whatever the number
// of retries: longer than MaxObjectKeyLen bytes, or not valid UTF-8. The
// error wraps ErrObjectKey and quotes the key; outputs mark it
// buffer.Permanent before any upload.
func CheckObjectKey(key string) error {
	switch {
	case len(key) > MaxObjectKeyLen:
		return fmt.Errorf("%w: %q is %d bytes, more than %d", ErrObjectKey, key, len(key), MaxObjectKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrObjectKey, key)
	}
	return nil
}
