package buffer

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// fill writes a file of n bytes (n < 0: until the filesystem is full).
func fill(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for written := 0; n < 0 || written < n; written += len(buf) {
		if _, err := f.Write(buf); err != nil {
			if n < 0 && errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

// readRecords counts the entries Chunk.Open streams back.
func readRecords(t *testing.T, c *Chunk) int {
	t.Helper()
	r, err := c.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := 0
	for {
		_, e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("read chunk %s: %v", c.ID, err)
		}
		for len(e) > 0 {
			if e, err = msgp.Skip(e); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
}

func onlyStaged(t *testing.T, b *Buffer) *Chunk {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.staged) != 1 {
		t.Fatalf("%d staged chunks, want 1", len(b.staged))
	}
	for _, c := range b.staged {
		return c
	}
	return nil
}

func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	batch := entries(10, t0, 1000) // about 10 KB
	t.Run("frame", func(t *testing.T) {
		dir := mountTmpfs(t, 0, "size=256k")
		cfg := DefaultConfig("file")
		cfg.Path = filepath.Join(dir, "buf")
		cfg.FlushMode = "lazy"
		sink, lg := newLogSink(t)
		out := &recorder{}
		b, _ := open(t, cfg, out, Options{Logger: lg})
		defer b.Close()
		filler := filepath.Join(dir, "filler") // most of the disk is someone else's
		fill(t, filler, 160<<10)
		appended := 0
		var err error
		for range 100 {
			if err = b.Append(ctx, "t", batch); err != nil {
				break
			}
			appended += 10
		}
		if !errors.Is(err, syscall.ENOSPC) || appended == 0 {
			t.Fatalf("after %d records: %v, want ENOSPC", appended, err)
		}
		if err := b.Append(ctx, "t", batch); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("second append on a full disk: %v", err)
		}
		if st := b.Stats(); st.WriteErrors != 2 || st.DiskFull != 1 || st.Records != int64(appended) {
			t.Errorf("stats %+v, want 2 write errors in 1 disk-full episode, %d records", st, appended)
		}
		logs := sink.find("buffer disk full")
		if len(logs) != 1 || logs[0]["path"] != cfg.Path || logs[0]["free_bytes"] == "" || logs[0]["free_bytes"] == "-1" {
			t.Errorf("disk-full log lines %v, want one with the path and the free bytes", logs)
		}
		// The failed writes were cut off: the file ends at its last good
		// frame and every record of a successful Append reads back.
		c := onlyStaged(t, b)
		fs := c.st.(*fileStore)
		if size := fileSize(t, fs.path); size != fs.size.Load() {
			t.Errorf("chunk file of %d bytes, valid data %d", size, fs.size.Load())
		}
		if n := readRecords(t, c); n != appended {
			t.Errorf("chunk reads back %d records, want %d", n, appended)
		}
		// Space comes back: appends resume, no reopen.
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		if err := b.Append(ctx, "t", batch); err != nil {
			t.Fatalf("append after space was freed: %v", err)
		}
		appended += 10
		if n := len(sink.find("buffer disk writable again")); n != 1 {
			t.Errorf("%d end-of-episode log lines, want 1", n)
		}
		if err := b.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if out.records() != appended {
			t.Errorf("flushed %d records, want %d", out.records(), appended)
		}
		if st := b.Stats(); st.DiskFull != 1 || st.WriteErrors != 2 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("new chunk header", func(t *testing.T) {
		dir := mountTmpfs(t, 0, "size=256k")
		cfg := DefaultConfig("file")
		cfg.Path = filepath.Join(dir, "buf")
		cfg.FlushMode = "lazy"
		out := &recorder{}
		b, _ := open(t, cfg, out, Options{})
		defer b.Close()
		filler := filepath.Join(dir, "filler")
		fill(t, filler, -1)
		if err := b.Append(ctx, "t", batch); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("append on a full disk: %v", err)
		}
		if left := chunkFiles(t, cfg.Path, "*.chunk"); len(left) != 0 {
			t.Errorf("a chunk whose header could not be written was left: %v", left)
		}
		if st := b.Stats(); st.WriteErrors != 1 || st.DiskFull != 1 || st.StagedChunks != 0 {
			t.Errorf("stats %+v", st)
		}
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		if err := b.Append(ctx, "t", batch); err != nil {
			t.Fatalf("append after space was freed: %v", err)
		}
		if err := b.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if out.records() != 10 {
			t.Errorf("flushed %d records, want 10", out.records())
		}
	})
}

// TestTornWriteSealsChunk covers a failed write whose cut-back fails too:
// the bytes past the valid end are never read and the chunk takes no more
// frames. The chunk's descriptor is swapped for a read-only one, on which
// both pwrite(2) and ftruncate(2) fail, after a whole valid frame was
// added past the valid end through another descriptor (what a torn write
// that happened to be complete would leave).
func TestTornWriteSealsChunk(t *testing.T) {
	cfg := testConfig(t, "file")
	cfg.FlushMode = "lazy"
	out := &recorder{}
	b, _ := open(t, cfg, out, Options{})
	defer b.Close()
	ctx := context.Background()
	if err := b.Append(ctx, "t", entries(3, t0, 10)); err != nil {
		t.Fatal(err)
	}
	c := onlyStaged(t, b)
	fs := c.st.(*fileStore)
	w, err := os.OpenFile(fs.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	e := entries(4, t0, 10)
	if _, err := w.Write(appendFrame(nil, "t", e, 4, t0.UnixNano(), t0.UnixNano())); err != nil {
		t.Fatal(err)
	}
	w.Close()
	ro, err := os.Open(fs.path)
	if err != nil {
		t.Fatal(err)
	}
	fs.f.Close()
	fs.f = ro
	if err := b.Append(ctx, "t", entries(5, t0, 10)); !errors.Is(err, errTornWrite) {
		t.Fatalf("append to a chunk that cannot be cut back: %v", err)
	}
	if st := b.Stats(); st.StagedChunks != 0 || st.QueuedChunks != 1 || st.WriteErrors != 1 || st.DiskFull != 0 {
		t.Errorf("stats %+v, want the chunk sealed (queued)", st)
	}
	if err := b.Append(ctx, "t", entries(2, t0, 10)); err != nil {
		t.Fatalf("append after the chunk was sealed: %v", err)
	}
	if next := onlyStaged(t, b); next == c {
		t.Error("the sealed chunk took the next append")
	}
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	got := out.got()
	if len(got) != 2 || out.records() != 3+2 {
		t.Errorf("flushed %d chunks with %d records, want 2 with 5 (nothing past the valid end)", len(got), out.records())
	}
}
