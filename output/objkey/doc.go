// Package objkey names a chunk's file or object and writes the object
// metadata that the BigQuery loader reads.
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
package objkey
