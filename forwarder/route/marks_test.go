package route

import (
	"context"
	"testing"

	"github.com/barge-dev/barge/buffer"
)

type nullFlusher struct{}

func (nullFlusher) Flush(context.Context, *buffer.Chunk) error { return nil }

func memBuffer(t *testing.T) *buffer.Buffer {
	t.Helper()
	b, err := buffer.New(buffer.DefaultConfig("memory"), nullFlusher{}, buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestRouterMarks: a mark goes with the filtered entries to the buffer of
// the first match; filtered out entirely, or unmatched, it is not stored.
// Marks gathers the latest of each source across the buffers.
func TestRouterMarks(t *testing.T) {
	ctx := context.Background()
	a, b := memBuffer(t), memBuffer(t)
	r := New(Options{})
	g, err := NewGrep(GrepConfig{Excludes: []GrepExpr{{Key: "level", Pattern: "/debug/"}}})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.AddFilter([]string{"**"}, g))
	must(r.AddMatch([]string{"a.**"}, a))
	must(r.AddMatch([]string{"b.**"}, b))
	mk := func(src string, seq uint64) buffer.Mark {
		return buffer.Mark{Source: src, Seq: seq, Value: []byte{byte(seq)}}
	}
	must(r.AppendMarked(ctx, "a.x", stream(kv{"level", "info"}), mk("in\x00one", 1)))
	must(r.AppendMarked(ctx, "a.x", stream(kv{"level", "debug"}), mk("in\x00one", 2))) // all filtered
	must(r.AppendMarked(ctx, "b.x", stream(kv{"level", "info"}), mk("in\x00one", 3)))  // routes changed
	must(r.AppendMarked(ctx, "b.x", stream(kv{"level", "info"}), mk("in\x00two", 4)))
	must(r.AppendMarked(ctx, "c.x", stream(kv{"level", "info"}), mk("in\x00three", 5))) // unmatched
	must(r.AppendMarked(ctx, "a.x", stream(kv{"level", "info"}), mk("other", 6)))
	if st := a.Stats(); st.Records != 2 {
		t.Errorf("buffer a holds %d records, want 2", st.Records)
	}
	got := r.Marks("in\x00")
	if len(got) != 2 || got[0].Source != "in\x00one" || got[0].Seq != 3 || got[1].Source != "in\x00two" || got[1].Seq != 4 {
		t.Errorf("Marks = %+v, want one at 3 and two at 4", got)
	}
	if m := a.Marks("in\x00"); len(m) != 1 || m[0].Seq != 1 {
		t.Errorf("buffer a marks %+v, want one at 1 (the filtered append stored none)", m)
	}
}
