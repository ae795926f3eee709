package tail

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// rotateAndCrash writes lines 0..49 to app.log and waits for them; renames
// app.log to app.log.1 and creates app.log, waits for the new file's
// position to be committed (it takes the path's); then blocks the sink,
// writes lines 50..59 to app.log.1 and 60..99 to app.log, syncs the
// positions while an Append is blocked and stops the tailer: the rest of
// app.log.1 was never delivered. It returns the records delivered.
func rotateAndCrash(t *testing.T, cfg Config) []string {
	t.Helper()
	path := filepath.Join(filepath.Dir(cfg.PosFile), "..", "app.log")
	w := openWriter(t, path)
	w.lines(0, 50)
	entered := make(chan struct{}, 1)
	sink := &recSink{entered: entered}
	tl, stop := start(t, cfg, sink, nil)
	waitFor(t, "50 lines", func() bool { return len(sink.messages()) >= 50 })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	w2 := openWriter(t, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	_, ino, _ := fileID(fi)
	waitFor(t, "the new file's position", func() bool {
		e, ok := position(tl, filepath.Clean(path))
		return ok && e.ID.Ino == ino
	})
	block := make(chan struct{})
	defer close(block)
	sink.mu.Lock()
	sink.block = block
	sink.mu.Unlock()
	for len(entered) > 0 {
		<-entered
	}
	w.lines(50, 60)
	w2.lines(60, 100)
	<-entered // an Append is blocked: nothing more is delivered
	if err := tl.store.Sync(); err != nil {
		t.Fatal(err)
	}
	stop()
	return sink.messages()
}

func TestTailRotatedRestLostNever(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.RotateWait = time.Hour // app.log.1 is still being read at the crash
	before := rotateAndCrash(t, cfg)
	sink := &recSink{}
	start(t, cfg, sink, nil)
	waitFor(t, "every line", func() bool { return len(before)+len(sink.messages()) >= 100 })
	all := append(before, sink.messages()...)
	slices.Sort(all)
	for i, v := range numbers(t, all) {
		if v != i || len(all) != 100 {
			t.Fatalf("got lines %v, want 0..99 once", numbers(t, all))
		}
	}
}

func TestTailRotatedDeletedWhileStopped(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.RotateWait = time.Hour
	path := filepath.Join(dir, "app.log")
	rotateAndCrash(t, cfg)
	if err := os.Remove(path + ".1"); err != nil {
		t.Fatal(err)
	}
	sink := &recSink{}
	tl, _ := start(t, cfg, sink, nil)
	waitFor(t, "app.log's 40 lines", func() bool { return len(sink.messages()) >= 40 })
	if n := numbers(t, sink.messages()); n[0] != 60 || len(n) != 40 {
		t.Fatalf("after restart got lines %v, want 60..99", n)
	}
	for _, e := range tl.store.Entries() {
		if _, ok := rotatedPath(e.Path); ok {
			t.Fatalf("position of a deleted rotated file kept: %q", e.Path)
		}
	}
}

func TestTailRotatedPositionDropped(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path)
	w.lines(0, 10)
	sink := &recSink{}
	tl, _ := start(t, cfg, sink, nil)
	waitFor(t, "10 lines", func() bool { return len(sink.messages()) >= 10 })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	openWriter(t, path).lines(10, 20)
	w.lines(20, 30)
	waitFor(t, "30 lines", func() bool { return len(sink.messages()) >= 30 })
	waitFor(t, "the rotated file let go", func() bool { return tl.Stats().Files == 1 })
	for _, e := range tl.store.Entries() {
		if e.Path != path {
			t.Fatalf("position %q kept after its file was read to its end", e.Path)
		}
	}
}

func TestTailFollowInodes(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Path = filepath.Join(dir, "app.log*")
	cfg.FollowInodes = true
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path)
	w.lines(0, 50)
	sink := &recSink{}
	tl, stop := start(t, cfg, sink, nil)
	waitFor(t, "50 lines", func() bool { return len(sink.messages()) >= 50 })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	w2 := openWriter(t, path)
	w.lines(50, 60)
	w2.lines(60, 100)
	waitFor(t, "both files followed by path", func() bool {
		e, ok := position(tl, path+".1")
		return ok && e.Offset == 60*int64(len("line 000000\n")) && tl.Stats().Files == 2
	})
	waitFor(t, "100 lines", func() bool { return len(sink.messages()) >= 100 })
	stop()
	checkOnce(t, sink.messages(), 100, 60)

	sink2 := &recSink{}
	start(t, cfg, sink2, nil)
	w.lines(100, 101)
	w2.lines(101, 102)
	waitFor(t, "2 lines", func() bool { return len(sink2.messages()) >= 2 })
	msgs := sink2.messages()
	slices.Sort(msgs)
	if n := numbers(t, msgs); len(n) != 2 || n[0] != 100 || n[1] != 101 {
		t.Fatalf("after restart got lines %v, want 100 and 101", n)
	}
}

// A rotated file's key is written so that Fluentd's loader takes the line
// (and, finding no such path, drops it), and read back as it was.
func TestRotatedKeyPosFile(t *testing.T) {
	id := Identity{Dev: 0x803, Ino: 0x83f11, FP: NewFingerprint([]byte("line 1\n"))}
	key := rotatedKey("/var/log/app.log", id)
	if p, ok := rotatedPath(key); !ok || p != "/var/log/app.log" {
		t.Fatalf("rotatedPath(%q) = %q, %v", key, p, ok)
	}
	for _, bad := range []string{"/var/log/app.log", "a\x00rotated:1:2", "\x00rotated:" + strings.Repeat("0", 16) + ":" + strings.Repeat("0", 16)} {
		if _, ok := rotatedPath(bad); ok {
			t.Errorf("rotatedPath(%q) ok", bad)
		}
	}
	if err := (Entry{Path: "a\x00b", ID: id}).check(); err == nil {
		t.Error("a path with a NUL accepted")
	}
	entries := map[string]Entry{key: {Path: key, Offset: 600, ID: id}}
	b := encodePositions(1, 0, entries)
	fluentd := regexp.MustCompile("^([^\t]+)\t([0-9a-fA-F]+)\t([0-9a-fA-F]+)")
	line, _, _ := strings.Cut(string(b), "\n")
	if !fluentd.MatchString(line) || strings.IndexByte(line, 0) >= 0 {
		t.Fatalf("line %q: not one Fluentd's loader takes", line)
	}
	pf, err := decodePositions(b)
	if err != nil {
		t.Fatal(err)
	}
	if e := pf.entries[key]; e.Offset != 600 || e.ID.Ino != id.Ino || e.ID.Dev != id.Dev || e.ID.FP.Sum != id.FP.Sum {
		t.Fatalf("read back %+v", e)
	}
}
