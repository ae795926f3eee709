// Package tail is barge's file tailer (@type tail, Fluentd's in_tail):
// it follows log files as they grow and rotate, turns their lines into
// entries with package parse, and hands them to the buffer with Append.
// What is not implemented yet is listed at the end ("Not yet").
//
// # Pieces
//
//   - Config (config.go): the <source> section, Fluentd's parameter
//     names and defaults (offset_key and ignore_older from Fluent Bit),
//     and <parse> as parse.Config.
//   - Identity (identity.go): which file is which. Decide says where a
//     file is read from, given its position.
//   - Store and FileStore (positions.go, posformat.go, posrecover.go): the
//     positions, and the pos_file.
//   - Resolver (resolve.go, glob.go): the files Path names, now.
//   - Tailer (tailer.go: lifecycle and Stats; loop.go: the reading loop,
//     reconcile and refresh; follow.go: one file's reading and lines;
//     deliver.go: parsing, path_key and offset_key, Append and the commit
//     of positions; marks.go: positions kept by the buffer; rotated.go: the positions of files rotated away and
//     follow_inodes; gzip.go: .gz files; watch.go: fsnotify; encoding.go:
//     from_encoding).
//
// # Reading
//
// One goroutine (Run's) reads the files round-robin: a turn reads at most
// read_lines_limit lines, or about 1 MiB, of one file, gives them to the
// file's parse.Parser, appends their entries in one Append (the loop
// waits for it: under backpressure nothing is read) and then commits the
// position. A file read to its end is idle: it costs a stat at each
// reconcile, and is read again when the stat or an event says it grew.
// Lines end with "\n" (a trailing "\r" is dropped); a partial last line is
// kept, never committed nor emitted, until completed, or until its file
// is rotated away and rotate_wait passed (then it is emitted as it is). A
// file's read buffer is 64 KiB, growing up to max_line_size while a line
// is incomplete; a longer line is skipped (logged once with its path and
// offset, counted in Stats.LongLines) and the file read on.
// read_bytes_limit_per_second bounds the bytes read from a file in each
// second. A held multiline record is flushed by the loop within the
// reconcile interval (1s) after multiline_flush_interval. path_key and
// offset_key (the offset of the record's first line) are added to the
// records by rewriting their map header. from_encoding ISO-8859-1 is
// converted to UTF-8; the other encodings pass bytes as they are.
//
// # Delivery: when a position moves
//
// A position is the offset of the first byte not yet delivered. It moves
// past a line only after Append returned nil for the entries of that line
// and of every line before it, and never past a line a parser still holds
// (parse.Parser.Held: an open multiline record, a partial cri or docker
// line): those are read again after a restart. Store.Set is called then,
// and Store.Sync makes it durable, once a second.
//
// With a sink that stores marks (buffer.MarkedSink: cmd/barge's router over
// file buffers; see marks.go) and a pos_file, each Append is
// buffer.AppendMarked: the position after the batch, as its pos_file line,
// is written with the batch's entries, durable together or not at all,
// with a seq that counts the tailer's appends. The pos_file's trailer
// records the seq its positions hold. At start the marks the buffer holds
// with a greater seq (appended after the last Sync) replace the pos_file's
// positions of their keys: a kill -9 at any moment neither loses nor
// repeats a line. Without such a sink (or without a pos_file) a crash
// re-reads what was appended after the last Sync: at least once.
//
// A position is kept per path, and one more per file rotated away (see
// rotated.go): when a path stops naming the file followed (renamed,
// deleted, or no longer matched), the file's position moves, at once, to a
// key of its own, "PATH\x00rotated:DEV:INO" (DEV and INO its device and
// inode in 16 hex digits), which the file's commits then move; the path's
// position is left to the file now at the path. The key goes when the
// file has been read to its end and closed. So a crash (kill -9) before
// that leaves the rest of the old file a position: at start each such
// position's file is looked for in PATH's directory by device and inode,
// then fingerprint (as for a rotation while stopped) and read from it,
// whatever its name now; a file not found (deleted) is gone, as in
// Fluentd, and its position dropped at the first compaction. A file
// rotated away and found under a path the globs match (logrotate's
// app.log -> app.log.1 under path app.log*), while running or at start, is
// the same follower, its position moved to the new path: read on, never
// again from its start (Fluentd without follow_inodes reads it again). At
// start the position of a path whose file was rotated while barge was
// stopped is moved to that file's rotated key first, so that a chain of
// renames (app.log.1 -> app.log.2, app.log -> app.log.1) loses no
// position. With follow_inodes the same holds for any file found under
// another path, and a file newly found takes, when its path has no
// position of its own, the position of the same identity kept under any
// other key.
//
// # Waking up: events and the reconcile
//
// A file is read until its end, then again when something says it grew.
// The watcher (fsnotify, enable_stat_watcher) only wakes the reader: it
// carries no data and no decision, so an event lost (a queue overflow, a
// file system without inotify, NFS) costs latency, never a line. What
// guarantees progress is the reconcile: every second each followed file is
// stat'ed (its size against the position, its identity against the file
// now at its path), and every refresh_interval Resolve finds the files to
// start or stop following. A file no longer matched (or rotated away) is
// read for rotate_wait more, then to its end, then closed.
//
// # Identity and rotation
//
// A file is its device and inode plus the fingerprint of its first 1 KiB
// (Identity; see Identity.Same for the exact rule). The fingerprint is
// taken again, and the position's identity refreshed, while a file is
// shorter than 1 KiB, so that positions soon carry a whole one. The cases:
//
//   - rename and create (logrotate's default): the path now holds another
//     inode. The old file, still open, is read for rotate_wait and then
//     to its end; the new one is read from 0.
//   - copytruncate: the same identity, but a size below the position:
//     read from 0 (Verdict Truncated). A file truncated and written again
//     past the position before it was looked at has other first bytes:
//     read from 0 too (Replaced), where the size alone would skip them.
//   - delete: the open file is read to its end, then closed; its position
//     is dropped at the next compaction.
//   - delete and recreate, and inode reuse: a new inode, or a reused one
//     with other first bytes, is another file, read from 0. Limit: a new
//     file at a reused inode whose first bytes (up to 1 KiB, or all of the
//     old file when it was shorter) equal the old one's is taken for it,
//     and read from the old position; so is a file whose first bytes were
//     never seen (a position from Fluentd's pos_file, whose fingerprint
//     is unknown, decides by inode alone, as Fluentd).
//   - rotation while stopped, or a crash while a rotated file was still
//     read: at start the path holds another file than its position's, or
//     a rotated file's position is left (see Delivery). The rest of the
//     old file is looked for among the files in the same directory (by
//     device and inode, then fingerprint) and read from the position while
//     the new file is read from its own.
//   - .gz files (app.log.1.gz; gzip.go) are read decompressed: offsets
//     count decompressed bytes, the fingerprint is that of the
//     decompressed first bytes, and a stream cut short (a compressor still
//     writing) is read up to where it stops, then again, from its start
//     skipping to the offset, when the file grows. At start, the rest of a
//     file rotated and compressed (while barge was stopped, or while it
//     was read) is looked for, when no file has its inode, among the .gz
//     files of its directory by that fingerprint, and read from its
//     position. A .gz file is not checked for truncation (its
//     decompressed size is not known without reading it); read from its
//     end at first start (read_from_head false), it is decompressed once
//     to find that end.
//
// # The pos_file
//
// The pos_file is Fluentd's, one line per file, and barge's fields after:
//
//	PATH<TAB>POS<TAB>INODE<TAB>dev=DEV<TAB>fp=LEN:SUM<TAB>crc=CRC
//	...
//	# barge-tail-positions 1 gen=GEN entries=N crc32c=CRC
//
// POS, INODE and DEV are 16 lower-case hex digits ("%016x", as Fluentd
// writes POS and INODE). LEN is the fingerprint's length in bytes
// (decimal, 0 to 1024) and SUM the first 16 bytes of its SHA-256 in hex
// (zeros when LEN is 0). CRC is the CRC-32C, in 8 hex digits, of the
// line's bytes before "<TAB>crc=". A PATH holding a tab, CR, newline or
// NUL (the key of a rotated file's position, see Delivery), or starting
// with a double quote, is written Go-quoted ("..."). Lines are
// sorted by path. The last line counts the entries and holds the CRC-32C
// of every byte before it, so a torn or damaged file is detected; GEN
// grows with every write.
//
// Fluentd reads this file: its loader (lib/fluent/plugin/in_tail/
// position_file.rb, PositionFile#load and #fetch_compacted_entries)
// matches each line against ^([^\t]+)\t([0-9a-fA-F]+)\t([0-9a-fA-F]+),
// ignores the rest of the line, and drops (with a warning) the lines that
// do not match, such as the last one; its compaction at load rewrites the
// file with its three fields. So a user going back to Fluentd keeps the
// positions; a rotated file's line ("\"PATH\\x00rotated:...\"") matches
// the pattern too, as a path that names no file (what Fluentd's
// follow_inodes, which keys positions by inode, makes of it is not
// checked). Going the other way, barge reads Fluentd's pos_file (three
// fields, any number of hex digits up to 16, as old Fluentd wrote 8-digit
// inodes): a line whose POS is Fluentd's unwatched marker
// ffffffffffffffff, or whose inode is 0, is dropped as Fluentd drops it;
// of lines repeating a path the last wins; lines that do not parse are
// reported and dropped, the file kept aside. Such positions know only the
// inode (Identity with Dev 0 and an empty fingerprint).
//
// FileStore writes the whole file at every Sync that has something new:
// NAME.tmp (fsynced with pos_file_fsync), NAME.prev becomes a hard link to
// NAME, NAME.tmp is renamed to NAME (and the directory fsynced). OpenFile
// recovers: the whole version with the highest GEN among NAME, NAME.tmp
// and NAME.prev; a torn NAME.tmp is removed; a damaged NAME or NAME.prev is
// logged with its path and moved aside (NAME.corrupt-TIME), never dropped
// silently; if no version is whole, the lines of the damaged NAME whose
// own CRC holds are kept. To start again from nothing, remove NAME,
// NAME.tmp and NAME.prev. A kill -9 loses nothing written; a power loss
// without pos_file_fsync may take the pos_file back to NAME.prev (files
// are read again, never skipped).
//
// pos_file_compaction_interval: Fluentd compacts its pos_file, which it
// patches in place, to drop unwatched, repeated and unparsable lines;
// barge's is rewritten whole, so it holds none. What barge compacts
// (Compact) is the positions of files no longer followed: at start after
// the first refresh, and every pos_file_compaction_interval.
//
// # Not yet
//
//   - A .gz file the globs match is followed as a file of its own: when
//     it is the compressed copy of a file read under another name, it is
//     read again from its start (exclude_path "*.gz" avoids it), even
//     with follow_inodes (its inode is new). Formats other than gzip
//     (.bz2, .xz, .zst) are read as they are.
//   - A rotated file is looked for, at start, only in its path's
//     directory (logrotate's olddir elsewhere is not searched), by device
//     and inode, or for .gz files by fingerprint: a file copied away
//     uncompressed (and the old one deleted) is not found, its rest not
//     read; a position from Fluentd's pos_file (no fingerprint) is
//     never matched to a .gz file.
//   - open_on_every_update: files stay open. Options.Hostname is unused.
//   - The events of a rotated file under its new name make the loop
//     refresh at the next reconcile (harmless, a Resolve more).
//   - A path_key or offset_key already in a record is added again (the
//     record then holds the key twice).
//
// # Differences from Fluentd (so far)
//
//   - max_line_size defaults to 1m (Fluentd: unlimited), so that a file's
//     memory is bounded.
//   - Identity adds the device and a fingerprint to Fluentd's inode.
//   - exclude_path patterns without "/" match base names (Fluent Bit's
//     habit); a file excluded is not stat'ed nor reported; only regular
//     files are followed; a directory a glob cannot read is reported
//     (Ruby's Dir.glob says nothing).
//   - glob_policy always (braces) and <group> are not supported; the
//     encodings are UTF-8, US-ASCII, ASCII-8BIT and ISO-8859-1 (input).
//   - barge's size syntax has no -1: read_bytes_limit_per_second is left
//     out, or 0, for unlimited.
package tail
