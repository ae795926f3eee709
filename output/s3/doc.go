// Package s3 is barge's @type s3 output: each flushed chunk becomes one S3
// object, encoded by format.Encoder (<format>, <inject>, store_as) and
// named by objkey.KeyFormat (path, s3_object_key_format,
// time_slice_format), with fluent-plugin-s3's parameter names.
//
//	<match **>
//	  @type s3
//	  s3_bucket logs
//	  s3_region eu-west-1
//	  path logs/${tag}/%Y/%m/%d/
//	  store_as zstd            # gzip (default), zstd, json, txt
//	  <buffer tag,time>
//	    timekey 1h
//	  </buffer>
//	</match>
//
// Differences from fluent-plugin-s3: the default s3_object_key_format is
// %{path}%{time_slice}_%{chunk_id}.%{file_extension}; fluent-plugin-s3's
// %{path}%{time_slice}_%{index}.%{file_extension} works, with %{index}
// chosen once per chunk (see below) instead of a HEAD per index on every
// attempt; a key must contain %{chunk_id}, %{uuid_flush} or %{index}. The default
// <format> is json, not out_file. store_as adds zstd; lzo, lzma2 and
// parquet are not available. check_object is accepted, either value:
// writes are always create-only, which checks atomically; overwrite does
// not exist. multipart_threshold, part_size, multipart_concurrency and
// aws_credential_process are barge's.
//
// Contracts:
//
//   - Same chunk, same object: the key derives from the chunk id and the
//     bytes are deterministic, so a retried flush writes the same key with
//     the same content. With %{index}, the key is chosen at the chunk's
//     first attempt by objkey.Namer (the smallest index free in one
//     ListObjectsV2 of the key's prefix and not held by a chunk of this
//     process) and recorded with the chunk before the upload; every later
//     attempt, after a crash too, uses the recorded key. Another chunk's
//     object found there by the create-only write (below) is left
//     untouched and the chunk takes the next free index, recorded, and
//     uploads again (at most objkey.MaxTaken times per flush).
//   - Create-only: PutObject and CompleteMultipartUpload carry
//     If-None-Match: *. When S3 answers 412 (an object is there), Flush
//     reads its metadata (HeadObject): if it carries this chunk's
//     barge-chunk-id and the ETag this attempt computed (the MD5 of the
//     body; for multipart the MD5 of the parts' MD5s and "-N"; with SSE-KMS
//     or SSE-C, whose ETags are not MD5s, the same size instead) it is this
//     chunk's object from an earlier attempt whose answer was lost, and
//     Flush returns nil. Any other object is left untouched and Flush
//     returns a buffer.Permanent error naming s3://BUCKET/KEY, so the chunk
//     goes to <secondary> or failed/. A CompleteMultipartUpload answered
//     NoSuchUpload is checked the same way (an earlier try of the same
//     request may have completed it).
//   - Bounded memory: each attempt encodes the object into a spool of
//     the chunk (buffer.Spool): for a file buffer an unnamed file in its
//     spool/ directory, freed when the attempt ends, however it ends (a
//     crash frees it too). Up to multipart_threshold (32m) the object is
//     sent with one PutObject, a section of the spool. Past it, a
//     multipart upload starts: each full part_size of the spool is
//     uploaded as a part by its own goroutine while encoding goes on, at
//     most multipart_concurrency (2) at a time; the encoder waits for a
//     free slot. Bodies are read from the spool, again on each of the
//     SDK's retries, never re-encoded. Memory per flush is a few small
//     buffers per part in flight, whatever part_size,
//     multipart_concurrency or the chunk's size (1 to 4 MiB of heap for
//     an object of 106 MiB in parts of 5 or 16 MiB, 8 at a time, in
//     TestMinIOSpoolMemory); the spool takes the encoded object's size of
//     disk beside the chunk meanwhile. A memory buffer's spool is in
//     memory: the encoded chunk, smaller than the chunk the buffer holds
//     already, unless store_as json or txt makes it larger.
//   - No abandoned uploads: a multipart upload that fails or whose context
//     ends is aborted (with a context of its own, bounded to 30s) before
//     Flush returns. Before starting a multipart upload, Flush lists the
//     uploads open at its key and aborts them: a crash or a failed abort of
//     an earlier attempt left them, and the key holds the chunk id (or an
//     index recorded for this chunk), so they are this chunk's. If listing is not allowed, that is logged once.
//     A bucket lifecycle rule with AbortIncompleteMultipartUpload remains
//     a good backstop for chunks that are set aside.
//   - Integrity: every body (PutObject, UploadPart) carries Content-MD5,
//     which S3 verifies: the object's MD5 computed as the encoder writes
//     it, a part's from the spool before it is sent. The SDK's default CRC32 checksums are turned off
//     (RequestChecksumCalculation WhenRequired): some S3-compatible stores
//     reject the completed parts' repeated checksums.
//   - Errors name the object ("put s3://BUCKET/KEY: upload part 3: ...").
//     Permanent (buffer.Permanent): AccessDenied and other 401/403,
//     NoSuchBucket, InvalidAccessKeyId, SignatureDoesNotMatch, invalid
//     settings (InvalidArgument, InvalidStorageClass, MetadataTooLarge,
//     KMS errors), a key the store refuses (KeyTooLongError, InvalidURI,
//     InvalidObjectName, MinIO's XMinioInvalidObjectName), NotImplemented
//     (a store without conditional writes), a chunk whose every record
//     the encoder rejects, a different object at the key. A key longer
//     than 1024 bytes is refused before any request. Everything else is
//     transient and retried by the buffer with its backoff: SlowDown, 5xx,
//     RequestTimeout, ExpiredToken, 409 ConditionalRequestConflict,
//     timeouts, connection resets. The SDK itself retries at most 3
//     attempts with up to 500ms between them. Flush logs nothing on
//     failure (the buffer logs the returned error once).
//   - Metadata: every object carries objkey.Metadata (barge-chunk-id,
//     barge-records, barge-first-time, barge-last-time, barge-timekey,
//     barge-tag, barge-keys, barge-host, barge-version, barge-format,
//     barge-compress) as user metadata (x-amz-meta-*). Values that are not
//     printable ASCII (a UTF-8 tag) are RFC 2047 encoded
//     ("=?utf-8?b?...?="); mime.WordDecoder decodes them. objkey.Metadata
//     bounds the values that come from the data (barge-tag 256 bytes,
//     barge-keys 512, as printable ASCII JSON) so that, even encoded, the
//     whole stays under S3's 2 KiB of user metadata: no chunk can fail
//     with MetadataTooLarge, nor carry a header value HTTP cannot send.
//   - Names: values from the data (the tag and its parts, chunk key
//     values, the host name) go through objkey.CleanPathValue: no "/",
//     "\", control characters or invalid UTF-8, at most 200 bytes.
//   - Rejected records: records the encoder rejects (malformed, or nested
//     deeper than event.MaxDepth) are left out of the object and returned
//     with buffer.Rejected once it is stored; barge-records counts the
//     records in the object. A PutObject sends its metadata after the
//     whole object is encoded, so the count is known. A multipart upload
//     sends it first, announcing the chunk's count: when records are then
//     rejected, the upload is aborted and the object encoded and uploaded
//     once more with the count the first pass found. Rejects are rare;
//     this costs nothing without them.
//   - Credentials: the first given of aws_key_id/aws_sec_key,
//     aws_credential_process (a command printing the JSON of the AWS CLI's
//     credential_process), <web_identity_credentials> (STS
//     AssumeRoleWithWebIdentity with a token file, as on EKS),
//     <instance_profile_credentials> (the EC2 role from IMDSv2; in an ECS
//     task the default chain, which finds the container's credentials),
//     <shared_credentials> (path and profile_name), aws_iam_retries (the
//     instance profile); else the AWS default chain (environment, shared
//     files, web identity / IRSA, container and instance roles). That is
//     fluent-plugin-s3's order;
//     Start logs a warning naming the sources ignored. Temporary
//     credentials are cached and refreshed before they expire.
//     <assume_role_credentials> assumes its role with the credentials so
//     chosen (fluent-plugin-s3: aws_key_id or the default chain). The
//     configuration is loaded by Start or the first Flush: New does no I/O
//     and starts no goroutines.
//   - Start (called once the buffer is open, before any flush), as
//     fluent-plugin-s3's start, within 30s: check_apikey_on_start lists at
//     most one object under path's fixed prefix (bad credentials, an
//     unreachable endpoint, a bucket in another region fail the start;
//     NoSuchBucket is left to check_bucket; AccessDenied passes, since the
//     store accepted the credentials and writes need no s3:ListBucket).
//     check_bucket sends HeadBucket: a 403 passes (the bucket exists), a
//     404 creates the bucket in s3_region with auto_create_bucket, or
//     fails the start naming the bucket and the endpoint.
//   - Permissions needed: s3:PutObject, s3:GetObject (HeadObject after a
//     412), s3:AbortMultipartUpload and s3:ListBucketMultipartUploads;
//     s3:ListBucket with %{index}, and for the start's checks (without it
//     they pass); and
//     s3:CreateBucket for auto_create_bucket.
//
// Tests: gofakes3 in-process for the unit tests; a real MinIO server
// (output/internal/minio, built from its module and cached) proves
// create-only writes, multipart uploads, the start's checks and every
// credential source, with temporary credentials MinIO issues (handed out
// by a fake STS, a fake instance metadata service, a credential process).
package s3
