package output

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/barge-dev/barge/buffer"
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

// Metadata returns the metadata of the object made from c with encoder e.
// It depends only on the chunk and the configuration, so a retried upload
// of the same chunk carries the same metadata.
func Metadata(c *buffer.Chunk, e *Encoder, hostname, version string) map[string]string {
	m := map[string]string{
		MetaChunkID:  c.ID,
		MetaRecords:  strconv.Itoa(c.Records),
		MetaFirst:    c.First.UTC().Format(time.RFC3339Nano),
		MetaLast:     c.Last.UTC().Format(time.RFC3339Nano),
		MetaHost:     hostname,
		MetaVersion:  version,
		MetaFormat:   e.FormatType(),
		MetaCompress: e.Compression(),
	}
	if !c.TimeKey.IsZero() {
		m[MetaTimeKey] = c.TimeKey.UTC().Format(time.RFC3339)
	}
	if c.Tag != "" {
		m[MetaTag] = c.Tag
	}
	if len(c.Keys) > 0 {
		b, _ := json.Marshal(c.Keys) // map[string]string: cannot fail; keys sorted
		m[MetaKeys] = string(b)
	}
	return m
}
