// Package parse is the <parse> section of the file tailer (@type tail,
// Fluentd's in_tail): it turns lines of text into entries of the canonical
// stream of package buffer/event, [time, record] msgpack arrays, the time
// an EventTime. Config holds the section (Fluentd's parameter names and
// defaults), New compiles it into a Parser, one per file. Records are
// written as msgpack straight from the line, without Go maps (but one,
// reused, to find repeated keys among more than 64 fields); none, json,
// cri and docker allocate nothing once warm.
//
// The types are none, json, regexp, ltsv, csv, tsv, apache2, nginx,
// syslog and multiline (Fluentd's parser plugins), cri
// (fluent-plugin-parser-cri) and docker (the json-file log driver's lines).
//
// # Lines, held records and Flush
//
// The tailer gives each line, without its "\n" (and "\r"), to Line, which
// appends the entries the line completes: usually one; none while a record
// is still open (a multiline record, cri lines tagged P, docker entries
// whose log does not end with "\n"); two when the line closes a held record
// and completes one of its own (a json array makes one per object). Held
// is how many of the most recent lines are at or after the first line of a
// record still open: the tailer commits a file position only before that
// line, so a restart reads the held lines again. cri and docker join
// partial lines per stream, so a record of stdout may stay open while
// records of stderr complete: those lines are then counted in Held too,
// and appended again after a restart (at least once, never lost).
//
// Flush appends the held records as they are (the tailer calls it when
// Config.FlushInterval, multiline_flush_interval, has elapsed since the
// last line, and when the file is rotated away or ends for good); Held is
// then 0. A held record is also closed before it would exceed MaxHeldLines
// lines (multiline) or MaxHeldBytes bytes.
//
// # Unmatched lines
//
// A line that does not parse is never dropped: it becomes the record
// {UnmatchedKey: line} (Options.UnmatchedKey, "message" by default) at the
// time given to Line, and Stats().Unmatched counts it. A line does not
// parse when its pattern does not match, its JSON is malformed or not an
// object, its time does not parse or lies outside what an EventTime holds
// (1970 to 2106), it has no time and estimate_current_event is false, or
// it nests deeper than event.MaxDepth. For a multiline record the value is
// the joined lines; for a joined docker record the joined log; for a
// joined cri record the line it would have been ("TIME STREAM TAG
// MESSAGE").
//
// # Time
//
// The event time is read from the field time_key, which is removed from
// the record unless keep_time_key. time_type string parses it with
// time_format: strptime directives as Ruby's Time.strptime reads them (see
// strptime.go), or %iso8601; without a format, ISO 8601 and the common
// forms of log files are tried (Fluentd's Time.parse reads more). unixtime
// and float read seconds (float keeps 9 digits of the fraction); mixed tries
// time_format, then each of time_format_fallbacks. A time without a zone is
// in timezone, else UTC with utc (or localtime false), else in
// Options.Location (nil: time.Local). Components the format lacks before
// its first one come from the time given to Line (a syslog time has this
// year). A record without the field has the time given to Line.
//
// # Records
//
// Values are strings unless the type says otherwise (json's values keep
// their JSON types: integers, floats, booleans, nil, maps, arrays). Then
// null_empty_string and null_value_pattern make matching strings nil, and
// types converts fields as Fluentd does (integer, float, bool, string,
// array, time as an EventTime). A key that repeats keeps its first place
// and its last value, as a Ruby Hash (maps nested in json values are kept
// as they come). Every record passes event.CheckRecord.
//
// # For other inputs
//
// The whole-file input (package files) reads JSON, times and types the
// same way, with the pieces the parsers are made of: Transcoder turns a
// JSON object into a msgpack map, its Field hook seeing each top-level
// field (a *JSONError says what and where when the text does not
// transcode); NewTimeParser compiles time_type, time_format,
// time_format_fallbacks and a zone (TimeConfig) into a TimeParser; NewTypes
// compiles types, whose Conversion.Convert is strict: a value that does
// not convert is an error, not Fluentd's 0, false or nil.
//
// # Differences from Fluentd
//
//   - Lines Fluentd drops (unmatched without emit_unmatched_lines, lines
//     whose time raises, multiline lines before any first line) are kept,
//     as above; a multiline line before any first line is parsed alone.
//   - Regular expressions are Go's RE2: no look-around, back references,
//     possessive or atomic groups, \h or \Z; such patterns are refused by
//     Validate. Matching is linear, so timeout has no use. Fluentd's syslog
//     rfc5424 pattern is rewritten without its look-behind.
//   - Time.parse (no time_format) reads ISO 8601 and common forms only;
//     cri and docker default to %iso8601, which also reads the runtimes'
//     times whose nanoseconds are 0 (Fluentd's cri default,
//     %Y-%m-%dT%H:%M:%S.%L%z, does not).
//   - cri joins P lines itself (Fluentd needs fluent-plugin-concat), and a
//     nested <parse> record without a time takes the cri line's time
//     instead of the current time. docker has no Fluentd counterpart.
//   - A json array of objects makes one record per object, as Fluentd; an
//     empty array, or one holding a non-object, is also an unmatched line.
//   - Without format_firstline, multiline matches the joined lines without
//     a trailing newline.
//   - types, null_value_pattern and null_empty_string apply to apache2 and
//     syslog records too (Fluentd ignores them there); types string of a map
//     or an array gives its JSON, not Ruby's inspect form.
//   - keep_time_key "" means the type's default (true for cri only).
//   - multiline_flush_interval may be given in <parse> (Fluentd has it in
//     <source>). syslog's parser_type string and csv's parser_engine fast
//     parse as regexp and normal do; json_parser, stream_buffer_size,
//     support_colonless_ident and regexp's deprecated ignorecase and
//     multiline are accepted and have no effect.
package parse
