package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
	"github.com/barge-dev/barge/output/objkey"
)

// TestFilesOneObjectPerSourceFile runs @type files in the real binary, as
// the README documents it: path_key in a chunk key writes each source
// file's records under a directory of its own. A restart over the same
// pos_file ships nothing again, and a new file dropped while barge runs
// is shipped once.
func TestFilesOneObjectPerSourceFile(t *testing.T) {
	dir := t.TempDir()
	export := filepath.Join(dir, "export")
	if err := os.MkdirAll(export, 0o755); err != nil {
		t.Fatal(err)
	}
	writeCSV := func(name string, rows int) {
		t.Helper()
		var b strings.Builder
		b.WriteString("id,name\n")
		for i := range rows {
			fmt.Fprintf(&b, "%s-%d,row %d\n", name, i, i)
		}
		if err := os.WriteFile(filepath.Join(export, name+".csv"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeCSV("a", 10)
	writeCSV("b", 20)
	writeCSV("c", 30)
	config := fmt.Sprintf(`<source>
  @type files
  path %s/*.csv
  tag imports
  pos_file %s/imports.pos
  settle_time 0s
  refresh_interval 200ms
  path_key file
  <parse>
    @type csv
  </parse>
</source>
<match imports>
  @type file
  path out/${file}/
  <buffer file>
    @type file
    path buffer
    flush_mode interval
    flush_interval 200ms
  </buffer>
</match>
`, export, dir)
	out := filepath.Join(dir, "out")
	check := func(want map[string]int) {
		t.Helper()
		recs := bargetest.WaitRecords(t, out, sum(want), 30*time.Second)
		got := map[string]int{}
		ids := map[string]bool{}
		for _, r := range recs {
			file, _ := r["file"].(string)
			got[file]++
			id := fmt.Sprint(r["id"])
			if ids[id] {
				t.Errorf("record %s shipped twice", id)
			}
			ids[id] = true
		}
		for name, n := range want {
			if p := filepath.Join(export, name+".csv"); got[p] != n {
				t.Errorf("%s: %d records, want %d (all: %v)", p, got[p], n, got)
			}
		}
		// One directory per source file, holding only its records.
		for name, n := range want {
			sub := filepath.Join(out, objkey.CleanPathValue(filepath.Join(export, name+".csv")))
			recs := bargetest.ReadRecords(t, sub)
			if len(recs) != n {
				t.Errorf("%s holds %d records, want %d", sub, len(recs), n)
			}
			for _, r := range recs {
				if !strings.HasPrefix(fmt.Sprint(r["id"]), name+"-") {
					t.Errorf("%s holds a record of another file: %v", sub, r)
				}
			}
		}
	}
	p := bargetest.StartCommand(t, bargeBin, dir, config, nil, "run")
	check(map[string]int{"a": 10, "b": 20, "c": 30})
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}

	// Restart: nothing again; then a new file, once.
	p = bargetest.StartCommand(t, bargeBin, dir, config, nil, "run")
	writeCSV("d", 5)
	check(map[string]int{"a": 10, "b": 20, "c": 30, "d": 5})
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	check(map[string]int{"a": 10, "b": 20, "c": 30, "d": 5})
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestFilesKill9HalfReadExactlyOnce kills barge with kill -9 three times
// while it ships a large ndjson file (part of it in the buffer), then
// lets it finish: every record is written out once (each batch's ledger
// entry is in the buffer with its records).
func TestFilesKill9HalfReadExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	export := filepath.Join(dir, "export")
	if err := os.MkdirAll(export, 0o755); err != nil {
		t.Fatal(err)
	}
	const n = 400000
	f, err := os.Create(filepath.Join(export, "big.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := range n {
		fmt.Fprintf(w, "{\"seq\":%d,\"msg\":\"record %d of the files kill test\"}\n", i, i)
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		t.Fatal(err)
	}
	configWith := func(buffer string) string {
		return fmt.Sprintf(`<source>
  @type files
  path %s/*.ndjson
  tag imports
  pos_file %s/imports.pos
  settle_time 0s
  refresh_interval 200ms
  <parse>
    @type ndjson
  </parse>
</source>
<match imports>
  @type file
  path out/
  compress zstd
  <buffer>
    @type file
    path buffer
    flush_mode interval
    %s
  </buffer>
</match>
`, export, dir, buffer)
	}
	// Nothing flushed and no chunk full before the last start: the staged
	// chunk grows with what barge ships, and tells the test when to kill.
	config := configWith("flush_interval 1h\n    chunk_limit_size 256m")
	for _, grow := range []int64{1 << 20, 2 << 20, 2 << 20} {
		before := stagedBytes(t, dir)
		p := bargetest.StartCommand(t, bargeBin, dir, config, nil, "run")
		killWhen(t, p, fmt.Sprintf("%d more bytes buffered", grow), func() bool { return stagedBytes(t, dir) >= before+grow })
	}
	p := bargetest.StartCommand(t, bargeBin, dir, configWith("flush_interval 200ms"), nil, "run")
	out := filepath.Join(dir, "out")
	waitDistinct(t, out, n, 120*time.Second)
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if dups := checkNoneLost(t, bargetest.ReadRecords(t, out), n); dups != 0 {
		t.Fatalf("%d of %d records written out more than once after three kill -9", dups, n)
	}
}
