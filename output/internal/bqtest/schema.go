package bqtest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	bq "google.golang.org/api/bigquery/v2"
)

// Standard SQL type names, as BigQuery's API reports them back.
var typeAliases = map[string]string{
	"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN", "STRUCT": "RECORD",
}

var knownTypes = map[string]bool{
	"STRING": true, "BYTES": true, "INTEGER": true, "FLOAT": true, "NUMERIC": true,
	"BIGNUMERIC": true, "BOOLEAN": true, "TIMESTAMP": true, "DATE": true, "TIME": true,
	"DATETIME": true, "GEOGRAPHY": true, "JSON": true, "RECORD": true, "INTERVAL": true,
}

func normType(t string) string {
	t = upper(t)
	if a, ok := typeAliases[t]; ok {
		return a
	}
	return t
}

func normMode(m string) string {
	m = upper(m)
	if m == "" {
		return "NULLABLE"
	}
	return m
}

// normalizeSchema validates fields and returns a copy with canonical type
// and mode names.
func normalizeSchema(fields []*bq.TableFieldSchema) ([]*bq.TableFieldSchema, *apiError) {
	return normalizeFields(fields, "")
}

func normalizeFields(fields []*bq.TableFieldSchema, path string) ([]*bq.TableFieldSchema, *apiError) {
	seen := map[string]bool{}
	out := make([]*bq.TableFieldSchema, 0, len(fields))
	for _, f := range fields {
		if f == nil || f.Name == "" {
			return nil, errInvalid("Empty field name in schema")
		}
		name := path + f.Name
		key := strings.ToLower(f.Name)
		if seen[key] {
			return nil, errInvalid(fmt.Sprintf("Field %s already exists in schema", name))
		}
		seen[key] = true
		c := *f
		c.Type = normType(f.Type)
		c.Mode = normMode(f.Mode)
		if !knownTypes[c.Type] {
			return nil, errInvalid(fmt.Sprintf("Invalid value for type: %s is not a valid value (field %s)", f.Type, name))
		}
		if c.Mode != "NULLABLE" && c.Mode != "REQUIRED" && c.Mode != "REPEATED" {
			return nil, errInvalid(fmt.Sprintf("Invalid value for mode: %s is not a valid value (field %s)", f.Mode, name))
		}
		if c.Type == "RECORD" {
			if len(f.Fields) == 0 {
				return nil, errInvalid(fmt.Sprintf("Field %s is type RECORD but has no schema", name))
			}
			sub, err := normalizeFields(f.Fields, name+".")
			if err != nil {
				return nil, err
			}
			c.Fields = sub
		} else if len(f.Fields) > 0 {
			return nil, errInvalid(fmt.Sprintf("Field %s is type %s and cannot have sub-fields", name, c.Type))
		}
		out = append(out, &c)
	}
	return out, nil
}

// findField finds a field by name, case-insensitively, as BigQuery does.
func findField(fields []*bq.TableFieldSchema, name string) *bq.TableFieldSchema {
	for _, f := range fields {
		if strings.EqualFold(f.Name, name) {
			return f
		}
	}
	return nil
}

// schemaChange says which changes a schema update may make.
type schemaChange struct {
	add     bool // ALLOW_FIELD_ADDITION: new NULLABLE or REPEATED fields
	relax   bool // ALLOW_FIELD_RELAXATION: REQUIRED to NULLABLE
	missing bool // fields of the old schema may be absent from the new one
}

// mergeSchema checks that a new schema is a permitted change of an old one
// and returns the resulting schema: the old fields in their order (with
// relaxed modes), then the added ones.
func mergeSchema(table string, old, next []*bq.TableFieldSchema, ch schemaChange) ([]*bq.TableFieldSchema, *apiError) {
	norm, err := normalizeSchema(next)
	if err != nil {
		return nil, err
	}
	return mergeFields(table, old, norm, ch, "")
}

func mergeFields(table string, old, next []*bq.TableFieldSchema, ch schemaChange, path string) ([]*bq.TableFieldSchema, *apiError) {
	mismatch := func(format string, a ...any) *apiError {
		return errInvalid(fmt.Sprintf("Provided Schema does not match Table %s. ", table) + fmt.Sprintf(format, a...))
	}
	out := make([]*bq.TableFieldSchema, 0, len(old)+len(next))
	for _, of := range old {
		nf := findField(next, of.Name)
		name := path + of.Name
		if nf == nil {
			if !ch.missing {
				return nil, mismatch("Field %s is missing in new schema.", name)
			}
			out = append(out, of)
			continue
		}
		if nf.Type != of.Type {
			return nil, mismatch("Field %s has changed type from %s to %s", name, of.Type, nf.Type)
		}
		c := *of
		switch {
		case nf.Mode == of.Mode:
		case of.Mode == "REQUIRED" && nf.Mode == "NULLABLE" && ch.relax:
			c.Mode = "NULLABLE"
		default:
			return nil, mismatch("Field %s has changed mode from %s to %s", name, of.Mode, nf.Mode)
		}
		if of.Type == "RECORD" {
			sub, err := mergeFields(table, of.Fields, nf.Fields, ch, name+".")
			if err != nil {
				return nil, err
			}
			c.Fields = sub
		}
		out = append(out, &c)
	}
	for _, nf := range next {
		if findField(old, nf.Name) != nil {
			continue
		}
		name := path + nf.Name
		if !ch.add {
			return nil, mismatch("Cannot add fields (field: %s)", name)
		}
		if nf.Mode == "REQUIRED" {
			return nil, errInvalid(fmt.Sprintf("Provided Schema does not match Table %s. Cannot add required fields to an existing schema. (field: %s)", table, name))
		}
		out = append(out, nf)
	}
	return out, nil
}

// sameSchema reports whether two normalized schemas have the same fields
// (names case-insensitively, in any order), types and modes.
func sameSchema(a, b []*bq.TableFieldSchema) bool {
	if len(a) != len(b) {
		return false
	}
	for _, fa := range a {
		fb := findField(b, fa.Name)
		if fb == nil || fa.Type != fb.Type || fa.Mode != fb.Mode {
			return false
		}
		if fa.Type == "RECORD" && !sameSchema(fa.Fields, fb.Fields) {
			return false
		}
	}
	return true
}

var partitionTypes = map[string]bool{"HOUR": true, "DAY": true, "MONTH": true, "YEAR": true}

// checkPartitioning validates a time partitioning spec against a schema
// and canonicalizes its type and field name.
func checkPartitioning(tp *bq.TimePartitioning, fields []*bq.TableFieldSchema) *apiError {
	tp.Type = upper(tp.Type)
	if tp.Type == "" {
		tp.Type = "DAY"
	}
	if !partitionTypes[tp.Type] {
		return errInvalid(fmt.Sprintf("Invalid value for timePartitioning.type: %s is not a valid value; expected one of HOUR, DAY, MONTH, YEAR", tp.Type))
	}
	if tp.Field == "" {
		return nil
	}
	f := findField(fields, tp.Field)
	if f == nil {
		return errInvalid(fmt.Sprintf("The field specified for partitioning cannot be found in the schema: %s", tp.Field))
	}
	if f.Type != "TIMESTAMP" && f.Type != "DATE" && f.Type != "DATETIME" {
		return errInvalid(fmt.Sprintf("The field specified for time partitioning can only be of type TIMESTAMP, DATE or DATETIME. The type found is: %s.", f.Type))
	}
	if f.Mode == "REPEATED" {
		return errInvalid(fmt.Sprintf("The field specified for time partitioning cannot be REPEATED: %s", f.Name))
	}
	if tp.Type == "HOUR" && f.Type == "DATE" {
		return errInvalid(fmt.Sprintf("HOUR partitioning is not supported for a DATE column: %s", f.Name))
	}
	tp.Field = f.Name
	return nil
}

func checkClustering(c *bq.Clustering, fields []*bq.TableFieldSchema) *apiError {
	if len(c.Fields) > 4 {
		return errInvalid("Too many clustering fields: at most 4 are allowed")
	}
	for i, name := range c.Fields {
		f := findField(fields, name)
		if f == nil {
			return errInvalid(fmt.Sprintf("The field specified for clustering cannot be found in the schema. Invalid field: %s.", name))
		}
		if f.Mode == "REPEATED" || f.Type == "RECORD" || f.Type == "JSON" || f.Type == "FLOAT" {
			return errInvalid(fmt.Sprintf("Field %s of type %s (mode %s) cannot be used for clustering", f.Name, f.Type, f.Mode))
		}
		c.Fields[i] = f.Name
	}
	return nil
}

func samePartitioning(a, b *bq.TimePartitioning) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ta, tb := upper(a.Type), upper(b.Type)
	if ta == "" {
		ta = "DAY"
	}
	if tb == "" {
		tb = "DAY"
	}
	return ta == tb && strings.EqualFold(a.Field, b.Field)
}

func describePartitioning(tp *bq.TimePartitioning) string {
	if tp == nil {
		return "none"
	}
	t := strings.ToLower(upper(tp.Type))
	if t == "" {
		t = "day"
	}
	if tp.Field == "" {
		return "interval(type:" + t + ")"
	}
	return "interval(type:" + t + ",field:" + tp.Field + ")"
}

// inferSchema is a simple autodetect: the union of the rows' keys (sorted),
// typed from their JSON values; conflicting types become STRING, INTEGER
// and FLOAT become FLOAT.
func inferSchema(rows []map[string]any) []*bq.TableFieldSchema {
	types := map[string]string{}
	modes := map[string]string{}
	subs := map[string][]map[string]any{}
	for _, r := range rows {
		for k, v := range r {
			key := strings.ToLower(k)
			mode := "NULLABLE"
			if a, ok := v.([]any); ok {
				mode = "REPEATED"
				if len(a) == 0 {
					continue
				}
				v = a[0]
			}
			t := inferType(v)
			if t == "" {
				continue
			}
			if t == "RECORD" {
				subs[key] = append(subs[key], v.(map[string]any))
			}
			switch prev := types[key]; {
			case prev == "" || prev == t:
				types[key] = t
			case (prev == "INTEGER" && t == "FLOAT") || (prev == "FLOAT" && t == "INTEGER"):
				types[key] = "FLOAT"
			default:
				types[key] = "STRING"
			}
			modes[key] = mode
			if _, ok := types["\x00"+key]; !ok {
				types["\x00"+key] = k // the first spelling seen
			}
		}
	}
	var out []*bq.TableFieldSchema
	for key, t := range types {
		if strings.HasPrefix(key, "\x00") {
			continue
		}
		f := &bq.TableFieldSchema{Name: types["\x00"+key], Type: t, Mode: modes[key]}
		if t == "RECORD" {
			f.Fields = inferSchema(subs[key])
			if len(f.Fields) == 0 {
				f.Type, f.Fields = "STRING", nil
			}
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func inferType(v any) string {
	switch x := v.(type) {
	case bool:
		return "BOOLEAN"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "INTEGER"
		}
		return "FLOAT"
	case string:
		if _, ok := parseTimestamp(x); ok && len(x) > 10 {
			return "TIMESTAMP"
		}
		if okDate(x) {
			return "DATE"
		}
		return "STRING"
	case map[string]any:
		return "RECORD"
	case nil:
		return ""
	default:
		return "STRING"
	}
}
