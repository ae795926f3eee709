package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/buffertest"
	"github.com/barge-dev/barge/output/objkey"
)

const indexFormat = "%{path}%{time_slice}_%{index}.%{file_extension}"

// hooked runs a hook around the output's Flush, per chunk and attempt.
type hooked struct {
	o     *Output
	mu    sync.Mutex
	calls map[string]int
	hook  func(attempt int, c *buffer.Chunk, flush func() error) error
}

func (h *hooked) Flush(ctx context.Context, c *buffer.Chunk) error {
	h.mu.Lock()
	if h.calls == nil {
		h.calls = map[string]int{}
	}
	h.calls[c.ID]++
	n := h.calls[c.ID]
	h.mu.Unlock()
	return h.hook(n, c, func() error { return h.o.Flush(ctx, c) })
}

func indexOutput(t *testing.T) (*Output, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Path = dir + "/${tag}/"
	cfg.ObjectKeyFormat = indexFormat
	o, err := New(cfg, Options{Hostname: "h", Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	return o, filepath.Join(dir, "app")
}

func indexBuffer(t *testing.T, out buffer.Flusher) *buffertest.Running {
	bcfg := buffer.DefaultConfig("memory")
	bcfg.ChunkKeys = []string{"tag", "time"}
	bcfg.TimeKey = time.Hour
	bcfg.TimeKeyUseUTC = true
	bcfg.ChunkLimitRecords = 10
	bcfg.FlushThreadCount = 4
	bcfg.RetryWait = 10 * time.Millisecond
	return buffertest.Start(t, bcfg, out, "test")
}

// indexes returns the indexes of the files in dir ("SLICE_N.gz"), sorted,
// and the records they hold.
func indexes(t *testing.T, dir string) ([]int, int) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.gz"))
	var idx []int
	records := 0
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".gz")
		i, err := strconv.Atoi(base[strings.LastIndexByte(base, '_')+1:])
		if err != nil {
			t.Fatalf("file %s", f)
		}
		idx = append(idx, i)
		records += len(readJSONLines(t, f))
	}
	sort.Ints(idx)
	return idx, records
}

func wantIndexes(t *testing.T, got []int, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("indexes %v, want 0..%d", got, n-1)
	}
	for i, g := range got {
		if g != i {
			t.Fatalf("indexes %v, want 0..%d", got, n-1)
		}
	}
}

// TestIndexNextFree: chunks flushed at once on a prefix that has files
// get the next free indexes, each its own, without gaps.
func TestIndexNextFree(t *testing.T) {
	o, dir := indexOutput(t)
	slice := time.Unix(1795341845, 0).UTC().Format("2006010215")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, i := range []string{"0", "1", "3"} {
		if err := os.WriteFile(filepath.Join(dir, slice+"_"+i+".gz"), gzipLines(t, `{"seq":-1}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	buf := indexBuffer(t, o)
	for i := range 8 {
		buf.Append("app", entries(i*10, 10))
	}
	buf.Finish(10 * time.Second)
	idx, records := indexes(t, dir)
	wantIndexes(t, idx, 11)
	if records != 80+3 {
		t.Errorf("%d records, want 83", records)
	}
}

// TestIndexRetryFindsOwnFile: an attempt whose file was linked but whose
// answer was lost (a crash before the purge) is found by the retry: one
// file per chunk.
func TestIndexRetryFindsOwnFile(t *testing.T) {
	o, dir := indexOutput(t)
	h := &hooked{o: o, hook: func(attempt int, c *buffer.Chunk, flush func() error) error {
		err := flush()
		if attempt == 1 && err == nil {
			return errors.New("answer lost")
		}
		return err
	}}
	buf := indexBuffer(t, h)
	for i := range 3 {
		buf.Append("app", entries(i*10, 10))
	}
	buf.Finish(10 * time.Second)
	idx, records := indexes(t, dir)
	wantIndexes(t, idx, 3)
	if records != 30 {
		t.Errorf("%d records, want 30", records)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestIndexTakenByAnother: a file another writer put at the name a chunk
// recorded is left alone; the chunk takes the next index and records it.
func TestIndexTakenByAnother(t *testing.T) {
	o, dir := indexOutput(t)
	foreign := gzipLines(t, `{"seq":-1}`)
	var mu sync.Mutex
	var names []string
	h := &hooked{o: o, hook: func(attempt int, c *buffer.Chunk, flush func() error) error {
		if attempt == 1 {
			// The name is chosen and recorded, then the upload fails and
			// another writer takes the name.
			v := objkey.Vars(c, "h", "gz")
			name, err := o.names.Key(context.Background(), c, v, listDir)
			if err != nil {
				return err
			}
			os.MkdirAll(filepath.Dir(name), 0o755)
			if err := os.WriteFile(name, foreign, 0o644); err != nil {
				return err
			}
			return errors.New("upload failed")
		}
		err := flush()
		mu.Lock()
		names = append(names, o.names.Recorded(c))
		mu.Unlock()
		return err
	}}
	buf := indexBuffer(t, h)
	buf.Append("app", entries(0, 10))
	buf.Finish(10 * time.Second)
	idx, records := indexes(t, dir)
	wantIndexes(t, idx, 2)
	if records != 11 {
		t.Errorf("%d records, want 11", records)
	}
	if len(names) != 1 || !strings.HasSuffix(names[0], "_1.gz") {
		t.Errorf("recorded names %q, want index 1", names)
	}
	if got, _ := os.ReadFile(strings.TrimSuffix(names[0], "_1.gz") + "_0.gz"); string(got) != string(foreign) {
		t.Error("the other writer's file was changed")
	}
}

func gzipLines(t *testing.T, lines ...string) []byte {
	t.Helper()
	var b strings.Builder
	zw := gzip.NewWriter(&b)
	for _, l := range lines {
		zw.Write([]byte(l + "\n"))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}
