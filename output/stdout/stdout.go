package stdout

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/output/format"
)

// Config is the configuration of @type stdout.
type Config struct {
	Type string `conf:"@type"`
	// Format defaults to Fluentd's stdout line: "TIME TAG: JSON".
	Format format.Config       `conf:"<format>"`
	Inject format.InjectConfig `conf:"<inject>"`
}

// DefaultConfig returns Fluentd's defaults: the stdout line format.
func DefaultConfig() Config {
	f := format.DefaultConfig()
	f.Type = "stdout"
	return Config{Type: "stdout", Format: f, Inject: format.DefaultInjectConfig()}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if err := c.Format.Validate(); err != nil {
		return err
	}
	return c.Inject.Validate()
}

// Options are the run-time inputs of an Output.
type Options struct {
	Logger *slog.Logger // nil: discard
	// Writer receives the records (nil: os.Stdout).
	Writer io.Writer
	// Hostname is the default of <inject> hostname.
	Hostname string
	// Location is local time, for the line's time and <inject> (nil: time.Local).
	Location *time.Location
}

// Output prints records.
type Output struct {
	enc *format.Encoder
	log *slog.Logger
	mu  sync.Mutex // one chunk at a time, so lines never interleave
	w   io.Writer
}

var _ buffer.Flusher = (*Output)(nil)

// New validates cfg and returns an Output.
func New(cfg Config, opts Options) (*Output, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	enc, err := format.NewEncoder(format.EncoderConfig{Format: cfg.Format, Inject: cfg.Inject, Compress: "none"},
		format.EncoderOptions{Hostname: opts.Hostname, Location: opts.Location, OnKeyCollision: format.LogKeyCollisions(opts.Logger)})
	if err != nil {
		return nil, err
	}
	o := &Output{enc: enc, log: opts.Logger, w: opts.Writer}
	if o.w == nil {
		o.w = os.Stdout
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Flush prints every record of c. Records the encoder rejects are not
// printed and are returned with buffer.Rejected; when it rejects every
// record, the error is buffer.Permanent.
func (o *Output) Flush(ctx context.Context, c *buffer.Chunk) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	stats, err := o.enc.EncodeChunk(o.w, c)
	return result(c.ID, stats, err)
}

// encode prints frames (for tests without a buffer), as Flush would.
func (o *Output) encode(frames format.Frames) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	stats, err := o.enc.Encode(o.w, frames)
	return result("test", stats, err)
}

// result is what Flush returns after encoding chunk id.
func result(id string, stats format.Stats, err error) error {
	if err != nil {
		return err
	}
	if stats.AllRejected() {
		return fmt.Errorf("chunk %s: %w", id, stats.Err())
	}
	return stats.Err()
}
