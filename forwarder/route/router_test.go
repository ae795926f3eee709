package route

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type recorder struct {
	name string
	mu   sync.Mutex
	got  []string // tag per Append
	data [][]byte
	err  error
}

func (r *recorder) Append(_ context.Context, tag string, entries []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, tag)
	r.data = append(r.data, bytes.Clone(entries))
	return r.err
}

type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// addFilter is a Filter that sets a field to a fixed value.
func setField(t *testing.T, key, val string) Filter {
	t.Helper()
	cfg := DefaultRecordTransformerConfig()
	cfg.Record = map[string]string{key: val}
	f, err := NewRecordTransformer(cfg, "host")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRouterFirstMatchWins(t *testing.T) {
	a, b, c := &recorder{name: "a"}, &recorder{name: "b"}, &recorder{name: "c"}
	r := New(Options{})
	for _, m := range []struct {
		pats []string
		s    Sink
	}{
		{[]string{"app.web", "app.api"}, a},
		{[]string{"app.**"}, b},
		{[]string{"{x,y}.* z"}, c},
	} {
		if err := r.AddMatch(m.pats, m.s); err != nil {
			t.Fatal(err)
		}
	}
	tests := map[string]*recorder{"app.web": a, "app.api": a, "app": b, "app.db.x": b, "x.1": c, "z": c}
	for tag, want := range tests {
		if err := r.Append(context.Background(), tag, stream(kv{"k", "v"})); err != nil {
			t.Fatal(err)
		}
		want.mu.Lock()
		if n := len(want.got); n == 0 || want.got[n-1] != tag {
			t.Errorf("tag %q did not reach %s: %v", tag, want.name, want.got)
		}
		want.mu.Unlock()
	}
	if len(a.got)+len(b.got)+len(c.got) != len(tests) {
		t.Errorf("appends: a %v b %v c %v", a.got, b.got, c.got)
	}
}

func TestRouterFilters(t *testing.T) {
	sink := &recorder{}
	late := &recorder{}
	r := New(Options{})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.AddFilter([]string{"app.**"}, setField(t, "f1", "one")))
	must(r.AddFilter([]string{"other"}, setField(t, "nope", "x")))
	must(r.AddFilter([]string{"**"}, setField(t, "f1", "${record[\"f1\"]}-two")))
	must(r.AddMatch([]string{"app.**"}, sink))
	must(r.AddFilter([]string{"**"}, setField(t, "after", "x"))) // after the match: not applied to app.*
	must(r.AddMatch([]string{"**"}, late))

	in := stream(kv{"msg", "hi"}, kv{"msg", "there"})
	must(r.Append(context.Background(), "app.x", in))
	if len(sink.data) != 1 {
		t.Fatalf("sink got %d appends", len(sink.data))
	}
	got := decode(t, sink.data[0])
	want := decode(t, in)
	for i := range want {
		want[i].rec["f1"] = "one-two"
	}
	equal(t, got, want)

	must(r.Append(context.Background(), "zzz", stream(kv{"msg", "hi"})))
	equal(t, records(t, late.data[0]), []map[string]any{{"msg": "hi", "f1": "-two", "after": "x"}})
}

func TestRouterDroppedByFilterAndSinkError(t *testing.T) {
	sink := &recorder{err: errors.New("disk full")}
	r := New(Options{})
	g, err := NewGrep(GrepConfig{Regexps: []GrepExpr{{Key: "level", Pattern: "/error/"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AddFilter([]string{"**"}, g); err != nil {
		t.Fatal(err)
	}
	if err := r.AddMatch([]string{"**"}, sink); err != nil {
		t.Fatal(err)
	}
	if err := r.Append(context.Background(), "t", stream(kv{"level", "info"})); err != nil {
		t.Fatalf("all filtered: %v", err)
	}
	if len(sink.got) != 0 {
		t.Fatalf("sink called for an empty stream")
	}
	err = r.Append(context.Background(), "t", stream(kv{"level", "error"}))
	if err != sink.err {
		t.Fatalf("Append = %v, want the sink's error unchanged", err)
	}
	if err := r.Append(context.Background(), "t", stream(kv{"level", "info"}, kv{"level", "error"}, kv{"level", "debug"})); err != sink.err {
		t.Fatalf("Append = %v, want the sink's error", err)
	}
	if got := r.Stats().Filtered; got != 3 {
		t.Errorf("Filtered = %d, want 3", got)
	}
}

func TestRouterUnmatched(t *testing.T) {
	var logs bytes.Buffer
	clk := &fakeClock{now: time.Unix(1000, 0)}
	r := New(Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Clock: clk})
	if err := r.AddMatch([]string{"app.*"}, &recorder{}); err != nil {
		t.Fatal(err)
	}
	three := stream(kv{"a", 1}, kv{"a", 2}, kv{"a", 3})
	steps := []struct {
		tag     string
		advance time.Duration
		lines   int
	}{
		{"nope", 0, 1},
		{"nope", time.Second, 1},
		{"other", 0, 2},
		{"nope", 30 * time.Second, 2},
		{"nope", 30 * time.Second, 3}, // a minute after the first warning
		{"app.x", 0, 3},
	}
	for i, s := range steps {
		clk.now = clk.now.Add(s.advance)
		if err := r.Append(context.Background(), s.tag, three); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(logs.String(), "no patterns matched"); n != s.lines {
			t.Fatalf("step %d: %d warnings, want %d:\n%s", i, n, s.lines, logs.String())
		}
	}
	if got := r.Stats().Unmatched; got != 15 {
		t.Errorf("Unmatched = %d, want 15", got)
	}
	last := logs.String()[strings.LastIndex(logs.String(), "level=WARN"):]
	if !strings.Contains(last, "tag=nope") || !strings.Contains(last, "records=9") {
		t.Errorf("last warning %q, want tag=nope records=9", last)
	}
}

func TestRouterAddErrors(t *testing.T) {
	r := New(Options{})
	if err := r.AddMatch(nil, &recorder{}); err == nil {
		t.Error("no patterns: no error")
	}
	if err := r.AddMatch([]string{"{a"}, &recorder{}); err == nil {
		t.Error("bad pattern: no error")
	}
	if err := r.AddFilter([]string{"a"}, nil); err == nil {
		t.Error("nil filter: no error")
	}
}

func TestRouterConcurrentCache(t *testing.T) {
	sink := &recorder{}
	r := New(Options{})
	if err := r.AddMatch([]string{"**"}, sink); err != nil {
		t.Fatal(err)
	}
	if err := r.AddFilter([]string{"t.**"}, setField(t, "x", "${tag_parts[1]}")); err != nil {
		t.Fatal(err)
	}
	in := stream(kv{"a", 1})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 700 { // more tags than the cache holds
				tag := "t." + string(rune('a'+g)) + "." + string(rune('a'+i%26)) + strings.Repeat("x", i)
				if err := r.Append(context.Background(), tag, in); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if len(sink.got) != 8*700 {
		t.Errorf("sink got %d appends", len(sink.got))
	}
}
