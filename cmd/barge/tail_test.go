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
)

// tailConfig tails dir/logs/app.log (JSON lines) into zstd files under
// dir/out, with its positions in dir/tail.pos.
func tailConfig(dir string) string {
	return tailConfigBuffer(dir, "flush_interval 200ms")
}

// tailConfigBuffer is tailConfig with buffer parameters of its own.
func tailConfigBuffer(dir, buffer string) string {
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
    %[2]s
  </buffer>
</match>
`, dir, buffer)
}

// appendLines appends {"seq":i} for i in from..to-1 to path.
func appendLines(t *testing.T, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 64<<10)
	for i := from; i < to; i++ {
		fmt.Fprintf(w, "{\"seq\":%d,\"msg\":\"line %d of the tail test\"}\n", i, i)
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		t.Fatal(err)
	}
}

// checkNoneLost fails unless recs hold every seq in [0, n), and returns
// how many were delivered more than once.
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

// TestTailKill9AcrossRotationExactlyOnce tails a file that grows, is
// rotated by rename while barge runs, and keeps growing, with barge killed
// with kill -9 twice (once mid-file, once right after the rotation) and
// restarted: every line reaches the output, once.
func TestTailKill9AcrossRotationExactlyOnce(t *testing.T) {
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
	if dups := checkNoneLost(t, bargetest.ReadRecords(t, out), n); dups != 0 {
		t.Fatalf("%d of %d lines delivered more than once after two kill -9", dups, n)
	}
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

// stagedBytes is the size of the buffer's chunk files under dir/buffer.
func stagedBytes(t *testing.T, dir string) int64 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "buffer", "*.chunk"))
	var n int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// killWhen kills p with kill -9 as soon as cond holds (polled), failing
// the test when it never does.
func killWhen(t *testing.T, p *bargetest.Proc, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never reached: %s", what)
		}
		<-tick.C
	}
	p.Kill9()
}

// TestTailKill9MidReadExactlyOnce kills barge with kill -9 while it is
// part way through a large file (its buffer growing), once right after a
// rename rotation, once with a rotation and a new file made while it is
// stopped, then rotates by copytruncate: every line reaches the output
// exactly once (the buffer keeps each position with the lines it covers).
func TestTailKill9MidReadExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(logs, "app.log")
	out := filepath.Join(dir, "out")
	// Until the last start nothing is flushed and no chunk fills: the
	// staged chunk grows with what barge reads, and tells the test when
	// to kill.
	config := tailConfigBuffer(dir, "flush_interval 1h\n    chunk_limit_size 256m")
	start := func() *bargetest.Proc { return bargetest.StartCommand(t, bargeBin, dir, config, nil, "run") }
	more := func(n int64) (string, func() bool) {
		before := stagedBytes(t, dir)
		return fmt.Sprintf("%d more bytes buffered", n), func() bool { return stagedBytes(t, dir) >= before+n }
	}

	// 1. Mid-read: the buffer holds part of the file.
	appendLines(t, app, 0, 200000)
	p := start()
	killWhen(t, p, "1 MiB buffered", func() bool { return stagedBytes(t, dir) >= 1<<20 })

	// 2. Rotated by rename right after the start, the new file growing.
	what, cond := more(2 << 20)
	p = start()
	if err := os.Rename(app, app+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, app, 200000, 300000)
	killWhen(t, p, what, cond)

	// 3. Killed mid-read again; rotated, and a new file written, while
	// stopped: the renamed file is found by its fingerprint.
	appendLines(t, app, 300000, 400000)
	what, cond = more(1 << 20)
	p = start()
	killWhen(t, p, what, cond)
	if err := os.Rename(app, app+".2"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, app, 400000, 450000)

	// 4. Copytruncate once caught up (lines written between the copy and
	// the truncation are lost to every tailer: logrotate's own caveat).
	p = start()
	waitCaughtUp(t, filepath.Join(dir, "tail.pos"), app)
	data, err := os.ReadFile(app)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(app+".3", data, 0o644); err != nil {
		t.Fatal(err)
	}
	what, cond = more(1)
	if err := os.Truncate(app, 0); err != nil {
		t.Fatal(err)
	}
	appendLines(t, app, 450000, 460000)
	killWhen(t, p, "lines after the truncation: "+what, cond)

	// The last start flushes.
	config = tailConfig(dir)
	p = start()
	const n = 460000
	waitDistinct(t, out, n, 120*time.Second)
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if dups := checkNoneLost(t, bargetest.ReadRecords(t, out), n); dups != 0 {
		t.Fatalf("%d of %d lines delivered more than once after four kill -9", dups, n)
	}
}

// waitCaughtUp polls the pos_file (written once a second) until the
// position of path is its size.
func waitCaughtUp(t *testing.T, posFile, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s\t%016x\t", path, fi.Size())
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		b, _ := os.ReadFile(posFile)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never at the end of %s (%d bytes):\n%s", posFile, path, fi.Size(), b)
		}
		<-tick.C
	}
}
