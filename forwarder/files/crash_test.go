package files

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

// fileSink appends each batch to a file with one write(2), as the file
// buffer does, framed by its length: what Append acknowledged survives a
// kill -9 of the process.
type fileSink struct{ f *os.File }

func (s fileSink) Append(_ context.Context, _ string, entries []byte) error {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(entries)), uint32(len(entries)))
	_, err := s.f.Write(append(b, entries...))
	return err
}

// crashInput ships dir/in/* to the sink file dir/sink-NAME, with the
// pos_file in dir/state.
func crashInput(t *testing.T, dir, name string) (*Input, *os.File) {
	f, err := os.OpenFile(filepath.Join(dir, "sink-"+name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Path, cfg.Tag, cfg.SettleTime = []string{filepath.Join(dir, "in", "*")}, "t", 0
	cfg.PosFile = filepath.Join(dir, "state", "files.pos")
	cfg.Parse.Type = "ndjson"
	in, err := New(cfg, fileSink{f}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Listen(); err != nil {
		t.Fatal(err)
	}
	return in, f
}

// TestKillChild is the process TestKill kills: it ships and exits.
func TestKillChild(t *testing.T) {
	dir := os.Getenv("FILES_KILL_DIR")
	if dir == "" {
		t.Skip("run by TestKill")
	}
	in, f := crashInput(t, dir, os.Getenv("FILES_KILL_ROUND"))
	in.scan(t.Context())
	in.Close()
	f.Close()
}

// TestKill kills a process shipping a file (kill -9) at three points, then
// ships the rest: no record is lost, and each kill re-ships at most the
// batch appended before the ledger wrote it.
func TestKill(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: kills and restarts three child processes")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	const n = 300000
	data := ndjsonLines(1, n)
	if err := os.WriteFile(filepath.Join(dir, "in", "a.ndjson"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	kills := 0
	for round := range 3 {
		// kill once the sinks hold about a quarter more of the data
		if killAt(t, dir, round, int64(len(data))*int64(round+1)/4) {
			kills++
		}
	}
	in, f := crashInput(t, dir, "last")
	in.scan(t.Context())
	in.Close()
	f.Close()

	seen := make([]int, n+1)
	total := 0
	for _, name := range sinkFiles(t, dir) {
		for _, rec := range readSink(t, name) {
			seen[rec]++
			total++
		}
	}
	for i := 1; i <= n; i++ {
		if seen[i] == 0 {
			t.Fatalf("record %d lost (after %d kills)", i, kills)
		}
	}
	if dups := total - n; dups > kills*1000 {
		t.Fatalf("%d records shipped again after %d kills, want at most %d", dups, kills, kills*1000)
	}
	if kills == 0 {
		t.Log("no kill landed during the transfer")
	}
	t.Logf("%d kills, %d records shipped again", kills, total-n)
}

// killAt starts a child shipping, and kills it (kill -9) once the sink
// files hold target bytes. It reports whether the child was killed before
// it finished.
func killAt(t *testing.T, dir string, round int, target int64) bool {
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FILES_KILL_DIR="+dir, "FILES_KILL_ROUND="+strconv.Itoa(round))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			t.Logf("round %d: the child finished before the kill (%v)", round, err)
			return false
		case <-tick.C:
		}
		if sinkBytes(t, dir) >= target {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			return <-exited != nil
		}
	}
}

func sinkFiles(t *testing.T, dir string) []string {
	m, err := filepath.Glob(filepath.Join(dir, "sink-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sinkBytes(t *testing.T, dir string) int64 {
	var total int64
	for _, name := range sinkFiles(t, dir) {
		if fi, err := os.Stat(name); err == nil {
			total += fi.Size()
		}
	}
	return total
}

// readSink returns the field n of every record of a sink file, up to a
// frame torn by the kill.
func readSink(t *testing.T, name string) []int {
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for len(b) >= 4 {
		size := int(binary.BigEndian.Uint32(b))
		if len(b)-4 < size {
			break // torn by the kill: not acknowledged
		}
		entries := b[4 : 4+size]
		b = b[4+size:]
		for len(entries) > 0 {
			e, rest, err := event.Next(entries)
			if err != nil {
				t.Fatal(err)
			}
			m, _, err := msgp.ReadMapStrIntfBytes(e.Record, nil)
			if err != nil {
				t.Fatal(err)
			}
			v, ok := m["n"].(int64)
			if !ok {
				t.Fatalf("record without n: %v", m)
			}
			out = append(out, int(v))
			entries = rest
		}
	}
	return out
}
