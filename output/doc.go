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
// Strftime is Ruby's Time#strftime, as Fluentd's time formats use it.
//
// Configuration structs (FormatConfig, InjectConfig) carry Fluentd's
// parameter names in their conf tags and Fluentd's defaults in
// DefaultFormatConfig and DefaultInjectConfig; Validate messages start with
// the quoted key.
package output
