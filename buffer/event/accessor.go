package event

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tinylib/msgp/msgp"
)

// Accessor is a parsed record accessor, Fluentd's record_accessor helper: a
// path to a value inside a record. It is the one parser of the syntax, for
// chunk keys, grep's key, record_transformer's remove_keys and the nested
// ${record["a"]["b"]}. The forms are:
//
//	name                 a top-level field, named as written: "a.b" is one field
//	$.a.b                dot notation: a name runs to the next '.' or '['
//	$.a[0], $.a[-1].b    an array index, negative from the end
//	$['a.b']["c"][0]     bracket notation: a quoted name holds any character
//	$.labels['app.k8s/x'] a quoted name after dot notation (a barge extension)
//
// As Fluentd's: a name in dot notation has no white space; a quoted name
// ends at its closing quote followed by ']' and has no escapes; an index is
// a decimal integer. Stricter than Fluentd, which is lenient in these: an
// empty dot name ("$.a..b", "$.a.") and text between brackets ("$['a'].b",
// "$[0]x") are errors, and so is an index with a leading zero (Ruby reads
// "010" as octal).
//
// A path that does not exist is missing, never an error: a name in something
// other than a map, an index in something other than an array or out of
// its range. Of a name given twice in a map, the last one counts, as in a
// Ruby Hash decoded from msgpack.
type Accessor struct {
	src   string
	steps []step
}

// step is one name or one index of a path.
type step struct {
	key   string
	index int
	isIdx bool
}

// FieldAccessor returns the accessor of the top-level field name, whatever
// name holds ("$.a" included): a plain key.
func FieldAccessor(name string) Accessor {
	return Accessor{src: name, steps: []step{{key: name}}}
}

// ParseAccessor parses a record accessor. s not starting with "$." or "$["
// names a top-level field, as in Fluentd. Errors quote s.
func ParseAccessor(s string) (Accessor, error) {
	if s == "" {
		return Accessor{}, errors.New("record accessor: empty key")
	}
	if !strings.HasPrefix(s, "$.") && !strings.HasPrefix(s, "$[") {
		return FieldAccessor(s), nil
	}
	a := Accessor{src: s}
	bracketsOnly := s[1] == '['
	rest := s[1:]
	fail := func(format string, args ...any) (Accessor, error) {
		return Accessor{}, fmt.Errorf("record accessor %q: %s", s, fmt.Sprintf(format, args...))
	}
	for rest != "" {
		switch rest[0] {
		case '.':
			if bracketsOnly {
				return fail("bracket notation ($[...]) takes [...] steps only, not %q", rest)
			}
			rest = rest[1:]
			if rest != "" && rest[0] == '[' { // "$.a.[0]", as Fluentd reads it
				continue
			}
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			name := rest[:end]
			if name == "" {
				return fail("empty field name (write an empty name as [''])")
			}
			if strings.ContainsAny(name, " \t\r\n\f\v") {
				return fail("white space in field name %q: use bracket notation ['%s']", name, name)
			}
			a.steps = append(a.steps, step{key: name})
			rest = rest[end:]
		case '[':
			st, n, err := parseBracket(rest)
			if err != nil {
				return fail("%v", err)
			}
			a.steps = append(a.steps, st)
			rest = rest[n:]
		default:
			return fail("unexpected %q after ']'", rest)
		}
	}
	if len(a.steps) == 0 {
		return fail("no field")
	}
	return a, nil
}

// parseBracket parses the "[...]" at the front of s and returns its length.
func parseBracket(s string) (step, int, error) {
	if len(s) > 1 && (s[1] == '\'' || s[1] == '"') {
		end := strings.Index(s[2:], string(s[1])+"]")
		if end < 0 {
			return step{}, 0, fmt.Errorf("quoted name without its closing %c]", s[1])
		}
		return step{key: s[2 : 2+end]}, 2 + end + 2, nil
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return step{}, 0, errors.New("'[' without ']'")
	}
	in := s[1:end]
	digits := strings.TrimPrefix(in, "-")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return step{}, 0, fmt.Errorf("[%s] is neither an index nor a quoted name", in)
	}
	if len(digits) > 1 && digits[0] == '0' {
		return step{}, 0, fmt.Errorf("index [%s] has a leading zero", in)
	}
	i, err := strconv.Atoi(in)
	if err != nil {
		return step{}, 0, fmt.Errorf("index [%s] is out of range", in)
	}
	return step{index: i, isIdx: true}, end + 1, nil
}

// String returns the accessor as it was written.
func (a Accessor) String() string { return a.src }

// Top returns the field name when a names a top-level field ("a", "$.a",
// "$['a']").
func (a Accessor) Top() (string, bool) {
	if len(a.steps) != 1 || a.steps[0].isIdx {
		return "", false
	}
	return a.steps[0].key, true
}

// Lookup returns the msgpack value a names in the record at the front of
// record, or false when there is none (or record is malformed there).
func (a Accessor) Lookup(record []byte) ([]byte, bool) {
	v := record
	for _, st := range a.steps {
		start, end, ok := child(v, st)
		if !ok {
			return nil, false
		}
		v = v[start:end]
	}
	return v, true
}

// AppendText appends the text form (AppendText) of the value a names in
// record; a missing or malformed value appends nothing and returns false.
func (a Accessor) AppendText(dst, record []byte) ([]byte, bool) {
	v, ok := a.Lookup(record)
	if !ok {
		return dst, false
	}
	out, _, err := AppendText(dst, v)
	if err != nil {
		return dst, false
	}
	return out, true
}

// AppendDelete appends record with the value a names removed from its map
// (every pair of that name) or array, as Fluentd's accessor delete, and
// reports whether anything was removed. Only the container holding the
// value is re-encoded; everything else keeps its bytes. With nothing to
// remove, record is appended as it is.
func (a Accessor) AppendDelete(dst, record []byte) ([]byte, bool) {
	ps, pe := 0, 0
	if n, err := Skip(record); err == nil {
		pe = n
	} else {
		return append(dst, record...), false
	}
	for _, st := range a.steps[:len(a.steps)-1] {
		start, end, ok := child(record[ps:pe], st)
		if !ok {
			return append(dst, record...), false
		}
		ps, pe = ps+start, ps+end
	}
	parent := record[ps:pe]
	last := a.steps[len(a.steps)-1]
	hdr, _, items, _, _ := Head(parent)
	var drop [][2]int // element ranges within parent
	off := hdr
	switch {
	case IsMap(parent) && !last.isIdx:
		for range items / 2 {
			kn, err := Skip(parent[off:])
			if err != nil {
				return append(dst, record...), false
			}
			vn, err := Skip(parent[off+kn:])
			if err != nil {
				return append(dst, record...), false
			}
			if k, ok := keyString(parent[off : off+kn]); ok && string(k) == last.key {
				drop = append(drop, [2]int{off, off + kn + vn})
			}
			off += kn + vn
		}
	case isArray(parent) && last.isIdx:
		start, end, ok := child(parent, last)
		if !ok {
			return append(dst, record...), false
		}
		drop = append(drop, [2]int{start, end})
	}
	if len(drop) == 0 {
		return append(dst, record...), false
	}
	dst = append(dst, record[:ps]...)
	if IsMap(parent) {
		dst = msgp.AppendMapHeader(dst, uint32(items/2)-uint32(len(drop)))
	} else {
		dst = msgp.AppendArrayHeader(dst, uint32(items)-1)
	}
	off = hdr
	for _, d := range drop {
		dst = append(dst, parent[off:d[0]]...)
		off = d[1]
	}
	dst = append(dst, parent[off:]...)
	return append(dst, record[pe:]...), true
}

// child returns where the value st names lies in the container at the
// front of b.
func child(b []byte, st step) (start, end int, ok bool) {
	hdr, _, items, ok, _ := Head(b)
	if !ok {
		return 0, 0, false
	}
	off := hdr
	if st.isIdx {
		if !isArray(b) {
			return 0, 0, false
		}
		i := st.index
		if i < 0 {
			i += int(items)
		}
		if i < 0 || uint64(i) >= items {
			return 0, 0, false
		}
		for j := 0; ; j++ {
			n, err := Skip(b[off:])
			if err != nil {
				return 0, 0, false
			}
			if j == i {
				return off, off + n, true
			}
			off += n
		}
	}
	if !IsMap(b) {
		return 0, 0, false
	}
	found := false
	for range items / 2 {
		kn, err := Skip(b[off:])
		if err != nil {
			return 0, 0, false
		}
		vn, err := Skip(b[off+kn:])
		if err != nil {
			return 0, 0, false
		}
		if k, isStr := keyString(b[off : off+kn]); isStr && string(k) == st.key {
			start, end, found = off+kn, off+kn+vn, true // the last one counts
		}
		off += kn + vn
	}
	return start, end, found
}

// keyString returns the bytes of a str or bin map key, whole at b.
func keyString(b []byte) ([]byte, bool) {
	switch msgp.NextType(b) {
	case msgp.StrType, msgp.BinType:
		hdr, payload, _, ok, _ := Head(b)
		if !ok || uint64(len(b)-hdr) < payload {
			return nil, false
		}
		return b[hdr : hdr+int(payload)], true
	}
	return nil, false
}

// isArray reports whether b starts with a msgpack array header.
func isArray(b []byte) bool {
	return len(b) > 0 && (b[0]&0xf0 == 0x90 || b[0] == 0xdc || b[0] == 0xdd)
}
