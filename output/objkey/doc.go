// Package objkey names a chunk's file or object and writes the object
// metadata that the BigQuery loader reads.
//
// KeyFormat names a chunk's file or object from path and object_key_format
// with fluent-plugin-s3's placeholders (%{path}, %{time_slice},
// %{chunk_id}, %{uuid_flush}, %{hex_random}, %{hostname},
// %{file_extension}, %{index}) and Fluentd's ${tag}, ${tag[N]}, ${KEY} and
// strftime conversions of the chunk's time key. A name derives from the
// chunk, never from randomness: %{uuid_flush} is the chunk id as a UUID
// (Fluentd makes a new UUID per flush; barge keeps it stable per chunk, so
// it needs no record), %{hex_random} the id's reversed prefix. So a retried
// flush writes the same name again. NewKeyFormat refuses a key without
// %{chunk_id}, %{uuid_flush} or %{index}.
//
// %{index} (fluent-plugin-s3's and fluent-plugin-gcs's default key) is
// chosen by a Namer, once per chunk, at its first flush attempt: the
// smallest index whose key is neither at the destination (one listing of
// the key's prefix, the key up to %{index}, through the output's ListFunc)
// nor held by a chunk this Namer named and that is not stored yet. The key
// is recorded with the chunk (buffer.Chunk.SetName: a sidecar file of a
// file chunk, fsynced) before any upload, and every later attempt, after an
// error or a crash, reuses it: no duplicate on retry, no probe per index.
// Choices for one prefix are serialized in the process; another writer is
// caught by the outputs' create-only writes, whose error then wraps
// ErrTaken (Taken), and Namer.Taken records the next free index. Records
// are per owner (the output's destination and formats): a <secondary>, or
// an output whose formats changed, names the chunk again.
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
