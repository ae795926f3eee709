// Package buffer is barge's chunk buffer: the step between inputs and
// outputs, with Fluentd's <buffer> semantics.
//
// Entries arrive with Append(ctx, tag, entries), entries being a canonical
// msgpack stream of [time, record] arrays. Each entry goes to the staged
// chunk of its metadata (the tag, the timekey window and the record keys'
// values, for the chunk keys that are configured). A chunk is
//
//	staged  --(chunk_limit_size, chunk_limit_records, flush_interval,
//	           timekey + timekey_wait, immediately)--> queued
//	queued  --(a flush worker)--> in flight --Flush nil--> purged
//	                                        \--error--> queued again, after a backoff
//	                                        \--permanent / out of retries--> secondary or failed/
//
// Contracts:
//   - Append returning nil means durable: a file buffer wrote the bytes to
//     the chunk file with pwrite(2) (they survive kill -9), and with fsync on
//     an fsync covering them returned (group commit: concurrent appenders
//     share fsyncs). Entries are copied; the caller may reuse its slice.
//   - Each Append is stored as one frame per chunk it touches, carrying its
//     tag, so a chunk whose tag is not a chunk key still knows each
//     record's tag. Chunk.Open streams the frames back.
//   - Flush returning nil lets the buffer delete the chunk. Flush may see the
//     same chunk (same ID) again after a crash or an error.
//   - Nothing is deleted silently: failed chunks go to failed/, damaged
//     bytes to corrupt/, both with a log line.
//
// On-disk layout of a file buffer (path is the <buffer> path):
//
//	path/
//	├── b<ID>.chunk      staged chunk (ID: 32 lowercase hex chars)
//	├── q<ID>.chunk      queued chunk (renamed from b<ID> when a worker takes it)
//	├── failed/q<ID>.chunk            out of retries without a secondary
//	└── corrupt/
//	    ├── b<ID>.chunk               a file whose header is unreadable
//	    └── q<ID>.chunk.tail-<OFFSET> bytes after the last valid frame
//
// Chunk file (big-endian integers):
//
//	+------+----+-------+--------+---------+-----------------------------------+
//	| BRGC | v1 | 0 0 0 | u32 hl | u32 crc | header body (hl bytes)            |
//	+------+----+-------+--------+---------+-----------------------------------+
//	  header body: id[16] | i64 created ns | i64 timekey s | u8 flags |
//	               u16+tag | u16 n | n * (u16+key, u16+value)
//	+----------+-----------+-------------------------------------------------+
//	| u32 len  | u32 crc32c| body: u32 records | i64 first ns | i64 last ns | ...
//	+----------+-----------+-------------------------------------------------+
//	  ... u16+tag | entries (canonical msgpack)        one frame per Append
//	(frames repeat to the end of the file)
//
// Recovery (Open) reads every chunk file: b<ID> files are staged again (or
// queued when their metadata no longer matches), q<ID> files are queued.
// A frame that is short or fails its CRC ends the valid prefix: the file is
// truncated there and the rest copied to corrupt/. A chunk's records, size
// and first/last times are recomputed from its frames' headers.
package buffer
