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
//	                                        \--Rejected(rs)--> rs set aside, then purged
//	                                        \--error--> back of the queue, after a backoff
//	                                        \--permanent / its retries exhausted--> secondary or failed/
//
// Contracts:
//   - Append returning nil means durable: a file buffer wrote the bytes to
//     the chunk file with pwrite(2) (they survive kill -9), and with fsync on
//     an fsync covering them returned (group commit: concurrent appenders
//     share fsyncs). Entries are copied; the caller may reuse its slice.
//     A malformed stream stores nothing; after any other error a prefix
//     may be stored.
//   - Each Append is stored as one frame per chunk it touches and per batch
//     (at most 64Ki entries or about 8 MiB: memory does not grow with the
//     stream), carrying its tag, so a chunk whose tag is not a chunk key
//     still knows each record's tag. Chunk.Open streams the frames back.
//   - A failed write leaves the chunk as it was: the file is cut back to
//     its last whole frame, whatever the write reported, and if that cut
//     fails too, readers stop at the last whole frame and the chunk is
//     queued (sealed), so the next Append starts a new one. A full disk
//     (ENOSPC, EDQUOT) is logged once per episode, with the path and the
//     bytes left, and counted (Stats.WriteErrors, Stats.DiskFull); appends
//     resume by themselves when space returns.
//   - Flush returning nil lets the buffer delete the chunk. Flush may see the
//     same chunk (same ID) again after a crash or an error. A name an output
//     chose at its first attempt (Chunk.SetName, for %{index}) is durable
//     before SetName returns and is what Chunk.Name gives on every later
//     attempt, after a restart too (see name.go).
//   - Flush returning Rejected(rs) counts as flushed, once the records rs
//     are durable in a chunk of their own (see reject.go): to the
//     secondary, else failed/ (file buffer) or dropped with a log line
//     (memory buffer). Its id derives from the parent's, so a repeated
//     flush writes the same name.
//   - Retries (see retry.go): the output backs off after a failure
//     (retry_wait * base^n, then one chunk at a time, reset by any
//     success); each chunk counts its own failures, waits its own backoff
//     and goes to the back of the queue after a failure, and only the chunk
//     that exceeds retry_max_times or retry_timeout is set aside. A
//     permanent error sets its chunk aside at once. One failing chunk
//     never holds back the others.
//   - AppendMarked (see marks.go) stores an input's position (a Mark) in
//     the frames of the entries it covers, all written under one hold of
//     the buffer's lock, the last frame committing them. After a crash
//     recovery drops the frames of an append that never returned (they
//     are at the ends of their files), so an input that resumes from
//     Marks neither loses nor repeats a record. Before a chunk holding a
//     committing frame leaves the buffer, the latest mark of every source
//     is saved to path/marks.
//   - Nothing is deleted silently: failed chunks go to failed/, damaged
//     bytes to corrupt/, both with a log line.
//   - One directory, one Buffer: Open takes an exclusive flock(2) on
//     path/buffer.lock and fails with ErrLocked ("buffer path PATH is in
//     use by pid N") while another Buffer, in any process, holds it; Close
//     (or the death of the process) releases it. Open also fails when the
//     directory cannot be written (it creates, writes and removes
//     path/buffer.probe), a full disk excepted.
//
// On-disk layout of a file buffer (path is the <buffer> path):
//
//	path/
//	├── buffer.lock      flock(2)ed by the Buffer that has the directory open; its pid
//	├── marks            latest Mark per source (text: SEQ, UNIX_NANO, quoted source, hex value)
//	├── b<ID>.chunk      staged chunk (ID: 32 lowercase hex chars)
//	├── q<ID>.chunk      queued chunk (renamed from b<ID> when a worker takes it)
//	├── <ID>.names       names outputs chose for the chunk (JSON, see name.go);
//	│                    removed after the chunk file, moved with it to failed/
//	├── failed/q<ID>.chunk            out of retries (or permanent) without a secondary;
//	│                                 also the records an output rejected, under
//	│                                 ID = hex(sha256(parent ID + "/rejected")[:16])
//	└── corrupt/
//	    ├── b<ID>.chunk               a file whose header is unreadable, or a *.chunk
//	    │                             entry that is not a regular file (a symlink, moved as is)
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
//	  ... u16+tag | [mark] | entries (canonical msgpack)   one frame per Append
//	  records' top bit set: a mark follows the tag (AppendMarked):
//	  u8 kind (1 part, 2 commit) | u16+source | u64 seq | u32+value
//	(frames repeat to the end of the file)
//
// Recovery (Open) reads every chunk file: b<ID> files are staged again (or
// queued when their metadata no longer matches), q<ID> files are queued.
// A frame that is short or fails its CRC ends the valid prefix: the file is
// truncated there and the rest copied to corrupt/. A chunk's records, size
// and first/last times are recomputed from its frames' headers. Symlinks
// are never followed (O_NOFOLLOW): a *.chunk symlink is moved itself to
// corrupt/. Two files with the same id (a b<ID> and a q<ID> after a copy)
// are both kept: the second gets a new id (the file is renamed, then the
// id and checksum in its header rewritten), so outputs, which name what
// they write after the id, write both. When a header's id differs from
// the file name's, the name wins (this finishes a renumbering that a crash
// interrupted). A chunk's <ID>.names is read back with it (an unreadable
// one goes to corrupt/); one without a chunk file is removed.
package buffer
