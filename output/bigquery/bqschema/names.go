package bqschema

import (
	"strings"
	"unicode/utf8"
)

// nameByte marks the bytes of [A-Za-z0-9_].
var nameByte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	return t
}()

// IsName reports whether name is a valid BigQuery column name:
// [A-Za-z_][A-Za-z0-9_]*, at most 300 bytes, no reserved prefix.
func IsName[T string | []byte](name T) bool {
	if len(name) == 0 || len(name) > MaxNameLen || name[0] >= '0' && name[0] <= '9' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !nameByte[name[i]] {
			return false
		}
	}
	return name[0] != '_' || !HasReservedPrefix(name)
}

// HasReservedPrefix reports whether name starts with a reserved prefix.
func HasReservedPrefix[T string | []byte](name T) bool {
	for _, p := range reservedPrefixes {
		if len(name) >= len(p) && strings.EqualFold(string(name[:len(p)]), p) {
			return true
		}
	}
	return false
}

// Name rewrites a record key to a valid BigQuery column name:
//   - every character other than [A-Za-z0-9_] becomes "_" (one "_" per
//     UTF-8 character, or per invalid byte): "a.b", "a-b" and "a b" become
//     "a_b", "#TH" becomes "_TH", "café" becomes "caf_";
//   - an empty key becomes "_";
//   - a leading digit gets a "_" in front: "1st" becomes "_1st";
//   - a reserved prefix (_TABLE_, _FILE_, _PARTITION, _ROW_TIMESTAMP,
//     __ROOT__, _COLIDENTIFIER, _CHANGE_SEQUENCE_NUMBER, _CHANGE_TYPE,
//     _CHANGE_TIMESTAMP, in any case) gets a "_" in front:
//     "_PARTITIONTIME" becomes "__PARTITIONTIME";
//   - the result is cut to 300 bytes.
//
// A valid name is returned as it is. Different keys can give the same name;
// key_style bigquery makes the names of one map unique (format.Config.KeyStyle).
func Name(key string) string {
	if IsName(key) {
		return key
	}
	return string(AppendName(nil, []byte(key)))
}

// AppendName appends the Name of key to dst.
func AppendName(dst, key []byte) []byte {
	start := len(dst)
	if len(key) == 0 || key[0] >= '0' && key[0] <= '9' {
		dst = append(dst, '_')
	}
	for i := 0; i < len(key) && len(dst)-start <= MaxNameLen; {
		c := key[i]
		if c < utf8.RuneSelf {
			if !nameByte[c] {
				c = '_'
			}
			dst = append(dst, c)
			i++
			continue
		}
		_, size := utf8.DecodeRune(key[i:])
		dst = append(dst, '_')
		i += size
	}
	if HasReservedPrefix(dst[start:]) {
		dst = append(dst, 0)
		copy(dst[start+1:], dst[start:])
		dst[start] = '_'
	}
	if len(dst)-start > MaxNameLen {
		dst = dst[:start+MaxNameLen]
	}
	return dst
}
