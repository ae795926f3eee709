// Package output holds what the outputs that write chunks as files or
// objects (file, s3, gcs) share: one code path from a chunk to bytes, and
// one way to name them.
//
// Encoder streams a chunk's frames (tag, canonical entries stream) through a
// record format (<format>: json, ltsv, msgpack, single_value, stdout), the
// <inject> fields (hostname_key, tag_key, time_key) and a compressor
// (compress gzip, zstd or none) into an io.Writer:
//
//	enc, err := output.NewEncoder(output.EncoderConfig{Format: f, Inject: in, Compress: "zstd"}, output.EncoderOptions{Hostname: h})
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
// records it holds, rejects excluded (SetRecords).
//
// KeyFormat names a chunk's file or object from path and object_key_format
// with fluent-plugin-s3's placeholders (%{path}, %{time_slice},
// %{chunk_id}, %{uuid_flush}, %{hex_random}, %{hostname},
// %{file_extension}, %{index}) and Fluentd's ${tag}, ${tag[N]}, ${KEY} and
// strftime conversions of the chunk's time key. Every name derives from the
// chunk id, never from randomness or a counter: %{uuid_flush} is the id as a
// UUID, %{hex_random} its reversed prefix, %{index} is always 0. So a
// retried flush writes the same name again, and NewKeyFormat refuses a key
// without %{chunk_id} or %{uuid_flush}.
//
// Values from the data (the tag and its parts, record chunk key values,
// the host name) go into names through CleanPathValue, which the file, s3
// and gcs outputs set as KeyConfig.Clean: at most MaxValueLen (200) bytes
// (longer values are cut on a UTF-8 boundary and end with "~" and 16 hex
// digits of the SHA-256 of the whole value), valid UTF-8 without "/", "\"
// or control characters, never "", "." or "..", the same on every retry.
// CheckObjectKey refuses a key longer than MaxObjectKeyLen (1024) bytes,
// S3's and GCS's limit; s3 and gcs return it as buffer.Permanent before
// any upload.
//
// Metadata is the object metadata the BigQuery loader reads. Values from
// the data are bounded (MaxMetaTagLen, MaxMetaKeysLen, MaxMetaHostLen) and
// made safe for HTTP headers and JSON alike, so metadata never fails an
// upload: within S3's 2 KiB of user metadata even after RFC 2047.
//
// Time formats are Ruby's Time#strftime, compiled by package output/strftime.
//
// Configuration structs (FormatConfig, InjectConfig) carry Fluentd's
// parameter names in their conf tags and Fluentd's defaults in
// DefaultFormatConfig and DefaultInjectConfig; Validate messages start with
// the quoted key.
package output
