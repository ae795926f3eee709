package objkey

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/barge-dev/barge/output/strftime"
)

// template is a parsed path or object key: literal text with strftime
// conversions, %{name} placeholders and ${tag}, ${tag[N]}, ${KEY}. KEY is a
// record chunk key as the <buffer> writes it, a record accessor included
// (${$.kubernetes.namespace_name}), matched by its text as Fluentd does.
type template struct {
	param    string // the config key quoted ('path'), or the quoted value, for messages
	parts    []tmplPart
	usesTime bool     // has strftime conversions
	usesTag  bool     // has ${tag} or ${tag[N]}
	keys     []string // record chunk keys used by ${KEY}, as written
	vars     []string // %{name} placeholders used
}

type partKind uint8

const (
	partText partKind = iota // literal text with strftime conversions
	partVar                  // %{name}
	partTag                  // ${tag} (index < 0 when whole) or ${tag[N]}
	partKey                  // ${KEY}
)

type tmplPart struct {
	kind  partKind
	text  string           // partText without conversions
	sf    *strftime.Layout // partText with conversions
	name  string           // partVar, partKey
	index int              // partTag
	whole bool             // partTag: ${tag}
}

// keyVars are the %{name} placeholders of object_key_format.
var keyVars = []string{"path", "time_slice", "chunk_id", "hostname", "uuid_flush", "hex_random", "file_extension", "index"}

// parseTemplate parses s; param names it in messages ('path'). vars lists the
// %{name} placeholders allowed.
func parseTemplate(param, s string, vars []string) (*template, error) {
	t := &template{param: param}
	var text strings.Builder
	flush := func() {
		if text.Len() == 0 {
			return
		}
		sf := strftime.Compile(text.String())
		p := tmplPart{kind: partText, text: text.String()}
		if sf.UsesConversion() {
			p.sf = sf
			t.usesTime = t.usesTime || sf.UsesTime()
		} else {
			p.text = sf.Format(time.Time{}) // %% -> %
		}
		t.parts = append(t.parts, p)
		text.Reset()
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c != '%' && c != '$') || i+1 >= len(s) || s[i+1] != '{' {
			text.WriteByte(c)
			if c == '%' && i+1 < len(s) { // keep "%%{" literal
				i++
				text.WriteByte(s[i])
			}
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return nil, fmt.Errorf("%s has an unclosed %c{ in %q", param, c, s)
		}
		name := s[i+2 : i+2+end]
		flush()
		if c == '%' {
			if !slices.Contains(vars, name) {
				return nil, fmt.Errorf("%s has an unknown placeholder %%{%s} (known: %%{%s})", param, name, strings.Join(vars, "}, %{"))
			}
			t.parts = append(t.parts, tmplPart{kind: partVar, name: name})
			if !slices.Contains(t.vars, name) {
				t.vars = append(t.vars, name)
			}
		} else {
			p, err := parseDollar(param, name)
			if err != nil {
				return nil, err
			}
			t.parts = append(t.parts, p)
			if p.kind == partTag {
				t.usesTag = true
			} else if !slices.Contains(t.keys, p.name) {
				t.keys = append(t.keys, p.name)
			}
		}
		i += 2 + end
	}
	flush()
	return t, nil
}

// parseDollar parses the inside of ${...}.
func parseDollar(param, name string) (tmplPart, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "tag":
		return tmplPart{kind: partTag, whole: true}, nil
	case strings.HasPrefix(name, "tag[") && strings.HasSuffix(name, "]"):
		n, err := strconv.Atoi(name[4 : len(name)-1])
		if err != nil {
			return tmplPart{}, fmt.Errorf("%s has a bad tag index in ${%s}", param, name)
		}
		return tmplPart{kind: partTag, index: n}, nil
	case name == "":
		return tmplPart{}, fmt.Errorf("%s has an empty ${}", param)
	}
	return tmplPart{kind: partKey, name: name}, nil
}

// checkChunkKeys reports a placeholder that needs a chunk key that is not one.
func (t *template) checkChunkKeys(chunkKeys []string) error {
	if t.usesTag && !slices.Contains(chunkKeys, "tag") {
		return fmt.Errorf("%s uses ${tag} but 'tag' is not a chunk key", t.param)
	}
	for _, k := range t.keys {
		if !slices.Contains(chunkKeys, k) {
			return fmt.Errorf("%s uses ${%s} but '%s' is not a chunk key", t.param, k, k)
		}
	}
	if t.usesTime && !slices.Contains(chunkKeys, "time") {
		return fmt.Errorf("%s uses time placeholders (%%Y, %%m, ...) but 'time' is not a chunk key", t.param)
	}
	return nil
}

// expand appends the template's value for one chunk. varFn gives %{name}
// values; clean, when not nil, rewrites values taken from the data (tag,
// chunk keys) before they are inserted.
func (t *template) expand(dst []byte, v *ChunkVars, varFn func(dst []byte, name string) []byte, clean func(string) string) []byte {
	when := v.TimeKey
	if when.IsZero() {
		when = v.Created
	}
	value := func(s string) string {
		if clean != nil {
			return clean(s)
		}
		return s
	}
	for i := range t.parts {
		p := &t.parts[i]
		switch p.kind {
		case partText:
			if p.sf != nil {
				dst = p.sf.Append(dst, when)
			} else {
				dst = append(dst, p.text...)
			}
		case partVar:
			dst = varFn(dst, p.name)
		case partTag:
			if p.whole {
				dst = append(dst, value(v.Tag)...)
			} else {
				dst = append(dst, value(tagPart(v.Tag, p.index))...)
			}
		case partKey:
			dst = append(dst, value(v.Keys[p.name])...)
		}
	}
	return dst
}

// tagPart returns the n-th dot-separated part of tag; negative n counts from
// the end. Out of range is "".
func tagPart(tag string, n int) string {
	parts := strings.Split(tag, ".")
	if n < 0 {
		n += len(parts)
	}
	if n < 0 || n >= len(parts) {
		return ""
	}
	return parts[n]
}
