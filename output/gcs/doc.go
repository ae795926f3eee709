// Package gcs is barge's @type gcs output: each flushed chunk becomes one
// Google Cloud Storage object, encoded by format.Encoder (<format>,
// <inject>, store_as) and named by objkey.KeyFormat, with
// fluent-plugin-gcs's parameter names.
//
//	<match app.**>
//	  @type gcs
//	  bucket my-logs                 # must exist: barge never creates buckets
//	  keyfile /etc/barge/sa.json     # else Application Default Credentials
//	  path logs/${tag}/%Y/%m/%d/
//	  store_as gzip                  # gzip (default), zstd, json, txt
//	  transcoding true               # Content-Encoding: gzip (BigQuery loads)
//	  <object_metadata>
//	    key team
//	    value payments
//	  </object_metadata>
//	  <buffer tag,time>
//	    timekey 1h
//	  </buffer>
//	</match>
//
// Contracts:
//   - One chunk, one object, never overwritten. The key derives from the
//     chunk id (the default is %{path}%{time_slice}_%{chunk_id}.%{file_extension}),
//     or has %{index} (fluent-plugin-gcs's default
//     %{path}%{time_slice}_%{index}.%{file_extension}): then it is chosen
//     at the chunk's first attempt by objkey.Namer (the smallest index free
//     in one list of the key's prefix and not held by a chunk of this
//     process), recorded with the chunk before the upload and reused by
//     every later attempt, after a crash too. A key without %{chunk_id},
//     %{uuid_flush} or %{index} is refused. Every write carries
//     ifGenerationMatch=0. When the object is already
//     there (412), its attributes are read: the same barge-chunk-id
//     metadata, CRC32C and size mean a retry found its own object and Flush
//     returns nil; anything else is ErrObjectExists, wrapped with
//     buffer.Permanent, so the chunk goes to <secondary> or failed/ and the
//     object is left alone. With %{index}, another chunk's object there
//     (another barge-chunk-id) moves the chunk to the next free index,
//     recorded, and it uploads again (at most objkey.MaxTaken times per
//     flush).
//   - Encoded once, sent from the spool. The Encoder writes the object into
//     the chunk's spool (buffer.Chunk.Spool: an unnamed file in the
//     buffer's spool/ directory for a file chunk, memory for a memory
//     chunk), hashing it (CRC32C, and MD5 while it may go in one request)
//     as it goes. The upload starts once the object is encoded: its size,
//     checksums and count of records are known. Every request body is a
//     section of the spool; a retried request reads it again, the Encoder
//     never runs twice in one Flush (a key with %{index} that moves to the
//     next index sends the same spool again). A file chunk's spool takes
//     the encoded object's size on the buffer's volume, beside the chunk,
//     for the time of the Flush; it is closed (its space freed) when Flush
//     returns, whatever the outcome.
//   - chunk_size (16m) is the size of a request: an object of at most
//     chunk_size bytes goes in one request, a larger one as a resumable
//     upload of chunk_size requests (the last one shorter). It no longer
//     costs memory; it trades the number of requests (GCS advises at
//     least 8 MiB for throughput) against what a failed request sends
//     again.
//   - Checksums. An object sent in one request declares its CRC32C and
//     MD5, which GCS checks. A resumable upload declares the whole
//     object's CRC32C with its last request (GCS checks it before it
//     finalizes the object). In both cases the new object's CRC32C and
//     size are compared with barge's own: a mismatch deletes that
//     generation and fails the flush (ErrChecksum), which is retried.
//   - Memory: an upload holds a few small buffers (the spool's 256 KiB
//     write buffer, the copy buffers of the HTTP requests), whatever
//     chunk_size, the chunk's size or flush_thread_count. One request is
//     sent through the storage client, streamed (it buffers nothing); a
//     resumable upload is sent by this package (session.go), because the
//     client's resumable writer copies every chunk_size request into a
//     buffer of its own. A memory chunk's spool is in memory: the encoded
//     object, next to the chunk.
//   - Errors name gs://BUCKET/KEY. Permanent (buffer.Permanent): 400 (but
//     a checksum mismatch: an invalid object name, metadata too large), 401,
//     403 (but rate limits), 404 (the bucket does not exist), other 4xx, an
//     unusable keyfile, a key longer than 1024 bytes (refused before any
//     request), a chunk whose every record the encoder rejects,
//     ErrObjectExists. Transient (the buffer retries with its backoff):
//     408, 410, 429, 5xx, timeouts, connection errors, anything unknown.
//     Quick retries of a request are bounded by client_retries (2) in a
//     row (250 ms, then up to 2 s apart; counted again after each request
//     of a resumable upload that goes through), so the buffer's backoff
//     governs; a request that takes client_timeout (60s) fails. A 404 once
//     a resumable upload is under way is a lost session, transient.
//     Flush does not log failures (the buffer does); a put is logged at
//     debug level.
//   - Metadata: objkey.Metadata (barge-chunk-id, barge-records, barge-first-time,
//     barge-last-time, barge-timekey, barge-tag, barge-keys, barge-host,
//     barge-version, barge-format, barge-compress) on every object, plus the
//     <object_metadata> pairs (keys starting with barge- are refused).
//     objkey.Metadata bounds the values that come from the data
//     (barge-tag 256 bytes, barge-keys 512, as printable ASCII JSON) and
//     keeps them valid UTF-8 without control characters, far within
//     GCS's 8 KiB of custom metadata.
//   - Names: values from the data (the tag and its parts, chunk key
//     values, the host name) go through objkey.CleanPathValue: no "/",
//     "\", control characters (GCS refuses CR and LF in names) or invalid
//     UTF-8, at most 200 bytes.
//   - Rejected records: records the encoder rejects (malformed, or nested
//     deeper than event.MaxDepth) are left out of the object and returned
//     with buffer.Rejected once it is stored; barge-records counts the
//     records in the object (the upload starts after the encoding, so
//     the count is known). Content-Type is the Encoder's (application/gzip, application/zstd,
//     application/x-ndjson...); with transcoding, Content-Encoding is gzip
//     and Content-Type the uncompressed format's.
//   - STORAGE_EMULATOR_HOST (host:port) sends every request to an emulator
//     such as fake-gcs-server, without credentials (keyfile is not read).
//   - New does no I/O: the client (and keyfile) is read by the first
//     Flush; Close is idempotent and Flush fails after it. An Output is
//     safe for concurrent Flush calls (flush_thread_count).
//
// Differences from fluent-plugin-gcs: store_as adds zstd and names the
// uncompressed forms json and txt (text is accepted); %{file_extension}
// is the Encoder's (gz, zst, or the format's: json, ltsv...);
// %{hex_random} and %{uuid_flush} derive from the chunk id (Fluentd's
// %{uuid_flush} is new per flush; barge's is stable per chunk); project is
// accepted but unused; auto_create_bucket and overwrite must stay false;
// blind_write is accepted (without %{index} barge never reads before it
// writes; it reads an object's attributes only after a 412, which needs
// storage.objects.get; with %{index} it lists the key's prefix once per
// chunk, which needs storage.objects.list);
// client_timeout is a duration; the v0.12 format parameter is replaced by
// <format>. barge adds chunk_size (see above).
package gcs
