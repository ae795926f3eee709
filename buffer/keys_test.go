package buffer

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRecordAccessorChunkKeys: record chunk keys may be record accessors in
// dot notation; Chunk.Keys names them as written, values in text form.
func TestRecordAccessorChunkKeys(t *testing.T) {
	k8s := func(ns string) map[string]any {
		return map[string]any{"namespace_name": ns, "labels": map[string]any{"app.kubernetes.io/name": "shop-" + ns}}
	}
	recs := [][]any{
		{"kubernetes", k8s("prod"), "list", []any{"x", 1}, "a.b", "dotted", "a", map[string]any{"b": "nested"}},
		{"kubernetes", k8s("dev"), "list", []any{2}},
		{"kubernetes", k8s("prod"), "list", []any{"x"}},
		{"kubernetes", "flat", "dup", 1, "dup", 2},
		{"other", true},
	}
	tests := []struct {
		keys []string
		want []map[string]string // Keys of each chunk, in any order
	}{
		{[]string{"$.kubernetes.namespace_name"}, []map[string]string{
			{"$.kubernetes.namespace_name": "prod"}, {"$.kubernetes.namespace_name": "dev"}, {"$.kubernetes.namespace_name": ""},
		}},
		{[]string{"$.kubernetes.labels['app.kubernetes.io/name']"}, []map[string]string{
			{"$.kubernetes.labels['app.kubernetes.io/name']": "shop-prod"},
			{"$.kubernetes.labels['app.kubernetes.io/name']": "shop-dev"},
			{"$.kubernetes.labels['app.kubernetes.io/name']": ""},
		}},
		{[]string{"$.list[0]"}, []map[string]string{{"$.list[0]": "x"}, {"$.list[0]": "2"}, {"$.list[0]": ""}}},
		{[]string{"a.b", "$.a.b"}, []map[string]string{ // a plain key keeps its dots
			{"a.b": "dotted", "$.a.b": "nested"}, {"a.b": "", "$.a.b": ""},
		}},
		{[]string{"other", "$.other"}, []map[string]string{ // the same field
			{"other": "true", "$.other": "true"}, {"other": "", "$.other": ""},
		}},
		{[]string{"dup", "$.dup"}, []map[string]string{ // of a name given twice, the last counts
			{"dup": "", "$.dup": ""}, {"dup": "2", "$.dup": "2"},
		}},
	}
	for _, tt := range tests {
		t.Run(joinKeys(tt.keys), func(t *testing.T) {
			for _, typ := range []string{"file", "memory"} {
				cfg := testConfig(t, typ)
				cfg.ChunkKeys = append([]string{"tag"}, tt.keys...)
				if err := cfg.Validate(); err != nil {
					t.Fatal(err)
				}
				out := &recorder{}
				b, _ := open(t, cfg, out, Options{})
				var e []byte
				for _, r := range recs {
					e = entry(e, t0, r...)
				}
				if err := b.Append(context.Background(), "k8s", e); err != nil {
					t.Fatal(err)
				}
				if err := b.Drain(context.Background()); err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, c := range out.got() {
					if c.Tag != "k8s" {
						t.Errorf("tag %q", c.Tag)
					}
					got = append(got, keysString(c.Keys))
				}
				var want []string
				for _, w := range tt.want {
					want = append(want, keysString(w))
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("%s: chunks\n%s\nwant\n%s", typ, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				if out.records() != len(recs) {
					t.Errorf("%s: %d records", typ, out.records())
				}
				b.Close()
			}
		})
	}
}

func keysString(m map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b.WriteString(k + "=" + m[k] + ";")
	}
	return b.String()
}

// A staged chunk of an accessor chunk key is recovered and continued.
func TestRecoverRecordAccessorChunkKey(t *testing.T) {
	cfg := testConfig(t, "file")
	cfg.ChunkKeys = []string{"$.k8s.ns"}
	cfg.FlushMode = "lazy"
	ctx := context.Background()
	b1, _ := open(t, cfg, &recorder{}, Options{})
	defer b1.Close()
	if err := b1.Append(ctx, "a", entry(nil, t0, "k8s", map[string]any{"ns": "prod"})); err != nil {
		t.Fatal(err)
	}
	crash(b1)
	out := &recorder{}
	b2, rec := open(t, cfg, out, Options{})
	defer b2.Close()
	if rec.Chunks != 1 || b2.Stats().StagedChunks != 1 {
		t.Fatalf("recovery %+v, stats %+v", rec, b2.Stats())
	}
	if err := b2.Append(ctx, "a", entry(nil, t0.Add(time.Second), "k8s", map[string]any{"ns": "prod"})); err != nil {
		t.Fatal(err)
	}
	if st := b2.Stats(); st.StagedChunks != 1 {
		t.Fatalf("append did not continue the recovered chunk: %+v", st)
	}
	if err := b2.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	got := out.got()
	if len(got) != 1 || got[0].Records != 2 || got[0].Keys["$.k8s.ns"] != "prod" {
		t.Fatalf("chunks %+v", got)
	}
}
