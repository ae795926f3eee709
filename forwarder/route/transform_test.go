package route

import (
	"strings"
	"testing"
	"time"
)

func TestRecordTransformer(t *testing.T) {
	in := stream(
		kv{"msg", "hello", "n", 7, "drop", "x", "keep", "k"},
		kv{"msg", "second", "n", 8.5},
	)
	ts := time.Unix(1000, 0).Format("2006-01-02 15:04:05 -0700")
	tests := []struct {
		name string
		cfg  RecordTransformerConfig
		want []map[string]any
	}{
		{"placeholders", RecordTransformerConfig{Record: map[string]string{
			"tag": "${tag}", "p0": "${tag_parts[0]}", "pl": "${tag_parts[-1]}", "pre": "${tag_prefix[1]}",
			"suf": "${tag_suffix[1]}", "host": "${hostname}", "m": `<${record["msg"]}>`, "short": "${msg}",
			"lit": "plain", "none": "${tag_parts[9]}|${missing}", "t": "${time}", "open": "${tag",
		}}, []map[string]any{
			{"msg": "hello", "n": int64(7), "drop": "x", "keep": "k", "tag": "app.web.x", "p0": "app", "pl": "x", "pre": "app.web",
				"suf": "web.x", "host": "h1", "m": "<hello>", "short": "hello", "lit": "plain", "none": "|", "t": ts, "open": "${tag"},
			{"msg": "second", "n": 8.5, "tag": "app.web.x", "p0": "app", "pl": "x", "pre": "app.web",
				"suf": "web.x", "host": "h1", "m": "<second>", "short": "second", "lit": "plain", "none": "|",
				"t": time.Unix(1001, 0).Format("2006-01-02 15:04:05 -0700"), "open": "${tag"},
		}},
		{"override in place and remove", RecordTransformerConfig{
			Record:     map[string]string{"msg": "${record[\"msg\"]}!", "n": "${n}", "new_${tag_parts[1]}": "1"},
			RemoveKeys: []string{"drop", "n"},
		}, []map[string]any{
			{"msg": "hello!", "keep": "k", "new_web": "1"},
			{"msg": "second!", "new_web": "1"},
		}},
		{"typecast", RecordTransformerConfig{AutoTypecast: true, RenewRecord: true, Record: map[string]string{"n": `${record["n"]}`, "s": "${n} ", "gone": "${nope}"}},
			[]map[string]any{{"n": int64(7), "s": "7 ", "gone": nil}, {"n": 8.5, "s": "8.5 ", "gone": nil}}},
		{"renew keep", RecordTransformerConfig{RenewRecord: true, KeepKeys: []string{"keep", "absent"}, Record: map[string]string{"x": "y"}},
			[]map[string]any{{"keep": "k", "x": "y"}, {"x": "y"}}},
		{"json values", RecordTransformerConfig{RenewRecord: true, Record: map[string]string{
			"arr": `["${tag}", 1, 2.5, true, null]`, "obj": `{"k_${tag_parts[0]}": {"n": -3}}`, "bad": `[not json`,
		}}, []map[string]any{
			{"arr": []any{"app.web.x", int64(1), 2.5, true, nil}, "obj": map[string]any{"k_app": map[string]any{"n": int64(-3)}}, "bad": "[not json"},
			{"arr": []any{"app.web.x", int64(1), 2.5, true, nil}, "obj": map[string]any{"k_app": map[string]any{"n": int64(-3)}}, "bad": "[not json"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewRecordTransformer(tt.cfg, "h1")
			if err != nil {
				t.Fatal(err)
			}
			out, err := f.Filter("app.web.x", in, []byte("prefix"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(out), "prefix") {
				t.Fatal("dst not extended")
			}
			got := decode(t, out[len("prefix"):])
			orig := decode(t, in)
			for i := range got {
				if got[i].rawTime != orig[i].rawTime {
					t.Errorf("entry %d: time bytes changed", i)
				}
			}
			equal(t, records(t, out[len("prefix"):]), tt.want)
		})
	}
}

func TestRecordTransformerKeepsUntouchedBytes(t *testing.T) {
	in := stream(kv{"a", 1, "b", "two", "c", 3.0})
	f, err := NewRecordTransformer(RecordTransformerConfig{Record: map[string]string{"b": "B"}}, "h")
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.Filter("t", in, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := stream(kv{"a", 1, "b", "B", "c", 3.0})
	if string(out) != string(want) {
		t.Errorf("got %x\nwant %x", out, want)
	}
}

func TestRecordTransformerValidate(t *testing.T) {
	tests := []struct {
		cfg  RecordTransformerConfig
		want string
	}{
		{RecordTransformerConfig{EnableRuby: true}, "'enable_ruby' is not supported"},
		{RecordTransformerConfig{KeepKeys: []string{"a"}}, "'keep_keys'"},
		{RecordTransformerConfig{Record: map[string]string{"x": `${record["a"].upcase}`}}, "'x': placeholder ${record[\"a\"].upcase} needs Ruby"},
		{RecordTransformerConfig{Record: map[string]string{"x": `${record["a\"b"]}`}}, "'x': placeholder"},
		{RecordTransformerConfig{Record: map[string]string{"x": `${record["a"]['b"]}`}}, "'x': placeholder"},
		{RecordTransformerConfig{Record: map[string]string{"x": `${record[a]}`}}, "'x': placeholder"},
		{RecordTransformerConfig{Record: map[string]string{"x": `${record["a"][01]}`}}, "'x': placeholder ${record[\"a\"][01]}: record accessor"},
		{RecordTransformerConfig{Record: map[string]string{"x": `${record["a"]["b"][0]}`}}, ""},
		{RecordTransformerConfig{RemoveKeys: []string{"$.a..b"}}, "'remove_keys': record accessor \"$.a..b\""},
		{RecordTransformerConfig{RenewRecord: true, KeepKeys: []string{"$.a.b"}}, "'keep_keys' \"$.a.b\": keep_keys takes top-level field names"},
		{RecordTransformerConfig{Record: map[string]string{"x": `${tag_parts[a]}`}}, "'x'"},
		{RecordTransformerConfig{Record: map[string]string{"x": `${tag.upcase}`}}, ""},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.want == "" {
			if err != nil {
				t.Errorf("Validate(%+v) = %v", tt.cfg, err)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want prefix %q", tt.cfg, err, tt.want)
		}
	}
}

// TestRecordTransformerAccessors: remove_keys are record accessors, and
// ${record["a"]["b"]} reads nested values.
func TestRecordTransformerAccessors(t *testing.T) {
	in := stream(
		kv{"kubernetes", map[string]any{"namespace_name": "prod", "labels": map[string]any{"app": "web"}, "pod": "p1"},
			"list", []any{"x", "y", "z"}, "drop", 1, "keep", "k"},
		kv{"kubernetes", "flat", "n", 2},
	)
	tests := []struct {
		name string
		cfg  RecordTransformerConfig
		want []map[string]any
	}{
		{"nested placeholders", RecordTransformerConfig{RenewRecord: true, Record: map[string]string{
			"ns":  `${record["kubernetes"]["namespace_name"]}`,
			"app": `<${record['kubernetes']["labels"]['app']}>`,
			"l0":  `${record["list"][0]}${record["list"][-1]}`,
			"no":  `[${record["kubernetes"]["nope"]}]`,
		}}, []map[string]any{
			{"ns": "prod", "app": "<web>", "l0": "xz", "no": "[]"},
			{"ns": "", "app": "<>", "l0": "", "no": "[]"},
		}},
		{"nested typecast", RecordTransformerConfig{AutoTypecast: true, RenewRecord: true, Record: map[string]string{
			"labels": `${record["kubernetes"]["labels"]}`, "gone": `${record["list"][9]}`,
		}}, []map[string]any{
			{"labels": map[string]any{"app": "web"}, "gone": nil},
			{"labels": nil, "gone": nil},
		}},
		{"remove nested", RecordTransformerConfig{RemoveKeys: []string{"$.kubernetes.labels", "$['kubernetes']['pod']", "$.drop", "keep"}},
			[]map[string]any{
				{"kubernetes": map[string]any{"namespace_name": "prod"}, "list": []any{"x", "y", "z"}},
				{"kubernetes": "flat", "n": int64(2)},
			}},
		{"remove indexes in order", RecordTransformerConfig{RemoveKeys: []string{"$.list[0]", "$.list[0]", "$.nope.x", "$.kubernetes.pod.x"}},
			[]map[string]any{
				{"kubernetes": map[string]any{"namespace_name": "prod", "labels": map[string]any{"app": "web"}, "pod": "p1"},
					"list": []any{"z"}, "drop": int64(1), "keep": "k"},
				{"kubernetes": "flat", "n": int64(2)},
			}},
		{"remove from a new field", RecordTransformerConfig{RenewRecord: true, KeepKeys: []string{"keep"},
			Record:     map[string]string{"obj": `{"a": 1, "b": "${tag}"}`},
			RemoveKeys: []string{"$.obj.a"}},
			[]map[string]any{
				{"keep": "k", "obj": map[string]any{"b": "app"}},
				{"obj": map[string]any{"b": "app"}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewRecordTransformer(tt.cfg, "h")
			if err != nil {
				t.Fatal(err)
			}
			out, err := f.Filter("app", in, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := decode(t, out)
			orig := decode(t, in)
			for i := range got {
				if got[i].rawTime != orig[i].rawTime {
					t.Errorf("entry %d: time bytes changed", i)
				}
			}
			equal(t, records(t, out), tt.want)
		})
	}
}
