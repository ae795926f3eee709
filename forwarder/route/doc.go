// Package route sends entries from the inputs through the <filter>
// directives to the first matching <match>, as Fluentd's event router does.
//
// # Tag patterns
//
// Compile implements Fluentd's MatchPattern: "*" is one tag part, "**" zero
// or more parts ("a.**" matches "a"), "{a,b}" alternatives (nested too), "\"
// escapes, and white space separates several patterns of one directive. A
// "." at the very end of a pattern is ignored, as in Fluentd. Unlike Fluentd,
// an unclosed "{" is an error rather than a literal. Matching runs in time
// linear in the tag's length.
//
// # Routing
//
// Router.Append resolves a tag once (results are cached for up to 4096
// tags): the filters added before the first <match> whose patterns match
// the tag, in the order they were added, then that match. Filters added
// after that match do not apply to the tag, as in Fluentd, so callers add
// <filter> and <match> directives in configuration order. Entries that
// match no <match> are counted (Stats.Unmatched) and dropped with at most
// one warning per tag per minute. Append returns the sink's error unchanged:
// nil means durable. Entries that the filters drop entirely are not handed
// to the sink, and Append returns nil.
//
// # Filters
//
// A Filter reads a canonical entries stream (see package codec) and appends
// the entries it keeps to dst; every kept entry keeps its time bytes and
// the untouched fields of its record keep their msgpack bytes.
//
// Grep is filter_grep: <regexp> (all must match), <exclude> (none may
// match), <and> and <or> blocks, and the deprecated regexpN/excludeN
// parameters. Keys may be record accessors ($.a.b, $['a']['b'], $.a[0]; see
// event.Accessor). A missing field is matched as "", non-string values by their
// Ruby to_s form (maps and arrays as JSON). Patterns are written "/RE/" with
// optional i and m flags (Fluentd v1 strips the slashes), or plain.
//
// Regular expressions are Go's RE2, not Ruby's Onigmo. As in Ruby, ^ and $
// match at line boundaries and /m lets "." match a newline. RE2 has no
// look-around ((?=...), (?!...), (?<=...)), no back references (\1), no
// possessive or atomic groups, no \h (use [0-9a-fA-F]), no \Z (use \z),
// and no /x option; such patterns are rejected when the configuration is
// checked. Matching is linear in the input, so no pattern can stall a
// forwarder.
//
// RecordTransformer is filter_record_transformer with enable_ruby false:
// <record> values with ${tag}, ${tag_parts[N]}, ${tag_prefix[N]},
// ${tag_suffix[N]} (N may be negative), ${hostname}, ${time} (Ruby's
// Time#to_s in the local zone), ${record["key"]} and its short form ${key},
// and the nested ${record["a"]["b"]} and ${record["a"][0]} (Fluentd needs
// enable_ruby for these; a missing step gives nothing); values starting with
// '[' or '{' are JSON, as in Fluentd. remove_keys (record accessors: $.a.b
// removes b from the map a, after <record> is applied), keep_keys (top-level
// names) with renew_record, and auto_typecast (a value that is a single
// ${record[...]} keeps the field's type). Placeholders that need Ruby
// (method calls, escapes) are rejected. New fields are added in
// key order: the <record> section is decoded into a map. enable_ruby true
// and renew_time_key are not supported.
package route
