// Package files is barge's whole-file input (@type files): it ships data
// files that on-premise servers drop in a directory (CSV, TSV, NDJSON, or
// JSON documents, any of them gzip-compressed), each version of a file
// once, and remembers what it shipped in a ledger (the pos_file).
//
// # What is shipped, and when
//
// Every refresh_interval (default 60s), or only at the times of schedule
// (a cron expression), the globs of path are listed, less exclude_path
// and the input's own files (the pos_file and its siblings, error_dir,
// the move_to directory). A regular file is taken once its size and mtime
// were seen unchanged for settle_time (default 5s; a file first seen is
// looked at again when that time is up, so it need not wait for the next
// scan; a scheduled run goes on until the files it saw have settled).
// Files are shipped one at a time, oldest mtime first; a file's name does
// not matter (there is no "last path" cursor: a file whose name sorts
// before those shipped is shipped too).
//
// A file is identified by its path and its content's SHA-256. A file whose
// size or mtime differs from its ledger line is hashed first: the same
// hash (a touch, a copy of the same bytes) updates the ledger's mtime and
// ships nothing; another hash is a new version and is shipped whole, again.
// The hash and the records come from the same open file.
//
// Gzip is recognised by its magic bytes (1f 8b), not by the name;
// concatenated gzip members are read as one stream. A UTF-8 byte order
// mark at the start of a file is dropped.
//
// # Records
//
// Each record is a msgpack map handed to the Sink in barge's canonical
// [time, record] stream (package event), in batches of at most 1,000
// records or about 1 MiB: one Append, then one journal line in the
// pos_file, per batch.
//
//   - csv, tsv: one record per row, streamed with encoding/csv (tsv: tab
//     delimiter, quotes inside fields are plain characters). The first row
//     names the columns (header true, the default) unless header is false,
//     when columns names them; columns also overrides a header's names.
//     Every row must be as wide as the header (or columns): a ragged row is
//     an error. Values are strings unless "types" converts them.
//   - ndjson: one JSON object per line, streamed, transcoded to msgpack
//     without building Go values by the tailer's transcoder
//     (parse.Transcoder); keys keep their order, a repeated key stays
//     repeated. Blank lines are skipped.
//   - json: one JSON document per file, at most max_document_size (default
//     64m). json_path (RFC 9535) selects the records: each selected array
//     gives one record per element, each selected object one record;
//     without it the document itself does. When json_path is unset, $, or a
//     walk down from the root by member names and array indexes ($.task,
//     $.data.items, $['a b'].c, $.pages[0].rows), the document is streamed,
//     never held: it is read twice from the file, first to check it whole
//     (its syntax, as encoding/json's, and every record), then to ship the
//     records, one decoded at a time, so that memory grows with the largest
//     record, not with the document. Any other json_path (wildcards,
//     slices, filters, descendants, negative indexes, several selectors in
//     a segment) needs the document held in memory, decoded: 10 to 20 times
//     its size (and its wildcards and descendants visit an object's members
//     in no set order). Either way a record is decoded by encoding/json
//     (numbers kept exact), written again as JSON and transcoded as an
//     ndjson line is, so keys are sorted; of a key repeated in an object
//     the last counts, json_path's steps included.
//
// Keys are kept as they are (renaming keys, "#TH" included, is the
// output's concern). Integers that fit are int64 (else uint64, else
// float64), other numbers float64; a number beyond float64 is an error.
// Records nest at most event.MaxDepth levels.
//
// A line or row is at most max_line_size (default 16m), so the memory of
// csv, tsv and ndjson does not grow with the file, nor does a streamed
// JSON document's. path_key adds the file's
// path to every record (replacing a field of that name).
//
// Record time: time_key's field when set, read by the tailer's time
// parser (parse.TimeParser): with time_type unset, a string is parsed with
// time_format (strptime, or %iso8601; without it ISO 8601 and the common
// forms of log files) and a number, or a string that reads as one, is
// seconds since the epoch; time_type string, unixtime, float and mixed
// (with time_format_fallbacks) read as in the tailer's <parse>. A time
// without a zone is in timezone, else the local zone. The field is
// removed from the record unless keep_time_key; a record without it, or
// with null or "", gets the default. The default is the time the file's
// transfer started (Options.Now): one time for a whole file, a new one
// when a transfer resumes; a format without a year takes that year.
// "types" ("key:integer,key2:float,key3:time:%d/%m/%Y") converts
// top-level string values with the tailer's types (parse.Types), strictly
// (parse.Conversion.Convert): "" becomes nil, and a value that does not
// convert is an error where Fluentd's to_i would make it 0.
//
// # Delivery
//
// A batch counts only once Append returned nil. Any other error is
// retried with the same batch, backoff doubling from 1s to 30s, until it
// succeeds or the input stops: a batch is never skipped and the ledger
// never moves past an unacknowledged batch. After each acknowledged batch
// the ledger records how far the file got (records, and the byte offset
// of the decoded input). A file is marked shipped only when all its
// records were acknowledged.
//
// After a restart nothing acknowledged is shipped again (see The
// pos_file), and a half-read file
// resumes after its last acknowledged batch: a plain csv, tsv or ndjson
// file by seeking to the offset; a gzip file or a JSON document by
// reading again from the start and skipping the acknowledged records. A
// half-read file whose content changed meanwhile is a new version and
// ships whole (the records of the old version already shipped stay
// shipped).
//
// after_transfer delete or move_to DIR acts only once the shipped mark is
// durable in the pos_file (and is retried at each scan until it works),
// and only on the version shipped (same size and mtime): a file written
// to while it was shipped keeps the hashed version in the ledger, the next
// scan ships its new content as a new version, and only then is it
// deleted or moved. The ledger line is then dropped. A file moved never overwrites one in
// DIR: it becomes NAME.1, NAME.2, ...
//
// # Bad files
//
// Unparseable JSON, a json_path selecting nothing, a selected element
// that is not an object, a ragged CSV row, a line over max_line_size, a
// value that "types" or time_key cannot convert, a broken gzip stream:
// the file is reported (logged as "PATH:LINE: reason", with "column C: "
// for JSON, or "PATH: record N: reason" for a JSON document, N counting
// from 1), counted
// (Stats.Failed), marked failed in the ledger with its hash, and moved to
// error_dir when set; else left in place and not retried until its
// content changes. Other files go on. For csv, tsv and ndjson the records
// before the bad line are shipped (validating a 1 GiB file before
// shipping it would read it twice); the ledger says how many. A JSON
// document is checked whole first and ships all or nothing. A corrected
// file is a new version and ships whole. I/O errors (a file that cannot
// be read; a streamed JSON document that differs between its two
// readings, written to while shipped) are not the file's fault: they are
// logged and the file is tried again at the next scan.
//
// # The pos_file
//
// The ledger is a snapshot, the pos_file, and a journal of the changes
// since, NAME.journal. The snapshot is a text file, one line per path:
//
//	barge-files-ledger 1 gen=42
//	shipped size=1234 mtime=1700000000.123456789 sha256=9f86…(64 hex) records=20 offset=1234 path="/data/export/a.csv"
//	reading size=99999 mtime=1700000100.000000000 sha256=… records=1000 offset=51234 path="/data/export/b.ndjson"
//	failed size=12 mtime=1700000200.000000000 sha256=… records=0 offset=0 path="/data/export/c.json"
//	end entries=3 crc32c=0a1b2c3d
//
// The state is reading (records and offset say how far the acknowledged
// batches got), shipped or failed. mtime is seconds.nanoseconds since the
// epoch; offset counts bytes of the decoded (gunzipped) input; path is a
// Go-quoted string. gen grows with every snapshot. The end line counts the
// entries and holds the CRC-32C of every byte before it, so a torn or
// damaged file is detected.
//
// Every change (an acknowledged batch; a file shipped, failed or touched;
// an entry dropped after after_transfer) is one line appended to the
// journal with one write(2): the CRC-32C of the rest of the line in hex,
// then the entry's line as above, or "drop path=…" for an entry removed.
// Its first line, "barge-files-journal 1 gen=42", names the snapshot it
// follows. A batch thus costs one small write, whatever the number of
// entries; the snapshot is rewritten only at the end of every scan that
// changed something, when the journal outgrows the snapshot (and 1 MiB),
// before after_transfer or error_dir acts on a file, when entries of
// missing paths are forgotten, and at start.
//
// A snapshot goes to NAME.tmp, NAME becomes NAME.prev, NAME.tmp becomes
// NAME; then the journal, whose changes NAME holds, becomes
// NAME.journal.prev and an empty one is started: a torn snapshot is never
// read as a whole one. At start the valid snapshot with the highest gen
// among NAME.tmp, NAME and NAME.prev is used (NAME.tmp is the newest when
// a crash came before its rename; NAME.prev the previous one), then the
// journals of that gen or later are replayed (NAME.journal.prev with
// NAME.prev), each up to its first torn or damaged line, which is logged
// and dropped with the rest. A torn NAME.tmp is removed; a damaged NAME or
// NAME.prev is logged with its path and moved aside to NAME.corrupt-TIME,
// never dropped silently. When no snapshot is valid the entries are the
// journals' alone and the other files are shipped again (duplicates
// rather than loss); without any snapshot (a first start, or all the
// pos_file's files removed to ship everything again) a journal is
// ignored. Then a new snapshot is written. Ledger lines of paths missing
// for 24 hours are dropped. One pos_file serves one input; two processes
// must not share it.
//
// What survives is what barge counts on: a crash of the process (kill -9)
// loses nothing written with write(2), as the file buffer writes its
// chunks without fsync and calls them durable. A kill -9
//   - during an Append: the batch was not acknowledged; the buffer drops
//     what of it reached its chunk files (buffer.AppendMarked), and the
//     restart ships it;
//   - after an Append returned but before its journal line was written:
//     with a sink that stores marks (buffer.MarkedSink: cmd/barge's router over
//     file buffers; see marks.go) the batch carried its path's ledger
//     entry, with a seq; at start an entry the buffer holds with a
//     greater seq than the ledger's replaces it, so nothing is shipped
//     again. Without such a sink that one batch is shipped again;
//   - after the journal line: nothing is shipped again;
//   - while a snapshot is written, at any step: NAME.tmp is torn (removed:
//     NAME and its journal are used), or whole (used; the journal's
//     changes are in it), or renamed (used, as above); the old journal is
//     read only when its gen is that of the snapshot used.
//
// A power loss may lose what was not fsynced, the buffer's chunks as
// much as the pos_file: a journal line, or a snapshot (a damaged NAME
// then falls back to NAME.prev and its journal). The ledger then goes
// back, never ahead: files are shipped again, none is lost.
// pos_file_fsync true fsyncs every journal line, every snapshot and the
// directory after its renames, so that the ledger survives a power loss
// too (as the buffer's fsync, it costs an fsync per batch).
//
// # Lifecycle
//
// New checks the config and does no I/O. Listen reads (and recovers) the
// pos_file, writes a new snapshot, which opens the journal, and creates
// the pos_file's directory, error_dir and the move_to directory. Run scans
// and ships until its context ends or Close is called, then closes the
// journal and returns nil: an Append in progress gets the cancelled
// context, and its batch is not acknowledged. Close is idempotent, safe
// without Run, waits for Run to return and closes the journal. Stats is
// safe at any time.
package files
