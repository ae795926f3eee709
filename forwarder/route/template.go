package route

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/buffer/event"
)

// placeholder kinds of record_transformer (without enable_ruby).
type phKind uint8

const (
	phTag phKind = iota
	phTagPart
	phTagPrefix
	phTagSuffix
	phHostname
	phTime
	phRecord // ${record["key"]}, ${record["a"]["b"]}, ${record["a"][0]} or ${key}
)

type piece struct {
	lit   string
	ph    bool
	kind  phKind
	index int
	acc   event.Accessor // phRecord
}

// template is a string with ${...} placeholders.
type template []piece

func (t template) static() bool { return len(t) == 0 || (len(t) == 1 && !t[0].ph) }

// parseTemplate splits s on "${...}" as Fluentd's /\$\{[^}]+\}/ does: a "${"
// without its "}" is literal text.
func parseTemplate(s string) (template, error) {
	var t template
	for s != "" {
		i := strings.Index(s, "${")
		if i < 0 {
			break
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end <= 0 { // no "}" or "${}": literal
			if end < 0 {
				break
			}
			t = append(t, piece{lit: s[:i+3]})
			s = s[i+3:]
			continue
		}
		if i > 0 {
			t = append(t, piece{lit: s[:i]})
		}
		p, err := parsePlaceholder(s[i+2 : i+2+end])
		if err != nil {
			return nil, err
		}
		t = append(t, p)
		s = s[i+3+end:]
	}
	if s != "" {
		t = append(t, piece{lit: s})
	}
	return t, nil
}

func parsePlaceholder(name string) (piece, error) {
	p := piece{ph: true}
	switch name {
	case "tag":
		p.kind = phTag
		return p, nil
	case "hostname":
		p.kind = phHostname
		return p, nil
	case "time":
		p.kind = phTime
		return p, nil
	}
	if steps, ok := strings.CutPrefix(name, "record["); ok {
		return parseRecordPlaceholder(name, "["+steps)
	}
	base, arg, hasArg := strings.Cut(name, "[")
	if !hasArg {
		p.kind, p.acc = phRecord, event.FieldAccessor(name)
		return p, nil
	}
	arg, ok := strings.CutSuffix(arg, "]")
	if !ok {
		return p, fmt.Errorf("placeholder ${%s}: missing ']'", name)
	}
	switch base {
	case "tag_parts", "tag_prefix", "tag_suffix":
		n, err := strconv.Atoi(arg)
		if err != nil {
			return p, fmt.Errorf("placeholder ${%s}: index %q is not an integer", name, arg)
		}
		p.index = n
		p.kind = map[string]phKind{"tag_parts": phTagPart, "tag_prefix": phTagPrefix, "tag_suffix": phTagSuffix}[base]
		return p, nil
	}
	return p, errNeedsRuby(name)
}

func errNeedsRuby(name string) error {
	return fmt.Errorf("placeholder ${%s} needs Ruby (enable_ruby), which barge does not support", name)
}

// parseRecordPlaceholder parses ${record["a"]}, and the nested
// ${record["a"]["b"]} and ${record["a"][0]} that Fluentd evaluates only
// with enable_ruby (barge evaluates them without Ruby; a missing step gives
// nothing where Ruby would fail the record). steps is the "[...]..." part.
// A quoted name holds no quote, bracket or backslash, whose Ruby meaning
// (escapes, interpolation) barge does not reproduce.
func parseRecordPlaceholder(name, steps string) (piece, error) {
	if !recordSteps.MatchString(steps) {
		return piece{}, errNeedsRuby(name)
	}
	acc, err := event.ParseAccessor("$" + steps)
	if err != nil {
		return piece{}, fmt.Errorf("placeholder ${%s}: %w", name, err)
	}
	return piece{ph: true, kind: phRecord, acc: acc}, nil
}

// recordSteps are the [...] steps of ${record...} that barge evaluates.
var recordSteps = regexp.MustCompile(`^(\[("[^"'\[\]\\]*"|'[^"'\[\]\\]*'|-?[0-9]+)\])+$`)

// env is what placeholders expand to for one tag and one record.
type env struct {
	tag      string
	parts    []string
	hostname string
	record   []byte
	sec      int64
	timeText []byte // cached text of sec
	timeSec  int64
	loc      *time.Location
}

func (e *env) part(kind phKind, i int) (string, bool) {
	n := len(e.parts)
	if i < 0 {
		i += n
	}
	if i < 0 || i >= n {
		return "", false
	}
	switch kind {
	case phTagPrefix:
		return strings.Join(e.parts[:i+1], "."), true
	case phTagSuffix:
		return strings.Join(e.parts[i:], "."), true
	default:
		return e.parts[i], true
	}
}

// appendText appends the text of t; unknown placeholders expand to "" as
// in Fluentd.
func (t template) appendText(dst []byte, e *env) []byte {
	for _, p := range t {
		if !p.ph {
			dst = append(dst, p.lit...)
			continue
		}
		switch p.kind {
		case phTag:
			dst = append(dst, e.tag...)
		case phHostname:
			dst = append(dst, e.hostname...)
		case phTime:
			if e.timeText == nil || e.timeSec != e.sec {
				// Ruby's Time#to_s.
				e.timeText = time.Unix(e.sec, 0).In(e.loc).AppendFormat(e.timeText[:0], "2006-01-02 15:04:05 -0700")
				e.timeSec = e.sec
			}
			dst = append(dst, e.timeText...)
		case phRecord:
			dst, _ = p.acc.AppendText(dst, e.record)
		default:
			s, _ := e.part(p.kind, p.index)
			dst = append(dst, s...)
		}
	}
	return dst
}

// appendValue appends t as a msgpack value. With typecast, a template that
// is exactly one ${record[...]} placeholder keeps the field's type (and nil
// when absent), as Fluentd's auto_typecast.
func (t template) appendValue(dst []byte, e *env, typecast bool, scratch *[]byte) []byte {
	if typecast && len(t) == 1 && t[0].ph && t[0].kind == phRecord {
		if v, ok := t[0].acc.Lookup(e.record); ok {
			return append(dst, v...)
		}
		return msgp.AppendNil(dst)
	}
	*scratch = t.appendText((*scratch)[:0], e)
	return msgp.AppendStringFromBytes(dst, *scratch)
}

// value is a <record> value: a template, or a JSON array or object (Fluentd
// parses values starting with '[' or '{' as JSON) whose strings are templates.
type value struct {
	kind  byte // 's' template, 'n' number, 'b' bool, 'z' null, 'a' array, 'o' object
	tmpl  template
	num   json.Number
	b     bool
	keys  []template
	elems []value
}

func parseValue(s string) (value, error) {
	if strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[") {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if v, err := decodeJSON(dec); err == nil && !dec.More() {
			if _, err := dec.Token(); err != nil { // nothing after the value
				return v, nil
			}
		}
	}
	t, err := parseTemplate(s)
	return value{kind: 's', tmpl: t}, err
}

func decodeJSON(dec *json.Decoder) (value, error) {
	tok, err := dec.Token()
	if err != nil {
		return value{}, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		v := value{kind: 'a'}
		if tok == '{' {
			v.kind = 'o'
		}
		for dec.More() {
			if v.kind == 'o' {
				kt, err := dec.Token()
				if err != nil {
					return v, err
				}
				k, err := parseTemplate(kt.(string))
				if err != nil {
					return v, err
				}
				v.keys = append(v.keys, k)
			}
			el, err := decodeJSON(dec)
			if err != nil {
				return v, err
			}
			v.elems = append(v.elems, el)
		}
		_, err := dec.Token() // closing delimiter
		return v, err
	case string:
		t, err := parseTemplate(tok)
		return value{kind: 's', tmpl: t}, err
	case json.Number:
		return value{kind: 'n', num: tok}, nil
	case bool:
		return value{kind: 'b', b: tok}, nil
	default:
		return value{kind: 'z'}, nil
	}
}

func (v *value) append(dst []byte, e *env, typecast bool, scratch *[]byte) []byte {
	switch v.kind {
	case 's':
		return v.tmpl.appendValue(dst, e, typecast, scratch)
	case 'n':
		if i, err := v.num.Int64(); err == nil {
			return msgp.AppendInt64(dst, i)
		}
		f, _ := v.num.Float64()
		return msgp.AppendFloat64(dst, f)
	case 'b':
		return msgp.AppendBool(dst, v.b)
	case 'a':
		dst = msgp.AppendArrayHeader(dst, uint32(len(v.elems)))
		for i := range v.elems {
			dst = v.elems[i].append(dst, e, typecast, scratch)
		}
		return dst
	case 'o':
		dst = msgp.AppendMapHeader(dst, uint32(len(v.elems)))
		for i := range v.elems {
			*scratch = v.keys[i].appendText((*scratch)[:0], e)
			dst = msgp.AppendStringFromBytes(dst, *scratch)
			dst = v.elems[i].append(dst, e, typecast, scratch)
		}
		return dst
	default:
		return msgp.AppendNil(dst)
	}
}
