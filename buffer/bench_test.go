package buffer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer/event"
)

type nullFlusher struct{}

func (nullFlusher) Flush(context.Context, *Chunk) error { return nil }

func benchBuffer(b *testing.B, cfg Config) (*Buffer, func()) {
	buf, err := New(cfg, nullFlusher{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := buf.Open(context.Background()); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { buf.Run(ctx) })
	return buf, func() { cancel(); wg.Wait(); buf.Close() }
}

// BenchmarkAppendFile appends 1000 entries of about 200 bytes per call.
func BenchmarkAppendFile(b *testing.B) {
	payload := entries(1000, time.Now(), 170)
	for _, bc := range []struct {
		name     string
		fsync    bool
		keys     []string
		parallel bool
	}{
		{"nofsync", false, nil, false},
		{"nofsync/tag,time", false, []string{"tag", "time"}, false},
		{"nofsync/parallel", false, nil, true},
		{"fsync/parallel", true, nil, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := DefaultConfig("file")
			cfg.Path = b.TempDir()
			cfg.ChunkLimitSize = 8 << 20
			cfg.ChunkKeys = bc.keys
			cfg.TimeKey = time.Hour
			cfg.Fsync = bc.fsync
			cfg.OverflowAction = "block"
			cfg.TotalLimitSize = 256 << 20
			buf, stop := benchBuffer(b, cfg)
			defer stop()
			ctx := context.Background()
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			b.ResetTimer()
			if bc.parallel {
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := buf.Append(ctx, "bench", payload); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(buf.Stats().Fsyncs)/float64(b.N), "fsyncs/op")
				return
			}
			for b.Loop() {
				if err := buf.Append(ctx, "bench", payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendMemory(b *testing.B) {
	payload := entries(1000, time.Now(), 170)
	cfg := DefaultConfig("memory")
	cfg.ChunkLimitSize = 8 << 20
	buf, stop := benchBuffer(b, cfg)
	defer stop()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if err := buf.Append(context.Background(), "bench", payload); err != nil {
			b.Fatal(err)
		}
	}
}

// tinyEntries is n entries [0, {}] of 3 bytes each.
func tinyEntries(n int) []byte { return bytes.Repeat([]byte{0x92, 0x00, 0x80}, n) }

// TestAppendMemoryBounded appends 11 million 3-byte entries in one 33 MB
// call: the memory Append allocates is bounded by its batch (for a file
// buffer) and by the stored copy (for a memory buffer), not by per-entry
// state of the whole stream.
func TestAppendMemoryBounded(t *testing.T) {
	e := tinyEntries(11_000_000)
	for _, tt := range []struct {
		typ   string
		limit uint64
	}{
		{"file", uint64(len(e)) / 2}, // nothing of the stream is kept in memory
		{"memory", 2 * uint64(len(e))},
	} {
		t.Run(tt.typ, func(t *testing.T) {
			cfg := testConfig(t, tt.typ)
			cfg.FlushMode = "lazy"
			b, _ := open(t, cfg, nullFlusher{}, Options{})
			defer b.Close()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			if err := b.Append(context.Background(), "t", e); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s buffer: %d MB allocated for a %d MB Append", tt.typ, alloc>>20, len(e)>>20)
			if alloc > tt.limit {
				t.Errorf("allocated %d bytes for a %d-byte Append, want at most %d", alloc, len(e), tt.limit)
			}
			if st := b.Stats(); st.Records != 11_000_000 || st.StagedBytes+st.QueuedBytes != int64(len(e)) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestAppendMalformedLate: a stream longer than one batch whose last entry
// is malformed stores nothing.
func TestAppendMalformedLate(t *testing.T) {
	cfg := testConfig(t, "file")
	b, _ := open(t, cfg, nullFlusher{}, Options{})
	defer b.Close()
	e := append(tinyEntries(3*batchEntries), 0xc0)
	if err := b.Append(context.Background(), "t", e); !errors.Is(err, event.ErrEntry) ||
		!strings.Contains(err.Error(), fmt.Sprintf("at byte %d", len(e)-1)) {
		t.Errorf("append: %v, want ErrEntry at byte %d", err, len(e)-1)
	}
	if st := b.Stats(); st.StagedBytes != 0 || st.Records != 0 {
		t.Errorf("stored a prefix of a malformed stream: %+v", st)
	}
}

// TestAppendBatches: a stream of several batches is stored whole, one
// frame per batch, in order.
func TestAppendBatches(t *testing.T) {
	cfg := testConfig(t, "file")
	out := &recorder{}
	b, _ := open(t, cfg, out, Options{})
	defer b.Close()
	n := 2*batchEntries + 10
	var e []byte
	for i := range n {
		e = entry(e, t0.Add(time.Duration(i)), "i", i)
	}
	if err := b.Append(context.Background(), "t", e); err != nil {
		t.Fatal(err)
	}
	if err := b.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := out.got()
	if len(got) != 1 || len(got[0].frames) != 3 || got[0].Records != n {
		t.Fatalf("flushed %d chunks, want 1 of %d records in 3 frames", len(got), n)
	}
	var joined []byte
	for _, f := range got[0].frames {
		joined = append(joined, f.entries...)
	}
	if !bytes.Equal(joined, e) || !got[0].First.Equal(t0) || !got[0].Last.Equal(t0.Add(time.Duration(n-1))) {
		t.Error("frames do not hold the stream in order")
	}
}

// BenchmarkAppendTiny appends 1M entries of 3 bytes per call.
func BenchmarkAppendTiny(b *testing.B) {
	benchAppendFile(b, tinyEntries(1<<20), 8<<20, 256<<20)
}

// benchAppendFile appends payload per call to a file buffer with the
// given chunk_limit_size and total_limit_size (overflow_action block).
func benchAppendFile(b *testing.B, payload []byte, chunkLimit, totalLimit int64) {
	cfg := DefaultConfig("file")
	cfg.Path = b.TempDir()
	cfg.ChunkLimitSize = chunkLimit
	cfg.OverflowAction = "block"
	cfg.TotalLimitSize = totalLimit
	buf, stop := benchBuffer(b, cfg)
	defer stop()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if err := buf.Append(context.Background(), "bench", payload); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPutScanDropsGrown(t *testing.T) {
	b, err := New(DefaultConfig("memory"), nullFlusher{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	grown := []*scan{
		{frame: make([]byte, 0, maxPooledFrame+1)},
		{ends: make([]int, 0, 2*batchEntries+1)},
		{arena: make([]byte, 0, maxPooledKeys+1)},
	}
	for _, sc := range grown {
		b.putScan(sc)
	}
	for range 10 {
		got := b.getScan()
		for i, sc := range grown {
			if got == sc {
				t.Fatalf("grown scan %d came back from the pool", i)
			}
		}
	}
}

// BenchmarkAppendLarge appends 80,000 entries of about 200 bytes (16 MB)
// per call: two batches.
func BenchmarkAppendLarge(b *testing.B) {
	benchAppendFile(b, entries(80_000, time.Now(), 170), 64<<20, 512<<20)
}
