package buffer

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// spoolOf runs a buffer of type typ until it flushes one chunk and returns
// a spool of that chunk, made inside Flush as an output makes it.
func spoolOf(t *testing.T, typ string) (*Spool, Config) {
	t.Helper()
	cfg := testConfig(t, typ)
	got := make(chan *Spool, 1)
	out := &recorder{fail: func(_ int, c *Chunk) error {
		s, err := c.Spool()
		if err != nil {
			t.Error(err)
		}
		got <- s
		return nil
	}}
	b, _ := open(t, cfg, out, Options{})
	h := runBuf(t, b, out)
	h.append("spool", entries(3, time.Now(), 100))
	b.FlushNow()
	var s *Spool
	select {
	case s = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("no flush in 30 s")
	}
	h.stop()
	if s == nil {
		t.FailNow()
	}
	t.Cleanup(func() { s.Close() })
	return s, cfg
}

// TestSpool writes in sizes around the write buffer and the memory blocks
// and reads back sections, for a file and a memory chunk; a file chunk's
// spool leaves no file in spool/ while it is open or after.
func TestSpool(t *testing.T) {
	for _, typ := range []string{"file", "memory"} {
		t.Run(typ, func(t *testing.T) {
			s, cfg := spoolOf(t, typ)
			rng := rand.New(rand.NewPCG(1, 2))
			var want []byte
			for _, n := range []int{0, 1, 100, spoolBlock - 101, spoolBlock, 3*spoolBlock + 7, 5, spoolBlock - 1, 64 << 10} {
				p := make([]byte, n)
				for i := range p {
					p[i] = byte(rng.Uint32())
				}
				if k, err := s.Write(p); err != nil || k != n {
					t.Fatalf("write %d: %d, %v", n, k, err)
				}
				want = append(want, p...)
			}
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			if s.Size() != int64(len(want)) {
				t.Fatalf("size %d, wrote %d", s.Size(), len(want))
			}
			for _, r := range [][2]int64{{0, int64(len(want))}, {1, 10}, {spoolBlock - 3, 6}, {spoolBlock, 2*spoolBlock + 1}, {int64(len(want)) - 5, 5}} {
				got, err := io.ReadAll(s.Section(r[0], r[1]))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want[r[0]:r[0]+r[1]]) {
					t.Fatalf("section %v differs", r)
				}
			}
			// Past the end: short, with io.EOF.
			p := make([]byte, 10)
			if n, err := s.ReadAt(p, int64(len(want))-4); n != 4 || err != io.EOF {
				t.Fatalf("read past the end: %d, %v", n, err)
			}
			if typ == "file" {
				if s.f == nil {
					t.Fatal("a file chunk's spool is in memory")
				}
				ents, err := os.ReadDir(filepath.Join(cfg.Path, spoolDir))
				if err != nil {
					t.Fatal(err)
				}
				if len(ents) != 0 {
					t.Fatalf("spool/ holds %d files while a spool is open; it has no name", len(ents))
				}
			} else if s.f != nil {
				t.Fatal("a memory chunk's spool is a file")
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Write([]byte("x")); err == nil {
				t.Fatal("write after close succeeded")
			}
		})
	}
}

// TestSpoolRecovery: what a crash left in spool/ is removed at the start.
func TestSpoolRecovery(t *testing.T) {
	cfg := testConfig(t, "file")
	dir := filepath.Join(cfg.Path, spoolDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dir, "spool-123")
	if err := os.WriteFile(left, []byte("half an object"), 0o600); err != nil {
		t.Fatal(err)
	}
	sink, lg := newLogSink(t)
	b, _ := open(t, cfg, &recorder{}, Options{Logger: lg})
	defer b.Close()
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Fatalf("spool file left by a crash is still there: %v", err)
	}
	if len(sink.find("removed a spool file")) != 1 {
		t.Fatal("the removal is not logged")
	}
}

// TestSpoolConcurrentReads reads the flushed part while Write goes on, as
// an upload's parts do, for both kinds (run with -race); a read after
// Close fails.
func TestSpoolConcurrentReads(t *testing.T) {
	for _, typ := range []string{"file", "memory"} {
		t.Run(typ, func(t *testing.T) {
			s, _ := spoolOf(t, typ)
			part := make([]byte, spoolBlock+17)
			for i := range part {
				part[i] = byte(i % 251)
			}
			errs := make(chan error, 8)
			for i := range 8 {
				if _, err := s.Write(part); err != nil {
					t.Fatal(err)
				}
				if err := s.Flush(); err != nil {
					t.Fatal(err)
				}
				off := int64(i) * int64(len(part))
				go func() {
					got, err := io.ReadAll(s.Section(off, int64(len(part))))
					if err == nil && !bytes.Equal(got, part) {
						err = io.ErrUnexpectedEOF
					}
					errs <- err
				}()
			}
			for range 8 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			if _, err := s.ReadAt(make([]byte, 1), 0); err == nil {
				t.Fatal("read after close succeeded")
			}
		})
	}
}
