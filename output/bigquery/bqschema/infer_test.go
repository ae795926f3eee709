package bqschema

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func infer(t *testing.T, lines ...string) *Inferrer {
	t.Helper()
	var in Inferrer
	for _, l := range lines {
		if err := in.AddJSONLine([]byte(l)); err != nil {
			t.Fatalf("AddJSONLine(%s): %v", l, err)
		}
	}
	return &in
}

func TestInfer(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"scalars", []string{`{"b":true,"i":1,"f":1.5,"e":1e3,"big":18446744073709551615,"s":"x","t":"2026-11-22T10:04:05.123456789+09:00","t2":"2026-11-22 10:04:05Z","n":null}`},
			`[{"name":"b","type":"BOOLEAN","mode":"NULLABLE"},{"name":"i","type":"INTEGER","mode":"NULLABLE"},{"name":"f","type":"FLOAT","mode":"NULLABLE"},{"name":"e","type":"FLOAT","mode":"NULLABLE"},{"name":"big","type":"FLOAT","mode":"NULLABLE"},{"name":"s","type":"STRING","mode":"NULLABLE"},{"name":"t","type":"TIMESTAMP","mode":"NULLABLE"},{"name":"t2","type":"TIMESTAMP","mode":"NULLABLE"},{"name":"n","type":"STRING","mode":"NULLABLE"}]`},
		{"widening", []string{`{"a":1,"b":"2026-11-22T10:04:05Z","c":true,"d":1}`, `{"a":2.5,"b":"later","c":1,"d":{"x":1}}`},
			`[{"name":"a","type":"FLOAT","mode":"NULLABLE"},{"name":"b","type":"STRING","mode":"NULLABLE"},{"name":"c","type":"STRING","mode":"NULLABLE"},{"name":"d","type":"JSON","mode":"NULLABLE"}]`},
		{"order of first appearance", []string{`{"z":1}`, `{"a":1,"z":2}`, `{"m":null,"a":3}`},
			`[{"name":"z","type":"INTEGER","mode":"NULLABLE"},{"name":"a","type":"INTEGER","mode":"NULLABLE"},{"name":"m","type":"STRING","mode":"NULLABLE"}]`},
		{"records merged", []string{`{"k":{"pod":"p","n":1}}`, `{"k":{"ns":"x","n":2.0}}`, `{"k":null}`},
			`[{"name":"k","type":"RECORD","mode":"NULLABLE","fields":[{"name":"pod","type":"STRING","mode":"NULLABLE"},{"name":"n","type":"FLOAT","mode":"NULLABLE"},{"name":"ns","type":"STRING","mode":"NULLABLE"}]}]`},
		{"arrays", []string{`{"a":[1,2],"b":[],"c":[{"x":1},{"y":"s"}],"d":[[1]],"e":[1,{"x":1}],"f":[1,"s"],"g":[null]}`, `{"a":[3.5]}`},
			`[{"name":"a","type":"FLOAT","mode":"REPEATED"},{"name":"b","type":"STRING","mode":"REPEATED"},{"name":"c","type":"RECORD","mode":"REPEATED","fields":[{"name":"x","type":"INTEGER","mode":"NULLABLE"},{"name":"y","type":"STRING","mode":"NULLABLE"}]},{"name":"d","type":"JSON","mode":"NULLABLE"},{"name":"e","type":"JSON","mode":"NULLABLE"},{"name":"f","type":"STRING","mode":"REPEATED"},{"name":"g","type":"STRING","mode":"REPEATED"}]`},
		{"array and scalar", []string{`{"a":[1]}`, `{"a":1}`},
			`[{"name":"a","type":"JSON","mode":"NULLABLE"}]`},
		{"empty object", []string{`{"o":{}}`},
			`[{"name":"o","type":"JSON","mode":"NULLABLE"}]`},
		{"case-insensitive columns", []string{`{"Id":1}`, `{"id":2}`},
			`[{"name":"Id","type":"INTEGER","mode":"NULLABLE"}]`},
		{"not timestamps", []string{`{"a":"2026-13-01T00:00:00Z","b":"2026-11-22T10:04:05","c":"2026-11-22T10:04:05.1234567890Z","d":"0000-01-01T00:00:00Z","e":"2026-11-22T10:04:05+0900","f":"2026-11-22"}`},
			`[{"name":"a","type":"STRING","mode":"NULLABLE"},{"name":"b","type":"STRING","mode":"NULLABLE"},{"name":"c","type":"STRING","mode":"NULLABLE"},{"name":"d","type":"STRING","mode":"NULLABLE"},{"name":"e","type":"STRING","mode":"NULLABLE"},{"name":"f","type":"STRING","mode":"NULLABLE"}]`},
		{"blank lines ignored", []string{`{"a":1}`, ``, "  \n"},
			`[{"name":"a","type":"INTEGER","mode":"NULLABLE"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := infer(t, tt.lines...)
			s := in.Schema()
			if got := compact(t, s.JSON()); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if _, err := Parse(s.JSON()); err != nil {
				t.Errorf("inferred schema does not parse: %v", err)
			}
		})
	}
}

func TestInferRows(t *testing.T) {
	in := infer(t, `{"a":1}`, ``, `{"b":2}`)
	if in.Rows() != 2 {
		t.Errorf("Rows() = %d", in.Rows())
	}
	if err := in.AddJSONLine([]byte(`{"c":1,"bad key":2}`)); err == nil {
		t.Fatal("bad key accepted")
	}
	if in.Rows() != 2 || len(in.Schema()) != 2 {
		t.Errorf("a refused line changed the inferrer: %d rows, %d fields", in.Rows(), len(in.Schema()))
	}
}

func TestInferDepth(t *testing.T) {
	line := `{"x":1}`
	for range 20 {
		line = `{"r":` + line + `}`
	}
	s := infer(t, line).Schema()
	if _, err := Parse(s.JSON()); err != nil {
		t.Fatalf("deep record: %v", err)
	}
	depth, f := 1, s[0]
	for f.Type == "RECORD" {
		f = f.Fields[0]
		depth++
	}
	if depth != MaxDepth || f.Type != "JSON" {
		t.Errorf("deepest field at %d is %s", depth, f.Type)
	}
}

func TestInferErrors(t *testing.T) {
	tests := []struct{ line, want string }{
		{`{"a.b":1}`, `record 1: key "a.b": name has characters other than letters, digits and _ (write the records with <format> key_style bigquery)`},
		{`{"k":{"1st":1}}`, `record 1: key "k.1st": name starts with a digit`},
		{`{"k":[{"_PARTITIONTIME":1}]}`, `key "k._PARTITIONTIME": name starts with the reserved prefix _PARTITION`},
		{`{"a":1,"A":2}`, `record 1: key "A": same column as "a"`},
		{`[1]`, `record 1: not a JSON object`},
		{`"s"`, `record 1: not a JSON object`},
		{`{"a":1} {"b":2}`, `record 1: data after the record`},
		{`{"a":`, `record 1: unexpected EOF`},
		{`{"a":tru}`, `record 1: invalid character`},
	}
	for _, tt := range tests {
		var in Inferrer
		err := in.AddJSONLine([]byte(tt.line))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("AddJSONLine(%s): %v, want %q", tt.line, err, tt.want)
		}
	}
}

func TestIsTimestamp(t *testing.T) {
	for _, s := range []string{"2026-11-22T10:04:05Z", "2026-11-22 10:04:05Z", "2026-11-22T10:04:05.1+09:00", "2026-11-22T10:04:05.123456789-05:30", "9999-12-31T23:59:59.999999Z", "0001-01-01T00:00:00Z"} {
		if !isTimestamp(s) {
			t.Errorf("isTimestamp(%q) = false", s)
		}
	}
	for _, s := range []string{"", "2026-11-22T10:04:05", "2026-11-22t10:04:05Z", "2026-11-22T10:04:05.Z", "2026-11-22T25:04:05Z", "2026-02-30T10:04:05Z", "0001-01-01T00:00:00+01:00", "2026-11-22T10:04:05+09", "x026-11-22T10:04:05Z"} {
		if isTimestamp(s) {
			t.Errorf("isTimestamp(%q) = true", s)
		}
	}
}
