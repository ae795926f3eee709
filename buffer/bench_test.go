package buffer

import (
	"context"
	"sync"
	"testing"
	"time"
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
