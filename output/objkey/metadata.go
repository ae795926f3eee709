package objkey

import (
	"maps"
	"slices"
	"strconv"
	"time"
	"unicode/utf16"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/output/format"
)

// Metadata keys every object and file-output chunk carries (S3 user
// metadata, GCS object metadata). The BigQuery loader reads them to place
// an object in its table partition; they are documented in the README.
const (
	MetaChunkID  = "barge-chunk-id"   // the buffer chunk's id (32 hex chars)
	MetaRecords  = "barge-records"    // number of records
	MetaFirst    = "barge-first-time" // earliest event time, RFC 3339 with nanoseconds, UTC
	MetaLast     = "barge-last-time"  // latest event time, same form
	MetaTimeKey  = "barge-timekey"    // start of the chunk's timekey window (absent without a time chunk key)
	MetaTag      = "barge-tag"        // the chunk's tag (absent when tag is not a chunk key)
	MetaKeys     = "barge-keys"       // JSON object of the record chunk keys' values (absent without any)
	MetaHost     = "barge-host"       // host name of the producing barge
	MetaVersion  = "barge-version"    // barge version
	MetaFormat   = "barge-format"     // <format> @type: json, ltsv, msgpack, single_value
	MetaCompress = "barge-compress"   // gzip, zstd or none
)

// Bounds of the metadata values that come from the data or the host,
// before any transport encoding (S3's RFC 2047): with them, the whole of
// Metadata stays under S3's 2 KiB of user metadata (keys with their
// x-amz-meta- prefix included, as MinIO counts them) even when every value
// is as long as it may be and needs RFC 2047.
const (
	MaxMetaTagLen  = 256 // barge-tag
	MaxMetaKeysLen = 512 // barge-keys, the whole JSON object
	MaxMetaHostLen = 128 // barge-host and barge-version
)

// Metadata returns the metadata of the object made from c with encoder e,
// for an object holding c.Records records (callers that rejected records
// set MetaRecords with SetRecords). It depends only on the chunk and the
// configuration, so a retried upload of the same chunk carries the same
// metadata.
//
// Values that come from the data are made safe for any store: barge-tag,
// barge-host and barge-version are valid UTF-8 without control characters
// (others become "_"), cut to MaxMetaTagLen or MaxMetaHostLen bytes on a
// UTF-8 boundary with "~" and 16 hex digits of the SHA-256 of the whole
// value when longer. barge-keys is a JSON object of printable ASCII (other
// characters as \uXXXX escapes, so json.Unmarshal gives the values back),
// at most MaxMetaKeysLen bytes: values too long for it are cut the same way
// (each then ends with "~" and the hash); it is left out when the key
// names alone do not fit.
func Metadata(c *buffer.Chunk, e *format.Encoder, hostname, version string) map[string]string {
	m := map[string]string{
		MetaChunkID:  c.ID,
		MetaRecords:  strconv.Itoa(c.Records),
		MetaFirst:    c.First.UTC().Format(time.RFC3339Nano),
		MetaLast:     c.Last.UTC().Format(time.RFC3339Nano),
		MetaHost:     metaText(hostname, MaxMetaHostLen),
		MetaVersion:  metaText(version, MaxMetaHostLen),
		MetaFormat:   e.FormatType(),
		MetaCompress: e.Compression(),
	}
	if !c.TimeKey.IsZero() {
		m[MetaTimeKey] = c.TimeKey.UTC().Format(time.RFC3339)
	}
	if c.Tag != "" {
		m[MetaTag] = metaText(c.Tag, MaxMetaTagLen)
	}
	if len(c.Keys) > 0 {
		if k, ok := metaKeys(c.Keys); ok {
			m[MetaKeys] = k
		}
	}
	return m
}

// SetRecords sets MetaRecords in m to n: the records an object actually
// holds, which the BigQuery loader sums.
func SetRecords(m map[string]string, n int) { m[MetaRecords] = strconv.Itoa(n) }

// metaText is s as valid UTF-8 without control characters, at most max
// bytes.
func metaText(s string, max int) string {
	if len(s) <= max && cleanText(s) {
		return s
	}
	return cleanValue(s, max, false)
}

// metaKeys is the JSON object of the chunk key values, keys sorted, in
// printable ASCII and at most MaxMetaKeysLen bytes: when the whole does not
// fit, every value is cut to 128 bytes of JSON, then 64, 48, 32, 24, until
// it does. ok is false when even 24 bytes a value do not fit.
func metaKeys(keys map[string]string) (string, bool) {
	names := slices.Sorted(maps.Keys(keys))
	var b []byte
	for _, share := range []int{MaxMetaKeysLen, 128, 64, 48, 32, 24} {
		b = append(b[:0], '{')
		for i, k := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendASCIIString(b, k, MaxMetaKeysLen)
			b = append(b, ':')
			b = appendASCIIString(b, keys[k], share)
		}
		b = append(b, '}')
		if len(b) <= MaxMetaKeysLen {
			return string(b), true
		}
	}
	return "", false
}

// appendASCIIString appends s as a JSON string of printable ASCII: ",
// \ and characters outside 0x20..0x7e are escaped (\n, \uXXXX, UTF-16
// surrogate pairs past U+FFFF), bytes that are not UTF-8 become \ufffd.
// When the string would take more than max bytes, s is cut so that it
// takes at most max, the last 17 of them "~" and a hash of the whole s.
func appendASCIIString(dst []byte, s string, max int) []byte {
	dst = append(dst, '"')
	start := len(dst)
	for _, r := range s { // invalid UTF-8 comes as U+FFFD
		dst = appendASCIIRune(dst, r)
	}
	if len(dst)-start > max-2 {
		dst = dst[:start]
		for _, r := range s {
			end := len(dst)
			if dst = appendASCIIRune(dst, r); len(dst)-start > max-2-hashLen {
				dst = dst[:end]
				break
			}
		}
		dst = appendHash(dst, s)
	}
	return append(dst, '"')
}

// appendASCIIRune appends r as printable ASCII JSON string content.
func appendASCIIRune(dst []byte, r rune) []byte {
	const hexDigits = "0123456789abcdef"
	switch {
	case r == '"' || r == '\\':
		return append(dst, '\\', byte(r))
	case r == '\n':
		return append(dst, '\\', 'n')
	case r == '\t':
		return append(dst, '\\', 't')
	case r >= 0x20 && r < 0x7f:
		return append(dst, byte(r))
	case r > 0xffff:
		r1, r2 := utf16.EncodeRune(r)
		dst = appendASCIIRune(dst, r1)
		return appendASCIIRune(dst, r2)
	}
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}
