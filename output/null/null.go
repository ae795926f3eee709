package null

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/barge-dev/barge/buffer"
)

// ErrNeverFlush is returned by Flush when never_flush is set.
var ErrNeverFlush = errors.New("null: never_flush is set")

// Config is the configuration of @type null.
type Config struct {
	Type string `conf:"@type"`
	// NeverFlush makes every flush fail, as Fluentd's out_null does, to test
	// retries and buffer overflow.
	NeverFlush bool `conf:"never_flush"`
}

// DefaultConfig returns Fluentd's defaults.
func DefaultConfig() Config { return Config{Type: "null"} }

// Validate checks the configuration.
func (c *Config) Validate() error { return nil }

// Options are the run-time inputs of an Output.
type Options struct {
	Logger *slog.Logger // nil: discard
}

// Output discards chunks, counting them.
type Output struct {
	never   bool
	chunks  atomic.Int64
	records atomic.Int64
	bytes   atomic.Int64
}

var _ buffer.Flusher = (*Output)(nil)

// New returns an Output.
func New(cfg Config, opts Options) (*Output, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Output{never: cfg.NeverFlush}, nil
}

// Flush counts c and discards it, or fails with ErrNeverFlush.
func (o *Output) Flush(ctx context.Context, c *buffer.Chunk) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if o.never {
		return ErrNeverFlush
	}
	o.add(c.Records, c.Size)
	return nil
}

func (o *Output) add(records int, size int64) {
	o.chunks.Add(1)
	o.records.Add(int64(records))
	o.bytes.Add(size)
}

// Stats are the totals of what an Output discarded.
type Stats struct {
	Chunks  int64
	Records int64
	Bytes   int64 // msgpack bytes of entries
}

// Stats returns the totals so far.
func (o *Output) Stats() Stats {
	return Stats{Chunks: o.chunks.Load(), Records: o.records.Load(), Bytes: o.bytes.Load()}
}
