package tail

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const killPaths = 50

// TestKillChild is the process TestKill kills: it moves the positions of
// killPaths files on, all to the same offset, and syncs, forever, printing
// each offset synced.
func TestKillChild(t *testing.T) {
	path := os.Getenv("TAIL_KILL_POS")
	if path == "" {
		t.Skip("not a test of its own: the process TestKill kills")
	}
	s, _, err := OpenFile(path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	off := int64(0)
	for _, e := range s.Entries() {
		off = max(off, e.Offset)
	}
	for {
		off++
		for i := range killPaths {
			p := fmt.Sprintf("/var/log/pod-%02d/container.log", i)
			if err := s.Set(entry(p, off, p)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("synced %d\n", off)
	}
}

// TestKill kills (kill -9) a process writing the pos_file in a loop, at
// whatever step of a write it is in, and reopens: the positions are those
// of one whole Sync, never older than the last Sync that returned.
func TestKill(t *testing.T) {
	pos := filepath.Join(t.TempDir(), "tail.pos")
	last := int64(0)
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$")
		cmd.Env = append(os.Environ(), "TAIL_KILL_POS="+pos)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		synced := int64(0)
		for n := 0; n < 5+round*7 && sc.Scan(); n++ {
			off, err := strconv.ParseInt(strings.TrimPrefix(sc.Text(), "synced "), 10, 64)
			if err != nil {
				t.Fatalf("child says %q", sc.Text())
			}
			synced = off
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait() // killed: its error is expected
		if synced <= last {
			t.Fatalf("round %d: the child synced nothing new (%d)", round, synced)
		}
		logs := &logBuf{}
		s, rec, err := OpenFile(pos, FileOptions{Logger: logs.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		es := s.Entries()
		if len(es) != killPaths || len(rec.MovedAside) > 0 || rec.Salvaged > 0 {
			t.Fatalf("round %d: %d positions, recovery %+v\n%s", round, len(es), rec, logs)
		}
		for _, e := range es {
			if e.Offset != es[0].Offset || e.Offset < synced {
				t.Fatalf("round %d: %s at %d, first at %d, last synced %d", round, e.Path, e.Offset, es[0].Offset, synced)
			}
		}
		t.Logf("round %d: killed after sync %d, recovered %d from %s %s", round, synced, es[0].Offset, filepath.Base(rec.From), strings.TrimSpace(logs.String()))
		last = es[0].Offset
	}
}
