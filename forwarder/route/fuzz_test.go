package route

import "testing"

// FuzzFilters runs both filters over arbitrary bytes: they may fail, never panic.
func FuzzFilters(f *testing.F) {
	f.Add(stream(kv{"level", "error", "msg", "x", "req", map[string]any{"path": "/a"}}), "app.web")
	f.Add(stream(kv{"n", 1}, kv{"n", []any{1, "x"}}), "a")
	f.Add([]byte{0x92, 0x01, 0x81, 0xa1, 'a', 0xc1}, "")
	f.Add([]byte{0x92, 0xd7, 0x00, 0, 0, 0, 1, 0, 0, 0, 1, 0x80}, "x..y")
	g, err := NewGrep(GrepConfig{
		Regexps:  []GrepExpr{{"$.req.path", "/a/"}},
		Excludes: []GrepExpr{{"level", "/debug/"}},
		Or:       []GrepCondition{{Regexps: []GrepExpr{{"msg", "."}, {"n", "1"}}}},
	})
	if err != nil {
		f.Fatal(err)
	}
	rt, err := NewRecordTransformer(RecordTransformerConfig{
		AutoTypecast: true,
		RemoveKeys:   []string{"n", "$.req.path", "$.a[0]"},
		Record: map[string]string{
			"t": "${tag}${tag_parts[-1]}${tag_prefix[2]}${tag_suffix[-3]}${time}", "n": `${record["n"]}`,
			"${msg}": `{"a":["${level}"]}`, "level": "${level}", "p": `${record["req"]["path"]}${record["n"][1]}`,
		},
	}, "h")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, entries []byte, tag string) {
		for _, flt := range []Filter{g, rt} {
			out, err := flt.Filter(tag, entries, nil)
			if err != nil {
				continue
			}
			if _, err := rt.Filter(tag, out, nil); err != nil {
				t.Fatalf("filter output does not parse: %v", err)
			}
		}
	})
}
