package bqschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"cloud.google.com/go/bigquery"
)

// Field is one column of a BigQuery schema, as in a JSON schema file.
type Field struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Mode        string   `json:"mode,omitempty"`
	Description string   `json:"description,omitempty"`
	Fields      []*Field `json:"fields,omitempty"`
}

// Schema is a table's columns in order.
type Schema []*Field

// Modes of a field; an empty mode means NULLABLE.
const (
	Nullable = "NULLABLE"
	Required = "REQUIRED"
	Repeated = "REPEATED"
)

// MaxDepth is how deeply BigQuery lets RECORDs nest: a top-level field is
// at depth 1, the fields of a RECORD at depth+1.
const MaxDepth = 15

// MaxNameLen is the longest column name, in bytes.
const MaxNameLen = 300

// canonicalType maps the type names a schema file may use (case-insensitive)
// to the names BigQuery reports.
var canonicalType = map[string]string{
	"STRING": "STRING", "BYTES": "BYTES",
	"INTEGER": "INTEGER", "INT64": "INTEGER",
	"FLOAT": "FLOAT", "FLOAT64": "FLOAT",
	"NUMERIC": "NUMERIC", "BIGNUMERIC": "BIGNUMERIC",
	"BOOLEAN": "BOOLEAN", "BOOL": "BOOLEAN",
	"TIMESTAMP": "TIMESTAMP", "DATE": "DATE", "TIME": "TIME", "DATETIME": "DATETIME",
	"GEOGRAPHY": "GEOGRAPHY", "JSON": "JSON",
	"RECORD": "RECORD", "STRUCT": "RECORD",
}

// reservedPrefixes are the column name prefixes BigQuery refuses, in any
// case (https://cloud.google.com/bigquery/docs/schemas#column_names). These
// rules (with IsName, HasReservedPrefix and Name) are the one copy that
// key_style bigquery, barge schema infer and schema files all use.
var reservedPrefixes = [...]string{
	"_TABLE_", "_FILE_", "_PARTITION", "_ROW_TIMESTAMP", "__ROOT__",
	"_COLIDENTIFIER", "_CHANGE_SEQUENCE_NUMBER", "_CHANGE_TYPE", "_CHANGE_TIMESTAMP",
}

// CheckName returns why name is not a valid BigQuery column name, or nil.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("name is empty")
	case len(name) > MaxNameLen:
		return fmt.Errorf("name is longer than %d characters", MaxNameLen)
	case name[0] >= '0' && name[0] <= '9':
		return errors.New("name starts with a digit")
	}
	for i := 0; i < len(name); i++ {
		if !nameByte[name[i]] {
			return errors.New("name has characters other than letters, digits and _")
		}
	}
	for _, p := range reservedPrefixes {
		if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
			return fmt.Errorf("name starts with the reserved prefix %s", p)
		}
	}
	return nil
}

// Parse reads and checks a JSON schema file: an array of fields,
// {"fields": [...]}, or a table resource with {"schema": {"fields": [...]}}.
func Parse(data []byte) (Schema, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	var fields []*Field
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var obj struct {
			Fields []*Field `json:"fields"`
			Schema *struct {
				Fields []*Field `json:"fields"`
			} `json:"schema"`
		}
		if err := decodeOne(data, &obj); err != nil {
			return nil, fmt.Errorf("parse schema: %w", err)
		}
		fields = obj.Fields
		if fields == nil && obj.Schema != nil {
			fields = obj.Schema.Fields
		}
	} else if err := decodeOne(data, &fields); err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	if len(fields) == 0 {
		return nil, errors.New("schema has no fields")
	}
	s := Schema(fields)
	if err := s.check("fields", 1); err != nil {
		return nil, err
	}
	return s, nil
}

// decodeOne decodes one JSON value and refuses trailing data.
func decodeOne(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the schema")
	}
	return nil
}

// check validates and normalizes the fields (types and modes upper case,
// types canonical); path names them in errors.
func (s Schema) check(path string, depth int) error {
	seen := make(map[string]string, len(s))
	for i, f := range s {
		at := fmt.Sprintf("%s[%d]", path, i)
		if f == nil {
			return fmt.Errorf("%s: field is null", at)
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%s %q: %s", at, f.Name, fmt.Sprintf(format, args...))
		}
		if err := CheckName(f.Name); err != nil {
			return fail("%v", err)
		}
		lower := strings.ToLower(f.Name)
		if other, dup := seen[lower]; dup {
			return fail("duplicates %s (names are case-insensitive)", other)
		}
		seen[lower] = fmt.Sprintf("%s %q", at, f.Name)
		typ, ok := canonicalType[strings.ToUpper(f.Type)]
		if !ok {
			return fail("type %q is not one of STRING, BYTES, INTEGER, INT64, FLOAT, FLOAT64, NUMERIC, BIGNUMERIC, BOOLEAN, BOOL, TIMESTAMP, DATE, TIME, DATETIME, GEOGRAPHY, JSON, RECORD, STRUCT", f.Type)
		}
		f.Type = typ
		switch m := strings.ToUpper(f.Mode); m {
		case "", Nullable, Required, Repeated:
			f.Mode = m
		default:
			return fail("mode %q is not one of NULLABLE, REQUIRED, REPEATED", f.Mode)
		}
		if typ != "RECORD" {
			if len(f.Fields) > 0 {
				return fail("type %s cannot have fields (only RECORD can)", typ)
			}
			f.Fields = nil
			continue
		}
		if len(f.Fields) == 0 {
			return fail("RECORD has no fields")
		}
		if depth >= MaxDepth {
			return fail("RECORD nested deeper than %d levels", MaxDepth)
		}
		if err := Schema(f.Fields).check(at+".fields", depth+1); err != nil {
			return err
		}
	}
	return nil
}

// ParseFile reads and checks a JSON schema file.
func ParseFile(path string) (Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("schema file %s: %w", path, err)
	}
	return s, nil
}

// JSON returns the schema as `bq show --schema --format=prettyjson` prints
// it: an indented array of fields, with a trailing newline.
func (s Schema) JSON() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	fields := []*Field(s)
	if fields == nil {
		fields = []*Field{}
	}
	if err := enc.Encode(fields); err != nil {
		panic(fmt.Sprintf("bqschema: encode schema: %v", err)) // cannot happen: strings and slices only
	}
	return buf.Bytes()
}

// BigQuery converts the schema to the client library's form.
func (s Schema) BigQuery() bigquery.Schema {
	if s == nil {
		return nil
	}
	out := make(bigquery.Schema, 0, len(s))
	for _, f := range s {
		typ := canonicalType[strings.ToUpper(f.Type)]
		if typ == "" {
			typ = f.Type
		}
		out = append(out, &bigquery.FieldSchema{
			Name:        f.Name,
			Type:        bigquery.FieldType(typ),
			Description: f.Description,
			Repeated:    strings.EqualFold(f.Mode, Repeated),
			Required:    strings.EqualFold(f.Mode, Required),
			Schema:      Schema(f.Fields).BigQuery(),
		})
	}
	return out
}

// FromBigQuery converts the client library's schema. Modes are spelled
// out: NULLABLE, REQUIRED or REPEATED.
func FromBigQuery(bs bigquery.Schema) Schema {
	if bs == nil {
		return nil
	}
	out := make(Schema, 0, len(bs))
	for _, f := range bs {
		mode := Nullable
		switch {
		case f.Repeated:
			mode = Repeated
		case f.Required:
			mode = Required
		}
		out = append(out, &Field{
			Name:        f.Name,
			Type:        string(f.Type),
			Mode:        mode,
			Description: f.Description,
			Fields:      FromBigQuery(f.Schema),
		})
	}
	return out
}
