package buffer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func mark(src string, seq uint64) Mark {
	return Mark{Source: src, Seq: seq, Value: []byte("pos=" + strconv.FormatUint(seq, 10))}
}

func wantMarks(t *testing.T, b *Buffer, prefix string, want ...Mark) {
	t.Helper()
	got := b.Marks(prefix)
	if len(got) != len(want) {
		t.Fatalf("Marks(%q) = %v, want %v", prefix, got, want)
	}
	for i := range got {
		if got[i].Source != want[i].Source || got[i].Seq != want[i].Seq || !bytes.Equal(got[i].Value, want[i].Value) {
			t.Fatalf("Marks(%q) = %v, want %v", prefix, got, want)
		}
	}
}

// appendPart writes to the end of a chunk file the frame a marked append
// writes before its last one: what a kill -9 in the middle of that append
// leaves.
func appendPart(t *testing.T, path, tag string, e []byte, n int, m Mark) {
	t.Helper()
	fr := beginFrame(nil, tag, appendMark(nil, m))
	fr = append(fr, e...)
	fr = endFrame(fr, n, t0.UnixNano(), t0.UnixNano())
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(fr); err != nil {
		t.Fatal(err)
	}
}

func TestMarksCommittedWithTheirEntries(t *testing.T) {
	for _, typ := range []string{"file", "memory"} {
		t.Run(typ, func(t *testing.T) {
			ctx := context.Background()
			cfg := testConfig(t, typ)
			b, _ := open(t, cfg, &recorder{}, Options{})
			defer b.Close()
			for seq := uint64(1); seq <= 3; seq++ {
				if err := b.AppendMarked(ctx, "t", entries(2, t0, 10), mark("in\x00a", seq)); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.AppendMarked(ctx, "t", entries(1, t0, 10), mark("in\x00b", 7)); err != nil {
				t.Fatal(err)
			}
			if err := b.AppendMarked(ctx, "t", entries(1, t0, 10), mark("other", 1)); err != nil {
				t.Fatal(err)
			}
			// Nothing to append: nothing stored, the mark included.
			if err := b.AppendMarked(ctx, "t", nil, mark("in\x00a", 9)); err != nil {
				t.Fatal(err)
			}
			wantMarks(t, b, "in\x00", mark("in\x00a", 3), mark("in\x00b", 7))
			if st := b.Stats(); st.Records != 8 {
				t.Errorf("records %d, want 8", st.Records)
			}
			if typ == "memory" {
				return
			}
			crash(b)
			out := &recorder{}
			b2, rec := open(t, cfg, out, Options{})
			defer b2.Close()
			if rec.Uncommitted != 0 || rec.Corrupt != 0 {
				t.Errorf("recovery %+v", rec)
			}
			wantMarks(t, b2, "in\x00", mark("in\x00a", 3), mark("in\x00b", 7))
			if err := b2.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			if n := out.records(); n != 8 {
				t.Errorf("flushed %d records, want 8", n)
			}
		})
	}
}

func TestMarksOutliveTheirChunks(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t, "file")
	out := &recorder{}
	b, _ := open(t, cfg, out, Options{})
	if err := b.AppendMarked(ctx, "t", entries(3, t0, 10), mark("src", 41)); err != nil {
		t.Fatal(err)
	}
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if files := chunkFiles(t, cfg.Path, "*.chunk"); len(files) != 0 || out.records() != 3 {
		t.Fatalf("after drain: files %v, %d records flushed", files, out.records())
	}
	b2, _ := open(t, cfg, &recorder{}, Options{})
	defer b2.Close()
	wantMarks(t, b2, "", mark("src", 41))
}

// TestUncommittedFramesDropped plays a kill -9 in the middle of a marked
// append that spans two chunks (record key chunk keys): its first frame
// reached one file, its last never did. Recovery drops that frame and
// keeps the committed ones, and the mark is the one before.
func TestUncommittedFramesDropped(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t, "file")
	cfg.ChunkKeys = []string{"k"}
	b, _ := open(t, cfg, &recorder{}, Options{})
	both := entry(entry(nil, t0, "k", "a"), t0, "k", "b")
	if err := b.AppendMarked(ctx, "t", both, mark("src", 1)); err != nil {
		t.Fatal(err)
	}
	files := chunkFiles(t, cfg.Path, "b*.chunk")
	if len(files) != 2 {
		t.Fatalf("chunk files %v", files)
	}
	crash(b)
	appendPart(t, files[0], "t", entry(nil, t0, "k", "x"), 1, mark("src", 2))
	out := &recorder{}
	b2, rec := open(t, cfg, out, Options{})
	defer b2.Close()
	if rec.Uncommitted != 1 || rec.Chunks != 2 || rec.Corrupt != 0 {
		t.Errorf("recovery %+v, want 1 uncommitted record dropped", rec)
	}
	wantMarks(t, b2, "", mark("src", 1))
	if err := b2.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := out.records(); n != 2 {
		t.Errorf("flushed %d records, want the 2 committed", n)
	}
	// The dropped frame is gone from the file, not only skipped.
	for _, f := range chunkFiles(t, cfg.Path, "*.chunk") {
		t.Errorf("chunk file left after drain: %s", f)
	}
}

// TestUncommittedAloneRemovesTheChunk: a chunk that holds nothing but the
// frames of an append that never returned goes away whole.
func TestUncommittedAloneRemovesTheChunk(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t, "file")
	b, _ := open(t, cfg, &recorder{}, Options{})
	if err := b.Append(ctx, "t", entries(1, t0, 10)); err != nil { // creates the file
		t.Fatal(err)
	}
	crash(b)
	path := chunkFiles(t, cfg.Path, "b*.chunk")[0]
	// Cut it back to its header, then add the torn append.
	c, _ := readChunkFile(t, path)
	hdr := encodeHeader(c, false, false)
	if err := os.WriteFile(path, hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	appendPart(t, path, "t", entries(2, t0, 10), 2, mark("src", 5))
	b2, rec := open(t, cfg, &recorder{}, Options{})
	defer b2.Close()
	if rec.Uncommitted != 2 || rec.Chunks != 0 {
		t.Errorf("recovery %+v", rec)
	}
	if files := chunkFiles(t, cfg.Path, "*.chunk"); len(files) != 0 {
		t.Errorf("files left: %v", files)
	}
	if m := b2.Marks(""); len(m) != 0 {
		t.Errorf("marks %v, want none", m)
	}
}

// TestUncommittedFollowedByFramesKept: frames of an append that failed in a
// process that went on are followed by later frames; they are kept (a
// possible duplicate, never a loss of what follows).
func TestUncommittedFollowedByFramesKept(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t, "file")
	b, _ := open(t, cfg, &recorder{}, Options{})
	if err := b.AppendMarked(ctx, "t", entries(1, t0, 10), mark("src", 1)); err != nil {
		t.Fatal(err)
	}
	path := chunkFiles(t, cfg.Path, "b*.chunk")[0]
	crash(b)
	appendPart(t, path, "t", entries(1, t0, 10), 1, mark("src", 2))
	// A plain frame after it, as a later Append of the same process writes.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(appendFrame(nil, "t", entries(1, t0, 10), 1, t0.UnixNano(), t0.UnixNano()))
	f.Close()
	out := &recorder{}
	b2, rec := open(t, cfg, out, Options{})
	defer b2.Close()
	if rec.Uncommitted != 0 {
		t.Errorf("recovery %+v", rec)
	}
	if err := b2.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := out.records(); n != 3 {
		t.Errorf("flushed %d records, want 3", n)
	}
}

func TestAppendMarkedRefuses(t *testing.T) {
	ctx := context.Background()
	b, _ := open(t, testConfig(t, "memory"), &recorder{}, Options{})
	defer b.Close()
	for name, m := range map[string]Mark{
		"no source":   {Seq: 1},
		"long source": {Source: string(make([]byte, maxMarkSource+1))},
		"long value":  {Source: "s", Value: make([]byte, maxMarkValue+1)},
	} {
		if err := b.AppendMarked(ctx, "t", entries(1, t0, 10), m); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	big := entries(batchEntries+1, t0, 1)
	if err := b.AppendMarked(ctx, "t", big, mark("s", 1)); err == nil {
		t.Error("a marked append of more than one batch was accepted")
	}
	if st := b.Stats(); st.Records != 0 {
		t.Errorf("%d records stored by refused appends", st.Records)
	}
}

func TestUnreadableMarksFileMovedAside(t *testing.T) {
	cfg := testConfig(t, "file")
	if err := os.MkdirAll(cfg.Path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.Path, marksName), []byte("not marks\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logs, lg := newLogSink(t)
	b, _ := open(t, cfg, &recorder{}, Options{Logger: lg})
	defer b.Close()
	if len(logs.find("unreadable marks file")) != 1 {
		t.Error("no log line for the unreadable marks file")
	}
	if _, err := os.Stat(filepath.Join(cfg.Path, "corrupt", marksName)); err != nil {
		t.Errorf("not moved to corrupt/: %v", err)
	}
}

func TestMarksFileDropsOldMarks(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t, "file")
	clk := &fakeClock{now: t0, added: make(chan struct{}, 1)}
	b, _ := open(t, cfg, &recorder{}, Options{Clock: clk})
	defer b.Close()
	if err := b.AppendMarked(ctx, "t", entries(1, t0, 10), mark("old", 1)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(marksKeep + time.Hour)
	if err := b.AppendMarked(ctx, "u", entries(1, t0, 10), mark("new", 1)); err != nil {
		t.Fatal(err)
	}
	// "old"'s chunk is still held: its mark stays.
	b.snapshotMarks()
	wantMarks(t, b, "", mark("new", 1), mark("old", 1))
	b.mu.Lock()
	for _, c := range b.staged {
		c.Created = clk.Now()
	}
	b.mu.Unlock()
	b.snapshotMarks()
	wantMarks(t, b, "", mark("new", 1))
}

func FuzzParseMarks(f *testing.F) {
	b := &Buffer{marks: map[string]markState{}, clock: realClock{}}
	b.marks["tail\x00/var/log/a.log"] = markState{seq: 12, value: []byte("x\ty\n"), at: t0}
	f.Add(b.snapshotMarks())
	f.Add([]byte(marksHeader + "\n1\t2\t\"s\"\t00\n"))
	f.Add([]byte(marksHeader + "\n1\t2\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := &Buffer{marks: map[string]markState{}, clock: realClock{}}
		if err := b.parseMarks(data); err != nil {
			return
		}
		// What parses is written back the same.
		again := &Buffer{marks: map[string]markState{}, clock: realClock{}}
		if err := again.parseMarks(b.snapshotMarks()); err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if len(again.marks) != len(b.marks) {
			t.Fatalf("%d marks, then %d", len(b.marks), len(again.marks))
		}
	})
}
