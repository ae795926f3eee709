package buffer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRecoverStagedAndQueued(t *testing.T) {
	cfg := testConfig(t, "file")
	cfg.ChunkKeys = []string{"tag", "time", "user"}
	cfg.TimeKey = time.Hour
	cfg.TimeKeyUseUTC = true
	cfg.FlushMode = "lazy"
	ctx := context.Background()
	// "kill -9": the first buffer is never closed before the second opens
	// (only its directory lock is released, as the kernel does).
	b1, _ := open(t, cfg, &recorder{}, Options{})
	defer b1.Close()
	if err := b1.Append(ctx, "a", entry(entry(nil, t0, "user", "u1"), t0.Add(time.Second), "user", "u1")); err != nil {
		t.Fatal(err)
	}
	if err := b1.Append(ctx, "b", entry(nil, t0, "user", "u2")); err != nil {
		t.Fatal(err)
	}
	staged := chunkFiles(t, cfg.Path, "b*.chunk")
	if len(staged) != 2 {
		t.Fatalf("staged files %v", staged)
	}
	// One of them was queued before the crash.
	q := filepath.Join(cfg.Path, "q"+filepath.Base(staged[0])[1:])
	if err := os.Rename(staged[0], q); err != nil {
		t.Fatal(err)
	}
	crash(b1)
	out := &recorder{}
	b2, rec := open(t, cfg, out, Options{})
	defer b2.Close()
	if rec.Chunks != 2 || rec.Corrupt != 0 || rec.Bytes == 0 {
		t.Errorf("recovery %+v", rec)
	}
	if st := b2.Stats(); st.StagedChunks != 1 || st.QueuedChunks != 1 || st.StagedBytes+st.QueuedBytes != rec.Bytes {
		t.Errorf("stats %+v", st)
	}
	// Appending to the recovered staged chunk's metadata continues it.
	other := "b"
	if filepath.Base(staged[0]) == filepath.Base(chunkFiles(t, cfg.Path, "b*.chunk")[0]) {
		t.Fatal("rename did not happen")
	}
	if err := b2.Append(ctx, other, entry(nil, t0.Add(2*time.Second), "user", "u2")); err != nil {
		t.Fatal(err)
	}
	if err := b2.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	got := out.got()
	total := 0
	for _, c := range got {
		total += c.Records
		if c.Tag == "" || c.Keys["user"] == "" || !c.TimeKey.Equal(t0) {
			t.Errorf("recovered metadata %+v", c.Chunk)
		}
		if c.Tag == "a" && (c.Records != 2 || !c.First.Equal(t0) || !c.Last.Equal(t0.Add(time.Second))) {
			t.Errorf("chunk a: %+v", c.Chunk)
		}
	}
	if total != 4 || len(got) > 3 {
		t.Errorf("flushed %d chunks with %d records", len(got), total)
	}
}

func TestRecoverTornTail(t *testing.T) {
	damages := []struct {
		name   string
		damage func(t *testing.T, path string, lastFrame int64)
	}{
		{"truncated", func(t *testing.T, path string, _ int64) {
			if err := os.Truncate(path, fileSize(t, path)-5); err != nil {
				t.Fatal(err)
			}
		}},
		{"crc mismatch", func(t *testing.T, path string, lastFrame int64) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte{0xff, 0xee}, lastFrame+40); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage appended", func(t *testing.T, path string, _ int64) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.Write(bytes.Repeat([]byte{0}, 100))
		}},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			cfg := testConfig(t, "file")
			cfg.FlushMode = "lazy"
			ctx := context.Background()
			b1, _ := open(t, cfg, &recorder{}, Options{})
			var lastFrame int64
			for i := range 3 {
				if i == 2 {
					lastFrame = fileSize(t, chunkFiles(t, cfg.Path, "b*.chunk")[0])
				}
				if err := b1.Append(ctx, "t", entries(5, t0, 20)); err != nil {
					t.Fatal(err)
				}
			}
			b1.Close()
			path := chunkFiles(t, cfg.Path, "b*.chunk")[0]
			size := fileSize(t, path)
			d.damage(t, path, lastFrame)
			damaged := fileSize(t, path)

			out := &recorder{}
			b2, rec := open(t, cfg, out, Options{})
			defer b2.Close()
			wantRecords := 10
			if d.name == "garbage appended" {
				wantRecords = 15
				lastFrame = size
			}
			if rec.Chunks != 1 || rec.Corrupt != 1 {
				t.Errorf("recovery %+v", rec)
			}
			if got := fileSize(t, path); got != lastFrame {
				t.Errorf("kept %d bytes, want the %d-byte valid prefix", got, lastFrame)
			}
			tails := chunkFiles(t, filepath.Join(cfg.Path, "corrupt"), "*.tail-*")
			if len(tails) != 1 || fileSize(t, tails[0]) != damaged-lastFrame {
				t.Errorf("corrupt/ holds %v, want the %d-byte tail", tails, damaged-lastFrame)
			}
			if err := b2.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			if out.records() != wantRecords {
				t.Errorf("flushed %d records, want %d", out.records(), wantRecords)
			}
		})
	}
}

func TestRecoverUnreadable(t *testing.T) {
	cfg := testConfig(t, "file")
	if err := os.MkdirAll(cfg.Path, 0o755); err != nil {
		t.Fatal(err)
	}
	id := "0123456789abcdef0123456789abcdef"
	files := map[string][]byte{
		"b" + id + ".chunk": []byte("this is not a chunk"),
		"q" + id + ".chunk": append([]byte("BRGC\x01\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00"), "hello"...),
		"bnot-an-id.chunk":  nil,
		"notes.txt":         []byte("left alone"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(cfg.Path, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, rec := open(t, cfg, &recorder{}, Options{})
	defer b.Close()
	if rec.Corrupt != 3 || rec.Chunks != 0 {
		t.Errorf("recovery %+v", rec)
	}
	if n := len(chunkFiles(t, filepath.Join(cfg.Path, "corrupt"), "*")); n != 3 {
		t.Errorf("%d files in corrupt/, want 3", n)
	}
	if _, err := os.Stat(filepath.Join(cfg.Path, "notes.txt")); err != nil {
		t.Error("unrelated file touched:", err)
	}
}

func TestRecoverEmptyChunk(t *testing.T) {
	cfg := testConfig(t, "file")
	b1, _ := open(t, cfg, &recorder{}, Options{})
	c := &Chunk{ID: newID(), Created: t0}
	st, err := createFile(cfg.Path, c, false, false, false)
	if err != nil {
		t.Fatal(err)
	}
	st.close()
	b1.Close()
	b2, rec := open(t, cfg, &recorder{}, Options{})
	defer b2.Close()
	if rec != (Recovery{}) || len(chunkFiles(t, cfg.Path, "*.chunk")) != 0 {
		t.Errorf("recovery %+v of a header-only chunk", rec)
	}
}

func FuzzRecover(f *testing.F) {
	// Seeds: a valid chunk, a torn one, garbage.
	c := &Chunk{ID: "0123456789abcdef0123456789abcdef", Created: t0, Tag: "t", TimeKey: t0}
	valid := encodeHeader(c, true, true)
	valid = appendFrame(valid, "t", entries(2, t0, 10), 2, t0.UnixNano(), t0.UnixNano())
	valid = appendFrame(valid, "u", entries(1, t0, 10), 1, t0.UnixNano(), t0.UnixNano())
	f.Add(valid)
	// Marked frames: a committed append, then one cut short by a crash.
	marked := bytes.Clone(valid)
	for _, kind := range []byte{markCommit, markPart} {
		fr := beginFrame(nil, "t", appendMark(nil, Mark{Source: "s", Seq: uint64(kind), Value: []byte("v")}))
		fr[frameHead+frameFixed+1] = kind
		fr = endFrame(append(fr, entries(1, t0, 10)...), 1, t0.UnixNano(), t0.UnixNano())
		marked = append(marked, fr...)
	}
	f.Add(marked)
	f.Add(valid[:len(valid)-3])
	f.Add(valid[:20])
	f.Add([]byte("BRGC"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := testConfig(t, "file")
		if err := os.MkdirAll(cfg.Path, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(cfg.Path, "q0123456789abcdef0123456789abcdef.chunk")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out := &recorder{}
		b, rec := open(t, cfg, out, Options{Logger: logger(t)})
		defer b.Close()
		if rec.Chunks == 0 {
			if _, err := os.Stat(p); err == nil {
				t.Fatal("unrecovered file left in place")
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Drain(ctx); err != nil {
			t.Fatalf("drain: %v (flush calls %d)", err, len(out.callTimes()))
		}
		if int64(out.records()) == 0 && rec.Bytes > 0 {
			t.Errorf("recovered %d bytes but flushed nothing", rec.Bytes)
		}
	})
}

func TestRecoverSymlink(t *testing.T) {
	ctx := context.Background()
	// A chunk file outside the buffer, with a torn tail that recovery
	// would cut if it followed a link to it.
	elsewhere := testConfig(t, "file")
	b0, _ := open(t, elsewhere, &recorder{}, Options{})
	if err := b0.Append(ctx, "t", entries(3, t0, 10)); err != nil {
		t.Fatal(err)
	}
	b0.Close()
	target := chunkFiles(t, elsewhere.Path, "b*.chunk")[0]
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("torn"))
	f.Close()
	before, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(t, "file")
	if err := os.MkdirAll(cfg.Path, 0o755); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		filepath.Base(target):                     target,
		"q0123456789abcdef0123456789abcdef.chunk": "/nonexistent/q.chunk",
	}
	for name, to := range links {
		if err := os.Symlink(to, filepath.Join(cfg.Path, name)); err != nil {
			t.Fatal(err)
		}
	}
	sink, lg := newLogSink(t)
	out := &recorder{}
	b, rec := open(t, cfg, out, Options{Logger: lg})
	defer b.Close()
	if rec.Chunks != 0 || rec.Corrupt != 2 {
		t.Errorf("recovery %+v, want the 2 links moved aside", rec)
	}
	if after, err := os.ReadFile(target); err != nil || !bytes.Equal(after, before) {
		t.Errorf("link target changed (%d -> %d bytes): %v", len(before), len(after), err)
	}
	if left := chunkFiles(t, cfg.Path, "*.chunk"); len(left) != 0 {
		t.Errorf("left in the buffer: %v", left)
	}
	for name, to := range links {
		p := filepath.Join(cfg.Path, "corrupt", name)
		if got, err := os.Readlink(p); err != nil || got != to {
			t.Errorf("corrupt/%s: link to %q (%v), want the link itself, to %q", name, got, err, to)
		}
	}
	if n := len(sink.find("chunk entry that is not a regular file")); n != 2 {
		t.Errorf("%d log lines about the links, want 2", n)
	}
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if out.records() != 0 {
		t.Errorf("flushed %d records through a link", out.records())
	}
}

func TestRecoverDuplicateID(t *testing.T) {
	tests := []struct {
		name string
		copy func(id string) string // the name of the copy of b<id>.chunk
	}{
		{"staged and queued copies", func(id string) string { return "q" + id + ".chunk" }},
		// A renumbering interrupted after its rename: the name holds
		// the new id, the header still the old one.
		{"copy under another id", func(string) string { return "q00112233445566778899aabbccddeeff.chunk" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, "file")
			cfg.FlushMode = "lazy"
			ctx := context.Background()
			b1, _ := open(t, cfg, &recorder{}, Options{})
			if err := b1.Append(ctx, "t", entries(3, t0, 10)); err != nil {
				t.Fatal(err)
			}
			b1.Close()
			orig := chunkFiles(t, cfg.Path, "b*.chunk")[0]
			id := filepath.Base(orig)[1:33]
			data, err := os.ReadFile(orig)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(cfg.Path, tt.copy(id)), data, 0o644); err != nil {
				t.Fatal(err)
			}
			out := &recorder{}
			b2, rec := open(t, cfg, out, Options{})
			defer b2.Close()
			if rec.Chunks != 2 || rec.Corrupt != 0 {
				t.Errorf("recovery %+v, want both files", rec)
			}
			ids := map[string]bool{}
			for _, p := range chunkFiles(t, cfg.Path, "*.chunk") {
				c, frames := readChunkFile(t, p)
				if name := filepath.Base(p)[1:33]; c.ID != name {
					t.Errorf("%s: header id %s", p, c.ID)
				}
				if c.Records != 3 || len(frames) != 1 {
					t.Errorf("%s: %d records in %d frames", p, c.Records, len(frames))
				}
				ids[c.ID] = true
			}
			if len(ids) != 2 || !ids[id] {
				t.Errorf("ids on disk %v, want %s and another", ids, id)
			}
			if err := b2.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			got := out.got()
			if len(got) != 2 || got[0].ID == got[1].ID || out.records() != 6 {
				t.Errorf("flushed %d chunks (%d records), want 2 with distinct ids", len(got), out.records())
			}
		})
	}
}
