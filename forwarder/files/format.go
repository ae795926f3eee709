package files

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/forwarder/parse"
	"github.com/theory/jsonpath"
	"github.com/tinylib/msgp/msgp"
)

// format is the parsed <parse> section, shared by every file's reader
// (one at a time: its time parser caches the last time it read).
type format struct {
	typ      string
	comma    rune
	lazy     bool // tsv: quotes inside fields are plain characters
	header   bool
	columns  []string
	path     *jsonpath.Path
	pathText string     // json_path as configured
	steps    []pathStep // json_path as a walk from the root, when stream
	stream   bool       // a json document is streamed (see jsonDocFrom)
	maxLine  int
	maxDoc   int64
	rules    map[string]rule // top-level keys handled specially
	ruleKeys []string        // the same keys, searched when few
	keepTime bool
	timeFmt  string // time_format as configured, for messages
	time     *parse.TimeParser
}

// rule says what happens to a top-level field.
type rule struct {
	drop bool              // path_key: replaced by the file's path
	time bool              // time_key: the record's time
	conv *parse.Conversion // "types": converted from a string
}

func newFormat(p *ParseConfig, pathKey string) (*format, error) {
	f := &format{
		typ: p.Type, header: p.Header, columns: p.Columns,
		maxLine: int(p.MaxLineSize), maxDoc: p.MaxDocumentSize,
		keepTime: p.KeepTimeKey, timeFmt: p.TimeFormat,
		rules: map[string]rule{},
	}
	switch p.Type {
	case "csv":
		f.comma = ','
	case "tsv":
		f.comma, f.lazy = '\t', true
	}
	if p.Delimiter != "" {
		c, err := delimiter(p.Delimiter)
		if err != nil {
			return nil, err
		}
		f.comma = c
	}
	if p.JSONPath != "" {
		jp, err := jsonpath.Parse(p.JSONPath)
		if err != nil {
			return nil, fmt.Errorf("'json_path' %q: %w", p.JSONPath, err)
		}
		f.path, f.pathText = jp, p.JSONPath
	}
	f.steps, f.stream = streamSteps(f.path)
	loc, err := p.location()
	if err != nil {
		return nil, err
	}
	if f.time, err = p.timeParser(loc); err != nil {
		return nil, err
	}
	types, err := parse.NewTypes(p.Types, loc)
	if err != nil {
		return nil, err
	}
	for k := range p.Types {
		f.rules[k] = rule{conv: types.Lookup(k)}
	}
	if p.TimeKey != "" {
		f.rules[p.TimeKey] = rule{time: true}
	}
	if pathKey != "" {
		f.rules[pathKey] = rule{drop: true}
	}
	for k := range f.rules {
		f.ruleKeys = append(f.ruleKeys, k)
	}
	return f, nil
}

// cursor is a position in a file's decoded input: records read from its
// start, and the byte offset after the last of them.
type cursor struct {
	records, offset int64
}

// emitter takes records; batch is the one implementation.
type emitter interface {
	add(rawTime, rec []byte, c cursor) error
}

// fileReader turns one file's decoded bytes into records.
type fileReader struct {
	f       *format
	path    string    // the file's path, for errors
	now     time.Time // when the transfer started
	rawTime []byte    // default record time: now, an EventTime
	out     emitter
	tr      parse.Transcoder // JSON objects, with the rules and the path_key pair

	rec     []byte        // the record being built
	timeBuf []byte        // the record's own time, from time_key
	doc     []byte        // a record of a JSON document, as JSON text
	dec     *json.Decoder // decodes the records of a streamed document
	feed    bytes.Reader  // the record dec reads
}

func newFileReader(f *format, pathKey, path string, now time.Time, out emitter) *fileReader {
	r := &fileReader{f: f, path: path, now: now, rawTime: event.AppendEventTime(nil, now.Unix(), int64(now.Nanosecond())), out: out}
	if pathKey != "" {
		r.tr.Tail = msgp.AppendString(msgp.AppendString(nil, pathKey), path)
		r.tr.TailLen = 1
	}
	if len(f.rules) > 0 {
		r.tr.Field = r.jsonField
	}
	return r
}

// object transcodes one JSON object into a record, applying the rules.
func (r *fileReader) object(src []byte) ([]byte, error) {
	r.timeBuf = r.timeBuf[:0]
	rec, err := r.tr.AppendObject(r.rec[:0], src)
	r.rec = rec
	return rec, err
}

// posError is a data error at a line of the input.
type posError struct {
	line int64
	err  error
}

func (e *posError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e *posError) Unwrap() error { return e.err }

// abortError wraps an error of the emitter (Append cancelled, pos_file
// not written): the transfer stops without blaming the file.
type abortError struct{ err error }

func (e *abortError) Error() string { return e.err.Error() }
func (e *abortError) Unwrap() error { return e.err }

var errTooLong = errors.New("longer than max_line_size")

// jsonField applies the rule of a top-level field of a JSON object, its
// key at dst[key:], its value at dst[val:] (see parse.Transcoder).
func (r *fileReader) jsonField(dst []byte, key, val int) ([]byte, error) {
	k, _, _ := msgp.ReadStringZC(dst[key:])
	ru, ok := r.f.rule(k)
	switch {
	case !ok:
	case ru.drop:
		return dst[:key], nil
	case ru.time:
		// null or "": the default time
		if v := dst[val:]; !msgp.IsNil(v) && !(len(v) > 0 && v[0] == 0xa0) {
			sec, nsec, ok := r.f.time.ParseValue(v, r.now)
			if !ok {
				txt, _, _ := event.AppendText(nil, v)
				return dst, fmt.Errorf("%s: %w", k, r.f.timeError(string(txt)))
			}
			r.timeBuf = event.AppendEventTime(r.timeBuf[:0], sec, nsec)
		}
		if !r.f.keepTime {
			return dst[:key], nil
		}
	case ru.conv != nil:
		if s, _, err := msgp.ReadStringZC(dst[val:]); err == nil {
			var cerr error // s is copied: its bytes are rewritten
			if dst, cerr = ru.conv.Convert(dst[:val], string(s), r.now); cerr != nil {
				return dst, fmt.Errorf("%s: %w", k, cerr)
			}
		}
	}
	return dst, nil
}

// timeError says why the text of a time did not parse.
func (f *format) timeError(text string) error {
	if f.timeFmt != "" {
		return fmt.Errorf("time %.64q does not match time_format", text)
	}
	return fmt.Errorf("time %.64q is neither a date and time nor seconds since the epoch (1970..2106)", text)
}

// rule returns the rule of a top-level key.
func (f *format) rule(k []byte) (rule, bool) {
	if len(f.ruleKeys) > 8 {
		ru, ok := f.rules[string(k)]
		return ru, ok
	}
	for _, rk := range f.ruleKeys {
		if string(k) == rk {
			return f.rules[rk], true
		}
	}
	return rule{}, false
}

// time returns the record's time: time_key's, or the default.
func (r *fileReader) time() []byte {
	if len(r.timeBuf) > 0 {
		return r.timeBuf
	}
	return r.rawTime
}
