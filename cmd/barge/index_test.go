package main

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
)

// indexConfig is a forward source and a file output named as
// fluent-plugin-s3 names objects by default, with %{index}; flush sets
// the <buffer> flush parameters.
func indexConfig(flush string) string {
	return `
<system>
  shutdown_timeout 20s
</system>
<source>
  @type forward
  bind 127.0.0.1
  port 0
</source>
<match **>
  @type file
  path ./out/${tag}/
  object_key_format %{path}%{time_slice}_%{index}.%{file_extension}
  compress gzip
  <buffer tag>
    @type file
    path ./buf
    chunk_limit_records 200
    flush_thread_count 4
    retry_wait 100ms
    retry_max_interval 200ms
` + flush + `
  </buffer>
</match>
`
}

// outFiles returns the output files under dir (hidden temporary files
// left out), grouped by the prefix before their index, each group's
// indexes sorted.
func outFiles(t *testing.T, dir string) (map[string][]int, int) {
	t.Helper()
	groups := map[string][]int{}
	n := 0
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		base := strings.TrimSuffix(path, ".gz")
		cut := strings.LastIndexByte(base, '_')
		i, aerr := strconv.Atoi(base[cut+1:])
		if cut < 0 || aerr != nil {
			t.Errorf("output file %s is not PREFIX_INDEX.gz", path)
			return nil
		}
		groups[base[:cut]] = append(groups[base[:cut]], i)
		n++
		return nil
	})
	for _, idx := range groups {
		sort.Ints(idx)
	}
	return groups, n
}

// TestIndexKill9MidFlush buffers chunks that cannot be written yet, then
// kills barge with kill -9 while it flushes them (several times), and
// restarts it: every chunk becomes exactly one file, named once at its
// first attempt (a retry after the crash writes the same name, create-only,
// or finds its own file there), with indexes 0..N-1 per prefix, no gap,
// and every acked record once.
func TestIndexKill9MidFlush(t *testing.T) {
	const records, perChunk = 3000, 200
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	// "out" is a file: nothing can be written under it, the chunks stay
	// queued (full, 200 records each).
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p := startBarge(t, dir, indexConfig(""))
	pad := strings.Repeat("x", 1024)
	bargetest.SendRecords(t, p.Addr, "app.idx", 0, records, func(i int) map[string]any {
		return map[string]any{"seq": i, "msg": "hello from the index test", "pad": pad}
	})
	p.Kill9()
	if err := os.Remove(out); err != nil {
		t.Fatal(err)
	}
	buffered, _ := filepath.Glob(filepath.Join(dir, "buf", "*.chunk"))
	chunks := len(buffered)
	if chunks < records/perChunk {
		t.Fatalf("%d chunks buffered, want at least %d", chunks, records/perChunk)
	}

	// Kill barge as soon as it wrote a file more: its other flush workers
	// are in the middle of theirs.
	midFlush := 0
	for round := 0; round < 4; round++ {
		_, before := outFiles(t, out)
		if before == chunks {
			break
		}
		p := startBarge(t, dir, indexConfig("flush_mode immediate"))
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, n := outFiles(t, out); n > before || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		p.Kill9()
		left, _ := filepath.Glob(filepath.Join(dir, "buf", "*.chunk"))
		names, _ := filepath.Glob(filepath.Join(dir, "buf", "*.names"))
		t.Logf("round %d: killed with %d chunks left, %d with a recorded name", round, len(left), len(names))
		if len(left) > 0 {
			midFlush++
		}
	}
	if midFlush == 0 {
		t.Log("every kill came after the last flush: the crash recovery was not exercised")
	}

	p = startBarge(t, dir, indexConfig("flush_mode immediate"))
	recs := bargetest.WaitRecords(t, out, records, 30*time.Second)
	if code := p.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	bargetest.CheckSeqs(t, recs, records)
	groups, n := outFiles(t, out)
	if n != chunks {
		t.Errorf("%d files, want one per chunk: %d", n, chunks)
	}
	for prefix, idx := range groups {
		for i, got := range idx {
			if got != i {
				t.Errorf("%s: indexes %v, want 0..%d without gap or repeat", prefix, idx, len(idx)-1)
				break
			}
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "buf", "*.names*")); len(left) != 0 {
		t.Errorf("names left in the buffer: %v", left)
	}
}
