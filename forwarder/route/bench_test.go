package route

import (
	"context"
	"testing"
)

type nopSink struct{}

func (nopSink) Append(context.Context, string, []byte) error { return nil }

func benchRouter(b *testing.B, filters ...Filter) {
	r := New(Options{})
	for _, f := range filters {
		if err := r.AddFilter([]string{"app.**"}, f); err != nil {
			b.Fatal(err)
		}
	}
	if err := r.AddMatch([]string{"app.**"}, nopSink{}); err != nil {
		b.Fatal(err)
	}
	var recs []kv
	for i := range 1000 {
		recs = append(recs, kv{"level", "info", "host", "web-1", "path", "/api/v1/items", "status", 200, "seq", i, "msg", "GET /api/v1/items completed lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet"})
	}
	in := stream(recs...)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Append(context.Background(), "app.web", in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRouterNoFilter(b *testing.B) { benchRouter(b) }

func BenchmarkRouterGrep(b *testing.B) {
	g, err := NewGrep(GrepConfig{Excludes: []GrepExpr{{"level", "/debug/"}}})
	if err != nil {
		b.Fatal(err)
	}
	benchRouter(b, g)
}

func BenchmarkRouterRecordTransformer(b *testing.B) {
	f, err := NewRecordTransformer(RecordTransformerConfig{Record: map[string]string{"hostname": "${hostname}", "tag": "${tag}"}}, "h")
	if err != nil {
		b.Fatal(err)
	}
	benchRouter(b, f)
}
