// Package file is barge's @type file output: each flushed chunk becomes one
// file, encoded by format.Encoder (<format>, <inject>, compress) and named
// by objkey.KeyFormat (path, object_key_format, time_slice_format).
//
//	<match **>
//	  @type file
//	  path ./barge-out/${tag}/
//	  compress gzip            # gzip (default), zstd or none
//	  <format>
//	    @type json             # json (default), ltsv, msgpack, single_value
//	  </format>
//	</match>
//
// Contracts:
//   - The file name derives from the chunk id (%{chunk_id} or %{uuid_flush}
//     in object_key_format), so a retried flush replaces its own file and
//     never adds a duplicate; or it has %{index} (fluent-plugin-s3's
//     default key), the next free index of the name's prefix (one read of
//     its directory), chosen once by objkey.Namer at the chunk's first
//     attempt and recorded with the chunk. Such a file is created with
//     link(2) of the temporary file, never replaced: before linking, the
//     temporary file's device and inode are recorded with the chunk too, so
//     a retry after a crash recognises its own file at the name and counts
//     it as written; any other file there is another writer's, left alone,
//     and the chunk takes the next index.
//   - A file is written under a hidden temporary name (".tmp-CHUNKID") in its
//     target directory, fsynced, renamed to its final name, and the directory
//     fsynced: a reader never sees half a file under a final name, and
//     readers can skip names starting with ".".
//   - Values from the data (the tag and its parts, chunk keys, host name)
//     go through objkey.CleanPathValue before they become path elements:
//     "/", "\", control characters and bytes that are not UTF-8 become
//     "_", "", "." and ".." become "_", and a value longer than 200 bytes
//     is cut and ends with "~" and a hash of the whole value. So a tag
//     cannot write outside the configured path, nor make a path element
//     too long.
//   - Memory does not grow with the chunk's size.
//   - Records the encoder rejects (malformed, or nested deeper than
//     event.MaxDepth) are left out and returned with buffer.Rejected after
//     the file is in place; a chunk of nothing but such records writes no
//     file and is buffer.Permanent. A name the file system refuses
//     (ENAMETOOLONG, EINVAL, EILSEQ: a path element longer than 255 bytes,
//     say, from a template that joins values) is buffer.Permanent too.
//     Other file system errors (including permission denied, which an
//     operator can fix) are retried. Errors name the path.
//
// The default compression is gzip, not Fluentd out_file's plain text: barge's
// file output is made for shipping chunk files, like fluent-plugin-s3.
package file
