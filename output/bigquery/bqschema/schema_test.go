package bqschema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/bigquery"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestParse(t *testing.T) {
	in := `[
 {"name": "time", "type": "timestamp", "mode": "required", "description": "event <time>"},
 {"name": "n", "type": "INT64"},
 {"name": "tags", "type": "STRING", "mode": "REPEATED"},
 {"name": "k8s", "type": "STRUCT", "fields": [
   {"name": "pod", "type": "STRING", "mode": "NULLABLE"},
   {"name": "labels", "type": "JSON"}
 ]},
 {"name": "ok", "type": "bool"}, {"name": "f", "type": "FLOAT64"}
]`
	s, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := `[
  {
    "name": "time",
    "type": "TIMESTAMP",
    "mode": "REQUIRED",
    "description": "event <time>"
  },
  {
    "name": "n",
    "type": "INTEGER"
  },
  {
    "name": "tags",
    "type": "STRING",
    "mode": "REPEATED"
  },
  {
    "name": "k8s",
    "type": "RECORD",
    "fields": [
      {
        "name": "pod",
        "type": "STRING",
        "mode": "NULLABLE"
      },
      {
        "name": "labels",
        "type": "JSON"
      }
    ]
  },
  {
    "name": "ok",
    "type": "BOOLEAN"
  },
  {
    "name": "f",
    "type": "FLOAT"
  }
]
`
	if got := string(s.JSON()); got != want {
		t.Errorf("JSON():\n%s\nwant:\n%s", got, want)
	}
	// The other forms.
	for _, form := range []string{`{"fields": ` + in + `}`, `{"kind": "bigquery#table", "schema": {"fields": ` + in + `}}`} {
		s2, err := Parse([]byte(form))
		if err != nil {
			t.Fatal(err)
		}
		if string(s2.JSON()) != want {
			t.Errorf("form %.30s...: %s", form, s2.JSON())
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{`[{"name":"a","type":"STRING"},{"name":"b","type":"RECORD","fields":[{"name":"a.b","type":"STRING"}]}]`, `fields[1].fields[0] "a.b": name has characters other than letters, digits and _`},
		{`[{"name":"1a","type":"STRING"}]`, `fields[0] "1a": name starts with a digit`},
		{`[{"name":"","type":"STRING"}]`, `fields[0] "": name is empty`},
		{`[{"name":"_PARTITIONTIME","type":"STRING"}]`, `fields[0] "_PARTITIONTIME": name starts with the reserved prefix _PARTITION`},
		{`[{"name":"_change_type","type":"STRING"}]`, `fields[0] "_change_type": name starts with the reserved prefix _CHANGE_TYPE`},
		{`[{"name":"` + strings.Repeat("a", 301) + `","type":"STRING"}]`, `name is longer than 300 characters`},
		{`[{"name":"a","type":"STRING"},{"name":"A","type":"INTEGER"}]`, `fields[1] "A": duplicates fields[0] "a" (names are case-insensitive)`},
		{`[{"name":"a","type":"TEXT"}]`, `fields[0] "a": type "TEXT" is not one of`},
		{`[{"name":"a","type":"STRING","mode":"OPTIONAL"}]`, `fields[0] "a": mode "OPTIONAL" is not one of NULLABLE, REQUIRED, REPEATED`},
		{`[{"name":"a","type":"STRING","fields":[{"name":"b","type":"STRING"}]}]`, `fields[0] "a": type STRING cannot have fields (only RECORD can)`},
		{`[{"name":"a","type":"RECORD"}]`, `fields[0] "a": RECORD has no fields`},
		{`[null]`, `fields[0]: field is null`},
		{`[]`, `schema has no fields`},
		{`{"fields":[]}`, `schema has no fields`},
		{`[{"name":"a","type":"STRING"}] x`, `parse schema: data after the schema`},
		{`[{"name":1}]`, `parse schema: json: cannot unmarshal`},
		{`nope`, `parse schema: invalid character`},
		{deep(16), `RECORD nested deeper than 15 levels`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%.60s): %v, want %q", tt.in, err, tt.want)
		}
	}
	if _, err := Parse([]byte(deep(15))); err != nil {
		t.Errorf("15 levels: %v", err)
	}
}

// deep returns a schema whose innermost STRING is at depth levels.
func deep(levels int) string {
	s := `{"name":"x","type":"STRING"}`
	for range levels - 1 {
		s = `{"name":"r","type":"RECORD","fields":[` + s + `]}`
	}
	return "[" + s + "]"
}

func TestParseFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "schema.json")
	if err := os.WriteFile(path, []byte(`[{"name":"a","type":"STRING"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ParseFile(path)
	if err != nil || len(s) != 1 || s[0].Name != "a" {
		t.Fatalf("ParseFile: %v, %v", s, err)
	}
	if err := os.WriteFile(path, []byte(`[{"name":"a-b","type":"STRING"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseFile(path); err == nil || !strings.Contains(err.Error(), "schema file "+path+`: fields[0] "a-b"`) {
		t.Errorf("got %v", err)
	}
	if _, err := ParseFile(filepath.Join(t.TempDir(), "missing.json")); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}

func TestBigQueryConversion(t *testing.T) {
	s, err := Parse([]byte(`[{"name":"a","type":"INT64","mode":"REQUIRED","description":"d"},{"name":"r","type":"RECORD","mode":"REPEATED","fields":[{"name":"b","type":"BOOL"}]},{"name":"c","type":"STRING"}]`))
	if err != nil {
		t.Fatal(err)
	}
	bs := s.BigQuery()
	want := bigquery.Schema{
		{Name: "a", Type: bigquery.IntegerFieldType, Required: true, Description: "d"},
		{Name: "r", Type: bigquery.RecordFieldType, Repeated: true, Schema: bigquery.Schema{{Name: "b", Type: bigquery.BooleanFieldType}}},
		{Name: "c", Type: bigquery.StringFieldType},
	}
	if !equalBQ(bs, want) {
		t.Errorf("BigQuery() = %+v", bs)
	}
	back := FromBigQuery(bs)
	wantJSON := `[{"name":"a","type":"INTEGER","mode":"REQUIRED","description":"d"},{"name":"r","type":"RECORD","mode":"REPEATED","fields":[{"name":"b","type":"BOOLEAN","mode":"NULLABLE"}]},{"name":"c","type":"STRING","mode":"NULLABLE"}]`
	if got := compact(t, back.JSON()); got != wantJSON {
		t.Errorf("FromBigQuery: %s", got)
	}
	if _, err := Parse(back.JSON()); err != nil {
		t.Errorf("FromBigQuery result does not parse: %v", err)
	}
	if Schema(nil).BigQuery() != nil || FromBigQuery(nil) != nil {
		t.Error("nil schemas should stay nil")
	}
}

func equalBQ(a, b bigquery.Schema) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Name != y.Name || x.Type != y.Type || x.Required != y.Required || x.Repeated != y.Repeated || x.Description != y.Description || !equalBQ(x.Schema, y.Schema) {
			return false
		}
	}
	return true
}

func TestCheckNameMatchesKeyStyle(t *testing.T) {
	for _, name := range []string{"a", "_", "_1", "A_b9", strings.Repeat("z", 300), "__PARTITION", "_TABLE", "__ROOT_"} {
		if err := CheckName(name); err != nil {
			t.Errorf("CheckName(%q): %v", name, err)
		}
	}
	for _, name := range []string{"", "9", "a b", "é", "_table_x", "__root__", strings.Repeat("z", 301), "_colidentifier"} {
		if CheckName(name) == nil {
			t.Errorf("CheckName(%q) accepted", name)
		}
	}
}
