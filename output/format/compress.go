package format

import (
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression levels. Fast levels keep the output path well above the
// input rate on two cores (see the package benchmarks): zstd's fastest
// level compresses log lines about as well as gzip's default, and gzip's
// BestSpeed is several times faster than its default at a few percent
// larger files.
const (
	gzipLevel = gzip.BestSpeed
	zstdLevel = zstd.SpeedFastest
	// zstdWindow bounds each zstd encoder's memory; log lines gain nothing
	// from a longer window: on loadgen's access-log records a 256 KiB
	// window compresses as well as 1 MiB (4.45:1 both), and with
	// WithLowerEncoderMem four encoders hold 3.5 MiB instead of 10.9.
	zstdWindow = 256 << 10
)

// compressWriter is a reusable streaming compressor.
type compressWriter interface {
	io.WriteCloser // Close ends the stream; it does not close the destination
	Reset(w io.Writer)
}

// compressors hands out pooled compressors of one kind. Memory per
// compressor is fixed, whatever the size of what it compresses.
type compressors struct {
	kind string // gzip, zstd, none
	pool sync.Pool
}

func newCompressors(kind string) (*compressors, error) {
	c := &compressors{kind: kind}
	switch kind {
	case "gzip":
		if _, err := gzip.NewWriterLevel(io.Discard, gzipLevel); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		c.pool.New = func() any {
			w, _ := gzip.NewWriterLevel(nil, gzipLevel)
			return w
		}
	case "zstd":
		opts := []zstd.EOption{
			zstd.WithEncoderLevel(zstdLevel),
			zstd.WithEncoderConcurrency(1), // synchronous: no goroutines
			zstd.WithWindowSize(zstdWindow),
			zstd.WithLowerEncoderMem(true),
			zstd.WithEncoderCRC(true),
		}
		if _, err := zstd.NewWriter(nil, opts...); err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		c.pool.New = func() any {
			w, _ := zstd.NewWriter(nil, opts...)
			return w
		}
	case "none", "text", "":
		c.kind = "none"
	default:
		return nil, fmt.Errorf("'compress' %q is not one of gzip, zstd, none", kind)
	}
	return c, nil
}

// get returns a compressor writing to w, or nil for none.
func (c *compressors) get(w io.Writer) compressWriter {
	if c.kind == "none" {
		return nil
	}
	cw := c.pool.Get().(compressWriter)
	cw.Reset(w)
	return cw
}

// put returns a compressor to the pool, detached from its destination.
func (c *compressors) put(cw compressWriter) {
	if cw == nil {
		return
	}
	cw.Reset(nil)
	c.pool.Put(cw)
}

// extension is fluent-plugin-s3's file extension for the compression.
func (c *compressors) extension() string {
	switch c.kind {
	case "gzip":
		return "gz"
	case "zstd":
		return "zst"
	}
	return ""
}
