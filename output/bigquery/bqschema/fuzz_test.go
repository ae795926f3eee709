package bqschema

import (
	"bytes"
	"encoding/json"
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(`[{"name":"a","type":"STRING"}]`))
	f.Add([]byte(`{"fields":[{"name":"r","type":"RECORD","mode":"REPEATED","fields":[{"name":"x","type":"int64","description":"<d>"}]}]}`))
	f.Add([]byte(`{"schema":{"fields":[{"name":"t","type":"TIMESTAMP","mode":"required"}]}}`))
	f.Add([]byte(`[{"name":"a","type":"STRING"},{"name":"A","type":"STRING"}]`))
	f.Add([]byte(`[{"name":"a\u00e9","type":"JSON"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		out := s.JSON()
		s2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse accepted %q but not its JSON %s: %v", data, out, err)
		}
		if out2 := s2.JSON(); !bytes.Equal(out, out2) {
			t.Fatalf("round trip changed the schema:\n%s\n%s", out, out2)
		}
		if back := FromBigQuery(s.BigQuery()); len(back) != len(s) {
			t.Fatalf("BigQuery round trip lost fields")
		}
	})
}

func FuzzInfer(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":{"c":[1,2.5]},"t":"2026-11-22T10:04:05Z"}`), []byte(`{"a":"x","b":{"c":[{"d":1}]},"T":null}`))
	f.Add([]byte(`{"a":[[1]],"b":[]}`), []byte(`{"a":null,"b":[true]}`))
	f.Add([]byte(`{"o":{}}`), []byte(`{"o":{"p":{}}}`))
	f.Fuzz(func(t *testing.T, line1, line2 []byte) {
		var in Inferrer
		added := 0
		for _, l := range [][]byte{line1, line2} {
			var obj map[string]any
			valid := json.Unmarshal(l, &obj) == nil && obj != nil
			if err := in.AddJSONLine(l); err == nil {
				if len(bytes.TrimSpace(l)) > 0 {
					added++
					if !valid {
						t.Fatalf("accepted %q, which is not a JSON object", l)
					}
				}
			}
		}
		if in.Rows() != added {
			t.Fatalf("Rows() = %d, added %d", in.Rows(), added)
		}
		s := in.Schema()
		if len(s) == 0 {
			return
		}
		if _, err := Parse(s.JSON()); err != nil {
			t.Fatalf("inferred schema %s does not parse: %v", s.JSON(), err)
		}
	})
}
