package bqschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Inferrer derives a schema from NDJSON records. The zero value is ready to
// use; an Inferrer is not safe for concurrent use.
type Inferrer struct {
	root node
	rows int
}

// node is what is known of one field (or, for root, of the records): its
// type so far ("" while only nulls and empty arrays were seen), whether it
// was an array, and for RECORD its fields in order of first appearance.
type node struct {
	typ    string
	array  bool // seen as an array
	single bool // seen as a value that is not an array (nor null)
	fields []*child
	byName map[string]*child // lower-case name
}

type child struct {
	name string // as first seen
	node node
}

// AddJSONLine adds one record: a JSON object on one line. A line of only
// white space is ignored. A line that is not an object, or whose keys are
// not valid BigQuery column names (or are the same but for case), is
// refused and leaves the schema as it was.
func (in *Inferrer) AddJSONLine(line []byte) error {
	if len(bytes.TrimSpace(line)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	v, err := readValue(dec, 0)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("data after the record")
		}
	}
	if err != nil {
		return fmt.Errorf("record %d: %w", in.rows+1, err)
	}
	obj, ok := v.(*object)
	if !ok {
		return fmt.Errorf("record %d: not a JSON object", in.rows+1)
	}
	if err := checkKeys(obj, ""); err != nil {
		return fmt.Errorf("record %d: %w", in.rows+1, err)
	}
	in.root.mergeObject(obj, 0)
	in.rows++
	return nil
}

// Rows returns the number of records added.
func (in *Inferrer) Rows() int { return in.rows }

// Schema returns the schema of the records added so far.
func (in *Inferrer) Schema() Schema {
	return in.root.schema()
}

// object is a JSON object with its keys in order.
type object struct {
	keys []string
	vals []any
}

// maxJSONDepth bounds the nesting readValue follows.
const maxJSONDepth = 1000

// readValue reads one JSON value: *object, []any, json.Number, string,
// bool or nil.
func readValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		obj := &object{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := readValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			obj.keys = append(obj.keys, k.(string))
			obj.vals = append(obj.vals, v)
		}
		_, err := dec.Token() // }
		return obj, err
	case json.Delim('['):
		arr := []any{}
		for dec.More() {
			v, err := readValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		_, err := dec.Token() // ]
		return arr, err
	}
	return tok, nil
}

// checkKeys checks the keys of obj and of the objects in it, which become
// columns unless they are under a JSON column; path names the object.
func checkKeys(obj *object, path string) error {
	seen := make(map[string]string, len(obj.keys))
	for i, k := range obj.keys {
		p := k
		if path != "" {
			p = path + "." + k
		}
		if err := CheckName(k); err != nil {
			return fmt.Errorf("key %q: %w (write the records with <format> key_style bigquery)", p, err)
		}
		if other, dup := seen[strings.ToLower(k)]; dup {
			return fmt.Errorf("key %q: same column as %q (names are case-insensitive; key_style bigquery makes them unique)", p, other)
		}
		seen[strings.ToLower(k)] = p
		if err := checkValueKeys(obj.vals[i], p); err != nil {
			return err
		}
	}
	return nil
}

func checkValueKeys(v any, path string) error {
	switch v := v.(type) {
	case *object:
		return checkKeys(v, path)
	case []any:
		for _, e := range v {
			if err := checkValueKeys(e, path); err != nil {
				return err
			}
		}
	}
	return nil
}

// mergeObject merges the fields of a record or RECORD value; depth is the
// depth of the object's fields minus one.
func (n *node) mergeObject(obj *object, depth int) {
	if n.byName == nil {
		n.byName = map[string]*child{}
	}
	for i, k := range obj.keys {
		lower := strings.ToLower(k)
		c := n.byName[lower]
		if c == nil {
			c = &child{name: k}
			n.byName[lower] = c
			n.fields = append(n.fields, c)
		}
		c.node.merge(obj.vals[i], depth+1)
	}
}

// merge adds one value of the field at depth (1: a column of the table).
func (n *node) merge(v any, depth int) {
	switch v := v.(type) {
	case nil:
		return
	case []any:
		n.array = true
		for _, e := range v {
			if _, nested := e.([]any); nested {
				n.widen("JSON")
				continue
			}
			n.mergeOne(e, depth)
		}
	default:
		n.single = true
		n.mergeOne(v, depth)
	}
	if n.array && n.single {
		n.widen("JSON")
	}
}

// mergeOne merges a value that is not an array.
func (n *node) mergeOne(v any, depth int) {
	switch v := v.(type) {
	case nil:
	case *object:
		if depth >= MaxDepth {
			n.widen("JSON")
			return
		}
		n.widen("RECORD")
		if n.typ == "RECORD" {
			n.mergeObject(v, depth)
		}
	case bool:
		n.widen("BOOLEAN")
	case json.Number:
		n.widen(numberType(v))
	case string:
		if isTimestamp(v) {
			n.widen("TIMESTAMP")
		} else {
			n.widen("STRING")
		}
	}
}

// widen makes the node's type the narrowest that holds both its type and t.
func (n *node) widen(t string) {
	n.typ = join(n.typ, t)
	if n.typ == "JSON" {
		n.fields, n.byName = nil, nil
	}
}

// join is the least type that holds values of a and b.
func join(a, b string) string {
	switch {
	case a == "" || a == b:
		return b
	case a == "JSON" || b == "JSON" || a == "RECORD" || b == "RECORD":
		return "JSON"
	case a == "INTEGER" && b == "FLOAT" || a == "FLOAT" && b == "INTEGER":
		return "FLOAT"
	}
	return "STRING"
}

// numberType is INTEGER for integers that fit in 64 bits, else FLOAT.
func numberType(n json.Number) string {
	if _, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return "INTEGER"
	}
	return "FLOAT"
}

// isTimestamp reports whether s is an RFC 3339 timestamp BigQuery loads as
// TIMESTAMP: "2026-11-22T10:04:05Z", with T or a space, an optional
// fraction of up to nine digits, Z or an offset like +09:00, between years
// 1 and 9999 in UTC.
func isTimestamp(s string) bool {
	if len(s) < len("2006-01-02T15:04:05Z") || len(s) > len("2006-01-02T15:04:05.999999999+00:00") {
		return false
	}
	digits := func(t string) bool {
		for i := 0; i < len(t); i++ {
			if t[i] < '0' || t[i] > '9' {
				return false
			}
		}
		return true
	}
	if !digits(s[0:4]) || s[4] != '-' || !digits(s[5:7]) || s[7] != '-' || !digits(s[8:10]) ||
		s[10] != 'T' && s[10] != ' ' || !digits(s[11:13]) || s[13] != ':' || !digits(s[14:16]) || s[16] != ':' || !digits(s[17:19]) {
		return false
	}
	rest := s[19:]
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 1 || i > 10 {
			return false
		}
		rest = rest[i:]
	}
	switch {
	case rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && digits(rest[1:3]) && rest[3] == ':' && digits(rest[4:6]):
	default:
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, s[:10]+"T"+s[11:])
	if err != nil {
		return false
	}
	y := t.UTC().Year()
	return y >= 1 && y <= 9999
}

// schema returns the fields of a RECORD node (or the root).
func (n *node) schema() Schema {
	out := make(Schema, 0, len(n.fields))
	for _, c := range n.fields {
		out = append(out, c.node.field(c.name))
	}
	return out
}

// field returns the schema field of a node.
func (n *node) field(name string) *Field {
	f := &Field{Name: name, Type: n.typ, Mode: Nullable}
	switch {
	case n.typ == "":
		f.Type = "STRING" // only nulls and empty arrays: the loosest scalar
	case n.typ == "RECORD" && len(n.fields) == 0:
		f.Type = "JSON" // only empty objects: a RECORD needs fields
	case n.typ == "RECORD":
		f.Fields = n.schema()
	}
	if n.array && f.Type != "JSON" {
		f.Mode = Repeated
	}
	return f
}
