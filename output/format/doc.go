// Package format holds the encoder that the outputs writing chunks as
// files or objects (file, s3, gcs, stdout) share: one code path from a
// chunk to bytes. How those files and objects are named, and the metadata
// they carry, is package output/objkey; BigQuery's column-name rules
// (key_style bigquery) are package output/bigquery/bqschema's.
//
// Encoder streams a chunk's frames (tag, canonical entries stream) through a
// record format (<format>: json, ltsv, msgpack, single_value, stdout), the
// <inject> fields (hostname_key, tag_key, time_key) and a compressor
// (compress gzip, zstd or none) into an io.Writer:
//
//	enc, err := format.NewEncoder(format.EncoderConfig{Format: f, Inject: in, Compress: "zstd"}, format.EncoderOptions{Hostname: h})
//	stats, err := enc.EncodeChunk(w, chunk)
//
// Records are never decoded into Go values: msgpack is transcoded to JSON
// (AppendJSON) or copied, straight from the chunk's bytes, into a buffer
// that is handed to the compressor every 64 KiB. Memory is the largest
// record plus the compressor's fixed state, whatever the chunk's size;
// scratch buffers and compressors are pooled per Encoder.
//
// Compression levels are fixed for speed: zstd SpeedFastest (a 1 MiB window,
// one synchronous encoder per flush, no goroutines) and gzip BestSpeed
// (klauspost's level 1, several times faster than the default level for
// files about 10% larger). On realistic ~200-byte log records, one core
// encodes msgpack input to JSON at about 550 MB/s, JSON+gzip at about
// 300 MB/s and JSON+zstd at about 230 MB/s (BenchmarkEncode*).
//
// Injected fields come first in each record and replace a record field of
// the same name (Fluentd's inject overwrites it too).
//
// One record never fails a chunk. Every format writes every record whose
// maps and arrays nest at most event.MaxDepth levels (the record's map
// being level 1), the depth inputs accept. A record Encode cannot write (a
// malformed entry, a record that is not a msgpack map, one nested deeper)
// is skipped with its partial output and returned in Stats.Rejects
// (buffer.Reject: its tag, its entry, the reason), and the other records
// are written; an entry that cannot be delimited takes the rest of its
// frame as one Reject. A Flusher writes the rest and returns Stats.Err:
// buffer.Rejected(Stats.Rejects), so the buffer sets those records aside
// alone, or, when no record was written, a buffer.Permanent error, and
// then it writes nothing. An object's barge-records metadata counts the
// records it holds, rejects excluded (objkey.SetRecords).
//
// Time formats are Ruby's Time#strftime, compiled by package output/strftime.
//
// Configuration structs (Config, InjectConfig) carry Fluentd's
// parameter names in their conf tags and Fluentd's defaults in
// DefaultConfig and DefaultInjectConfig; Validate messages start with
// the quoted key.
package format
