package format

import (
	"bytes"
	"fmt"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/output/strftime"
)

// recordFormat turns one record into bytes. b is the record's msgpack map,
// which the Encoder checked (well-formed, nested at most event.MaxDepth
// levels); appendRecord returns the rest of b after the record.
type recordFormat interface {
	appendRecord(dst []byte, st *encodeState, sec, nsec int64, b []byte) ([]byte, []byte, error)
}

func newFormat(cfg Config, inj *injector, opts EncoderOptions) recordFormat {
	nl := cfg.AddNewline
	var bq *bigQueryKeys
	if cfg.KeyStyle == KeyStyleBigQuery && cfg.Type != "single_value" {
		bq = newBigQueryKeys(inj, opts.OnKeyCollision)
	}
	switch cfg.Type {
	case "ltsv":
		return &ltsvFormat{inj: inj, bq: bq, delim: []byte(cfg.Delimiter), label: []byte(cfg.LabelDelimiter), repl: []byte(cfg.Replacement), newline: nl}
	case "msgpack":
		return &msgpackFormat{inj: inj, bq: bq}
	case "single_value":
		return &singleValueFormat{inj: inj, key: cfg.MessageKey, newline: nl}
	case "stdout":
		return &stdoutFormat{json: jsonFormat{inj: inj, bq: bq}, timeFmt: strftime.Compile("%Y-%m-%d %H:%M:%S.%N %z"), loc: cfg.location(opts.Location)}
	case "out_file":
		layout := cfg.TimeFormat
		if layout == "" {
			layout = "%Y-%m-%dT%H:%M:%S%z"
		}
		return &outFileFormat{json: jsonFormat{inj: inj, bq: bq}, timeFmt: strftime.Compile(layout), loc: cfg.location(opts.Location),
			delim: []byte(cfg.outFileDelimiter()), tag: cfg.OutputTag, time: cfg.OutputTime}
	default:
		return &jsonFormat{inj: inj, bq: bq, newline: nl}
	}
}

// jsonFormat writes one JSON object per record, injected members first.
type jsonFormat struct {
	inj     *injector
	bq      *bigQueryKeys // key_style bigquery; nil: as_is
	newline bool
}

func (f *jsonFormat) appendRecord(dst []byte, st *encodeState, sec, nsec int64, b []byte) ([]byte, []byte, error) {
	if f.bq != nil {
		dst, b, err := f.bq.appendJSONRecord(dst, st, sec, nsec, b)
		if err == nil && f.newline {
			dst = append(dst, '\n')
		}
		return dst, b, err
	}
	n, b, err := readMapHeader(b)
	if err != nil {
		return dst, b, err
	}
	dst = append(dst, '{')
	comma := false
	if f.inj != nil {
		dst = f.inj.appendJSONMembers(dst, &st.inj, sec, nsec)
		comma = true
	}
	for i := 0; i < n; i++ {
		key, rest, kerr := readBytesValue(b)
		if kerr == nil && f.inj != nil && f.inj.has(key) {
			if b, err = msgp.Skip(rest); err != nil {
				return dst, b, fmt.Errorf("%w: %v", errMsgpack, err)
			}
			continue
		}
		if comma {
			dst = append(dst, ',')
		}
		comma = true
		if kerr == nil {
			dst, b = appendString(dst, key), rest
		} else if dst, b, err = appendJSONKey(dst, b, 0); err != nil {
			return dst, b, err
		}
		dst = append(dst, ':')
		if dst, b, err = appendJSON(dst, b, 1); err != nil {
			return dst, b, err
		}
	}
	dst = append(dst, '}')
	if f.newline {
		dst = append(dst, '\n')
	}
	return dst, b, nil
}

// stdoutFormat is Fluentd's stdout formatter: "TIME TAG: JSON\n".
type stdoutFormat struct {
	json    jsonFormat
	timeFmt *strftime.Layout
	loc     *time.Location
}

func (f *stdoutFormat) appendRecord(dst []byte, st *encodeState, sec, nsec int64, b []byte) ([]byte, []byte, error) {
	dst = f.timeFmt.Append(dst, time.Unix(sec, nsec).In(f.loc))
	dst = append(dst, ' ')
	dst = append(dst, st.tag...)
	dst = append(dst, ':', ' ')
	dst, b, err := f.json.appendRecord(dst, st, sec, nsec, b)
	return append(dst, '\n'), b, err
}

// outFileFormat is Fluentd's out_file formatter, the default format of
// out_file, out_s3 and out_gcs: "TIME<delim>TAG<delim>JSON\n", the time and
// the tag each left out when output_time or output_tag is false.
type outFileFormat struct {
	json      jsonFormat
	timeFmt   *strftime.Layout
	loc       *time.Location
	delim     []byte
	tag, time bool
}

func (f *outFileFormat) appendRecord(dst []byte, st *encodeState, sec, nsec int64, b []byte) ([]byte, []byte, error) {
	if f.time {
		dst = f.timeFmt.Append(dst, time.Unix(sec, nsec).In(f.loc))
		dst = append(dst, f.delim...)
	}
	if f.tag {
		dst = append(dst, st.tag...)
		dst = append(dst, f.delim...)
	}
	dst, b, err := f.json.appendRecord(dst, st, sec, nsec, b)
	return append(dst, '\n'), b, err
}

// msgpackFormat writes the record's msgpack map, with the injected members
// first; a record field that an injected key replaces is left out.
type msgpackFormat struct {
	inj *injector
	bq  *bigQueryKeys // key_style bigquery; nil: as_is
}

func (f *msgpackFormat) appendRecord(dst []byte, st *encodeState, sec, nsec int64, b []byte) ([]byte, []byte, error) {
	if f.bq != nil {
		return f.bq.appendMsgpackRecord(dst, st, sec, nsec, b)
	}
	if f.inj == nil { // b is exactly the record, checked by the Encoder
		return append(dst, b...), b[len(b):], nil
	}
	n, body, err := readMapHeader(b)
	if err != nil {
		return dst, b, err
	}
	// First pass: find the end and count the replaced fields.
	dropped := 0
	p := body
	for i := 0; i < n; i++ {
		key, rest, kerr := readBytesValue(p)
		if kerr == nil && f.inj.has(key) {
			dropped++
		}
		if kerr != nil {
			if rest, err = msgp.Skip(p); err != nil {
				return dst, b, fmt.Errorf("%w: %v", errMsgpack, err)
			}
		}
		if p, err = msgp.Skip(rest); err != nil {
			return dst, b, fmt.Errorf("%w: %v", errMsgpack, err)
		}
	}
	dst = appendMapHeader(dst, n-dropped+len(f.inj.fields))
	dst = f.inj.appendMsgpackMembers(dst, &st.inj, sec, nsec)
	if dropped == 0 {
		return append(dst, body[:len(body)-len(p)]...), p, nil
	}
	q := body
	for i := 0; i < n; i++ {
		start := q
		key, rest, kerr := readBytesValue(q)
		if kerr != nil {
			rest, _ = msgp.Skip(q)
		}
		q, _ = msgp.Skip(rest)
		if kerr == nil && f.inj.has(key) {
			continue
		}
		dst = append(dst, start[:len(start)-len(q)]...)
	}
	return dst, p, nil
}

// ltsvFormat writes label:value pairs separated by the delimiter. Strings
// are written as they are, nil as nothing, maps and arrays as JSON.
// Delimiters inside labels and values are replaced, as Fluentd does.
type ltsvFormat struct {
	inj                *injector
	bq                 *bigQueryKeys // key_style bigquery; nil: as_is
	delim, label, repl []byte
	newline            bool
}

func (f *ltsvFormat) appendRecord(dst []byte, st *encodeState, sec, nsec int64, b []byte) ([]byte, []byte, error) {
	if f.bq != nil {
		return f.appendRecordBQ(dst, st, sec, nsec, b)
	}
	n, b, err := readMapHeader(b)
	if err != nil {
		return dst, b, err
	}
	dst, wrote := f.appendInjected(dst, st, f.inj, nil, sec, nsec)
	first := !wrote
	for i := 0; i < n; i++ {
		key, rest, kerr := readBytesValue(b)
		if kerr == nil && f.inj != nil && f.inj.has(key) {
			if b, err = msgp.Skip(rest); err != nil {
				return dst, b, fmt.Errorf("%w: %v", errMsgpack, err)
			}
			continue
		}
		if !first {
			dst = append(dst, f.delim...)
		}
		first = false
		if st.scratch, b, err = appendText(st.scratch[:0], b); err != nil {
			return dst, b, err
		}
		dst = appendReplaced(dst, st.scratch, f.label, f.repl)
		dst = append(dst, f.label...)
		if st.scratch, b, err = appendText(st.scratch[:0], b); err != nil {
			return dst, b, err
		}
		dst = appendReplaced(dst, st.scratch, f.delim, f.repl)
	}
	if f.newline {
		dst = append(dst, '\n')
	}
	return dst, b, nil
}

// appendInjected writes the injected fields first, each labelled by its
// key or, when names is set (key_style bigquery), by names[i], and reports
// whether it wrote any.
func (f *ltsvFormat) appendInjected(dst []byte, st *encodeState, inj *injector, names []string, sec, nsec int64) ([]byte, bool) {
	if inj == nil {
		return dst, false
	}
	for i := range inj.fields {
		fl := &inj.fields[i]
		if i > 0 {
			dst = append(dst, f.delim...)
		}
		key := fl.key
		if names != nil {
			key = names[i]
		}
		dst = appendReplaced(dst, []byte(key), f.label, f.repl)
		dst = append(dst, f.label...)
		st.scratch = inj.appendTextValue(st.scratch[:0], fl, &st.inj, sec, nsec)
		dst = appendReplaced(dst, st.scratch, f.delim, f.repl)
	}
	return dst, len(inj.fields) > 0
}

// singleValueFormat writes one field's value as text.
type singleValueFormat struct {
	inj     *injector
	key     string
	newline bool
}

func (f *singleValueFormat) appendRecord(dst []byte, st *encodeState, sec, nsec int64, b []byte) ([]byte, []byte, error) {
	if f.inj != nil {
		for i := range f.inj.fields {
			if fl := &f.inj.fields[i]; fl.key == f.key {
				rest, err := msgp.Skip(b)
				if err != nil {
					return dst, b, fmt.Errorf("%w: %v", errMsgpack, err)
				}
				dst = f.inj.appendTextValue(dst, fl, &st.inj, sec, nsec)
				if f.newline {
					dst = append(dst, '\n')
				}
				return dst, rest, nil
			}
		}
	}
	n, b, err := readMapHeader(b)
	if err != nil {
		return dst, b, err
	}
	found := false
	for i := 0; i < n; i++ {
		key, rest, kerr := readBytesValue(b)
		if kerr != nil {
			if rest, err = msgp.Skip(b); err != nil {
				return dst, b, fmt.Errorf("%w: %v", errMsgpack, err)
			}
		}
		if !found && kerr == nil && string(key) == f.key {
			found = true
			if dst, b, err = appendText(dst, rest); err != nil {
				return dst, b, err
			}
			continue
		}
		if b, err = msgp.Skip(rest); err != nil {
			return dst, b, fmt.Errorf("%w: %v", errMsgpack, err)
		}
	}
	if f.newline {
		dst = append(dst, '\n')
	}
	return dst, b, nil
}

// appendText writes a key or value of a record as Ruby's to_s would for
// scalars: strings as they are, nil as nothing; maps and arrays (level 2)
// as JSON.
func appendText(dst, b []byte) ([]byte, []byte, error) {
	if s, rest, err := readBytesValue(b); err == nil {
		return append(dst, s...), rest, nil
	}
	if len(b) > 0 && b[0] == 0xc0 {
		return dst, b[1:], nil
	}
	return appendJSON(dst, b, 1)
}

// appendReplaced appends s with every old replaced by repl.
func appendReplaced(dst, s, old, repl []byte) []byte {
	if len(old) == 0 {
		return append(dst, s...)
	}
	for {
		i := bytes.Index(s, old)
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		dst = append(dst, repl...)
		s = s[i+len(old):]
	}
}
