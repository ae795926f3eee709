package objkey

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer"
)

// store is a destination for Namer tests: the keys stored, and how often
// it was listed.
type store struct {
	mu    sync.Mutex
	keys  map[string]bool
	lists int
}

func newStore(keys ...string) *store {
	s := &store{keys: map[string]bool{}}
	for _, k := range keys {
		s.keys[k] = true
	}
	return s
}

func (s *store) list(_ context.Context, prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists++
	var out []string
	for k := range s.keys {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out, nil
}

// put stores key create-only: false when it is there.
func (s *store) put(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[key] {
		return false
	}
	s.keys[key] = true
	return true
}

func indexVars(id string) ChunkVars {
	return ChunkVars{ID: id, Tag: "app", TimeKey: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), FileExtension: "gz"}
}

func indexNamer(t *testing.T, format string) *Namer {
	t.Helper()
	kf, err := NewKeyFormat(KeyConfig{Path: "logs/${tag}/", ObjectKeyFormat: format})
	if err != nil {
		t.Fatal(err)
	}
	return NewNamer(kf, "test://bucket")
}

const fluentFormat = "%{path}%{time_slice}_%{index}.%{file_extension}"

func TestNamerChoosesFreeIndex(t *testing.T) {
	ctx := context.Background()
	n := indexNamer(t, fluentFormat)
	st := newStore("logs/app/2026112210_0.gz", "logs/app/2026112210_1.gz", "logs/app/2026112210_3.gz",
		"logs/app/2026112210_02.gz", "logs/app/2026112210_2.gz.tmp", "logs/app/2026112210_x.gz", "logs/app/2026112211_2.gz")
	a := &buffer.Chunk{ID: "a"}
	key, err := n.Key(ctx, a, indexVars("a"), st.list)
	if err != nil || key != "logs/app/2026112210_2.gz" {
		t.Fatalf("key = %q, %v; want index 2", key, err)
	}
	if got := n.Recorded(a); got != key {
		t.Errorf("recorded %q, want %q", got, key)
	}
	// Later attempts reuse the recorded key without listing.
	lists := st.lists
	if again, _ := n.Key(ctx, a, indexVars("a"), st.list); again != key || st.lists != lists {
		t.Errorf("second Key = %q after %d more listings, want %q without listing", again, st.lists-lists, key)
	}
	// Another chunk does not get a held index: 2 is a's, 3 is stored.
	b := &buffer.Chunk{ID: "b"}
	if key, _ := n.Key(ctx, b, indexVars("b"), st.list); key != "logs/app/2026112210_4.gz" {
		t.Errorf("b's key = %q, want index 4", key)
	}
	// a's object is stored and Done: its index stays taken, by the listing.
	st.put("logs/app/2026112210_2.gz")
	n.Done("logs/app/2026112210_2.gz")
	c := &buffer.Chunk{ID: "c"}
	if key, _ := n.Key(ctx, c, indexVars("c"), st.list); key != "logs/app/2026112210_5.gz" {
		t.Errorf("c's key = %q, want index 5", key)
	}
}

func TestNamerTaken(t *testing.T) {
	ctx := context.Background()
	n := indexNamer(t, fluentFormat)
	st := newStore()
	a := &buffer.Chunk{ID: "a"}
	key, _ := n.Key(ctx, a, indexVars("a"), st.list)
	// Another writer stores the same key first: a takes the next index.
	st.put(key)
	next, err := n.Taken(ctx, a, indexVars("a"), key, st.list)
	if err != nil || next != "logs/app/2026112210_1.gz" {
		t.Fatalf("Taken = %q, %v; want index 1", next, err)
	}
	if n.Recorded(a) != next {
		t.Errorf("recorded %q, want %q", n.Recorded(a), next)
	}
	// The taken key is no longer held by a.
	n.mu.Lock()
	_, held := n.held[key]
	n.mu.Unlock()
	if held {
		t.Errorf("%q still held", key)
	}
}

// TestNamerConcurrent flushes chunks of one prefix at once: no two get
// the same index, and the indexes have no gap.
func TestNamerConcurrent(t *testing.T) {
	ctx := context.Background()
	n := indexNamer(t, fluentFormat)
	st := newStore()
	const chunks = 32
	keys := make([]string, chunks)
	var wg sync.WaitGroup
	for i := range chunks {
		wg.Go(func() {
			c := &buffer.Chunk{ID: fmt.Sprint(i)}
			key, err := n.Key(ctx, c, indexVars(c.ID), st.list)
			if err != nil {
				t.Error(err)
				return
			}
			if i%2 == 0 { // half of them are stored (and Done) while others choose
				if !st.put(key) {
					t.Errorf("chunk %d: %q already stored", i, key)
				}
				n.Done(key)
			}
			keys[i] = key
		})
	}
	wg.Wait()
	slices.Sort(keys)
	for i := range chunks {
		want := fmt.Sprintf("logs/app/2026112210_%d.gz", i)
		if !slices.Contains(keys, want) {
			t.Errorf("no chunk got %q; keys %q", want, keys)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.held) != chunks/2 {
		t.Errorf("%d keys held, want %d", len(n.held), chunks/2)
	}
}

func TestNamerWithoutIndex(t *testing.T) {
	n := indexNamer(t, "%{path}%{chunk_id}.gz")
	c := &buffer.Chunk{ID: "0123456789abcdef0123456789abcdef"}
	list := func(context.Context, string) ([]string, error) { return nil, errors.New("listed") }
	key, err := n.Key(context.Background(), c, indexVars(c.ID), list)
	if err != nil || key != "logs/app/0123456789abcdef0123456789abcdef.gz" {
		t.Fatalf("key = %q, %v", key, err)
	}
	if n.Recorded(c) != "" || c.Name(n.owner) != "" {
		t.Error("a key without %{index} was recorded")
	}
}

func TestNamerFormats(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, format string
		stored       []string
		want         string
	}{
		{"index in path", "%{path}%{index}/%{time_slice}.gz", []string{"logs/app/0/2026112210.gz", "logs/app/1/other.gz"}, "logs/app/1/2026112210.gz"},
		{"index twice", "%{path}%{index}/%{index}.gz", []string{"logs/app/0/0.gz", "logs/app/1/0.gz"}, "logs/app/1/1.gz"},
		{"index and chunk id", "%{path}%{index}-%{chunk_id}.gz", []string{"logs/app/0-a.gz", "logs/app/1-other.gz"}, "logs/app/1-a.gz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := indexNamer(t, tt.format)
			key, err := n.Key(ctx, &buffer.Chunk{ID: "a"}, indexVars("a"), newStore(tt.stored...).list)
			if err != nil || key != tt.want {
				t.Errorf("key = %q, %v; want %q", key, err, tt.want)
			}
		})
	}
}

// TestNamerOwners: a chunk's names are per output and per key format.
func TestNamerOwners(t *testing.T) {
	ctx := context.Background()
	kf, _ := NewKeyFormat(KeyConfig{Path: "logs/${tag}/", ObjectKeyFormat: fluentFormat})
	other, _ := NewKeyFormat(KeyConfig{Path: "logs/${tag}/", ObjectKeyFormat: "%{path}%{index}.%{file_extension}"})
	primary, secondary, changed := NewNamer(kf, "s3://a"), NewNamer(kf, "s3://b"), NewNamer(other, "s3://a")
	c := &buffer.Chunk{ID: "a"}
	k1, _ := primary.Key(ctx, c, indexVars("a"), newStore().list)
	k2, _ := secondary.Key(ctx, c, indexVars("a"), newStore("logs/app/2026112210_0.gz").list)
	k3, _ := changed.Key(ctx, c, indexVars("a"), newStore().list)
	if k1 != "logs/app/2026112210_0.gz" || k2 != "logs/app/2026112210_1.gz" || k3 != "logs/app/0.gz" {
		t.Errorf("keys %q %q %q", k1, k2, k3)
	}
	if primary.Recorded(c) != k1 || secondary.Recorded(c) != k2 || changed.Recorded(c) != k3 {
		t.Errorf("records %q %q %q", primary.Recorded(c), secondary.Recorded(c), changed.Recorded(c))
	}
}

func TestNamerListError(t *testing.T) {
	n := indexNamer(t, fluentFormat)
	c := &buffer.Chunk{ID: "a"}
	boom := errors.New("boom")
	_, err := n.Key(context.Background(), c, indexVars("a"), func(context.Context, string) ([]string, error) { return nil, boom })
	if !errors.Is(err, boom) || n.Recorded(c) != "" {
		t.Errorf("err = %v, recorded %q", err, n.Recorded(c))
	}
}

func TestTaken(t *testing.T) {
	base := errors.New("put x: another object is at the key")
	err := Taken(base)
	if err.Error() != base.Error() || !errors.Is(err, ErrTaken) || !errors.Is(err, base) {
		t.Errorf("Taken(%v) = %v", base, err)
	}
}
