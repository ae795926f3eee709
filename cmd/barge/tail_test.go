package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
)

// tailConfig tails dir/logs/app.log (JSON lines) into zstd files under
// dir/out, with its positions in dir/tail.pos.
func tailConfig(dir string) string {
	return fmt.Sprintf(`<source>
  @type tail
  path %[1]s/logs/app.log
  tag app.log
  pos_file %[1]s/tail.pos
  read_from_head true
  refresh_interval 1s
  rotate_wait 2s
  <parse>
    @type json
  </parse>
</source>
<match app.**>
  @type file
  path out/
  compress zstd
  <buffer>
    @type file
    path buffer
    flush_mode interval
    flush_interval 200ms
  </buffer>
</match>
`, dir)
}

// appendLines appends {"seq":i} for i in from..to-1 to path.
func appendLines(t *testing.T, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := from; i < to; i++ {
		if _, err := fmt.Fprintf(f, "{\"seq\":%d,\"msg\":\"line %d of the tail test\"}\n", i, i); err != nil {
			t.Fatal(err)
		}
	}
}

// checkNoneLost fails unless recs hold every seq in [0, n), and returns
// how many were delivered more than once (the tailer is at least once
// across kill -9 until the buffer records its positions).
func checkNoneLost(t *testing.T, recs []map[string]any, n int) (dups int) {
	t.Helper()
	seen := make(map[int]int, n)
	for _, r := range recs {
		f, ok := r["seq"].(float64)
		if !ok || f < 0 || int(f) >= n {
			t.Fatalf("unexpected record %v", r)
		}
		seen[int(f)]++
	}
	missing := 0
	for i := range n {
		switch c := seen[i]; {
		case c == 0:
			missing++
		case c > 1:
			dups += c - 1
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d lines lost (%d records, %d duplicates)", missing, n, len(recs), dups)
	}
	return dups
}

// TestTailKill9AcrossRotationLosesNoLine tails a file that grows, is
// rotated by rename while barge runs, and keeps growing, with barge killed
// with kill -9 twice (once mid-file, once right after the rotation) and
// restarted: every line reaches the output.
func TestTailKill9AcrossRotationLosesNoLine(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(logs, "app.log")
	out := filepath.Join(dir, "out")
	config := tailConfig(dir)

	appendLines(t, app, 0, 20000)
	p := bargetest.StartCommand(t, bargeBin, dir, config, nil, "run")
	bargetest.WaitRecords(t, out, 1, 30*time.Second)
	p.Kill9()

	p = bargetest.StartCommand(t, bargeBin, dir, config, nil, "run")
	appendLines(t, app, 20000, 25000)
	if err := os.Rename(app, app+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, app, 25000, 30000)
	bargetest.WaitRecords(t, out, 25001, 60*time.Second)
	p.Kill9()

	p = bargetest.StartCommand(t, bargeBin, dir, config, nil, "run")
	appendLines(t, app, 30000, 35000)
	const n = 35000
	waitDistinct(t, out, n, 60*time.Second)
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	dups := checkNoneLost(t, bargetest.ReadRecords(t, out), n)
	t.Logf("%d lines delivered after two kill -9, %d of them more than once", n, dups)
}

// waitDistinct polls dir (the output is the observable contract) until it
// holds n distinct seqs, or fails after timeout.
func waitDistinct(t *testing.T, dir string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		seen := map[any]bool{}
		for _, r := range bargetest.ReadRecords(t, dir) {
			seen[r["seq"]] = true
		}
		if len(seen) >= n {
			return
		}
		if time.Now().After(deadline) {
			var missing []int
			for i := 0; i < n && len(missing) < 5; i++ {
				if !seen[float64(i)] {
					missing = append(missing, i)
				}
			}
			t.Fatalf("after %v the output holds %d of %d lines; the first missing: %v", timeout, len(seen), n, missing)
		}
		<-tick.C
	}
}
