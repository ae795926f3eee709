package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/objkey"
)

// Options are the run-time inputs of an Output.
type Options struct {
	Logger *slog.Logger // nil: discard
	// Hostname is %{hostname} and the default of <inject> hostname.
	Hostname string
	// Location is what local time means for <inject> (nil: time.Local).
	Location *time.Location
}

// Output writes each chunk as one file.
type Output struct {
	enc      *format.Encoder
	keys     *objkey.KeyFormat
	names    *objkey.Namer // chooses and records names with %{index}
	dirPerm  os.FileMode
	filePerm os.FileMode
	hostname string
	log      *slog.Logger
}

var _ buffer.Flusher = (*Output)(nil)

// New validates cfg and returns an Output. It does no I/O.
func New(cfg Config, opts Options) (*Output, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	enc, err := format.NewEncoder(format.EncoderConfig{Format: cfg.Format, Inject: cfg.Inject, Compress: cfg.Compress},
		format.EncoderOptions{Hostname: opts.Hostname, Location: opts.Location, OnKeyCollision: format.LogKeyCollisions(opts.Logger)})
	if err != nil {
		return nil, err
	}
	keys, err := objkey.NewKeyFormat(cfg.keyConfig())
	if err != nil {
		return nil, err
	}
	dirPerm, _ := parseMode("dir_permission", cfg.DirPermission)
	filePerm, _ := parseMode("file_permission", cfg.FilePermission)
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	return &Output{enc: enc, keys: keys, names: objkey.NewNamer(keys, "file"), dirPerm: dirPerm, filePerm: filePerm, hostname: opts.Hostname, log: lg}, nil
}

// Flush writes c to its file: first under a hidden temporary name in the
// target directory (".tmp-" and the chunk id), fsynced, then renamed to the
// final name, and the directory fsynced. A reader never sees a partial file
// under the final name, and a retried flush of the same chunk replaces its
// own file.
//
// Records the encoder rejects are left out of the file and returned with
// buffer.Rejected once it is in place; when every record is rejected no
// file is written and the error is buffer.Permanent. A name the file
// system refuses (too long, or characters it does not take) is permanent
// too, naming the path; anything else (a directory that cannot be
// created, a full disk, permission denied) is retried.
//
// With %{index} in object_key_format the name is chosen once and recorded
// with the chunk (see flushIndexed), and the file is created, never
// replaced.
func (o *Output) Flush(ctx context.Context, c *buffer.Chunk) error {
	vars := objkey.Vars(c, o.hostname, o.enc.FileExtension())
	encode := func(w io.Writer) (format.Stats, error) { return o.enc.EncodeChunk(w, c) }
	if o.names.Indexed() {
		return o.flushIndexed(ctx, c, vars, encode)
	}
	return o.flush(ctx, vars, encode)
}

// Name returns the file name of the chunk vars describe.
func (o *Output) Name(vars objkey.ChunkVars) string {
	if vars.FileExtension == "" {
		vars.FileExtension = o.enc.FileExtension()
	}
	if vars.Hostname == "" {
		vars.Hostname = o.hostname
	}
	return o.keys.Key(vars)
}

func (o *Output) flush(ctx context.Context, vars objkey.ChunkVars, encode func(io.Writer) (format.Stats, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name := o.keys.Key(vars)
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, o.dirPerm); err != nil {
		return nameErr(fmt.Errorf("create directory %q: %w", dir, err))
	}
	tmp := filepath.Join(dir, ".tmp-"+objkey.CleanPathValue(vars.ID))
	stats, err := o.writeTemp(ctx, tmp, vars.ID, os.O_TRUNC, encode)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return nameErr(fmt.Errorf("rename to %q: %w", name, err))
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	o.log.Debug("wrote chunk", "path", name, "chunk_id", vars.ID, "records", stats.Records, "bytes", stats.Out)
	return stats.Err()
}

// writeTemp encodes the chunk id into the file tmp (created with
// os.O_CREATE, os.O_WRONLY and flag), fsyncs and closes it. On error tmp
// is removed; a chunk whose every record was rejected is
// buffer.Permanent.
func (o *Output) writeTemp(ctx context.Context, tmp, id string, flag int, encode func(io.Writer) (format.Stats, error)) (format.Stats, error) {
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|flag, o.filePerm)
	if err != nil {
		return format.Stats{}, nameErr(fmt.Errorf("create %q: %w", tmp, err))
	}
	stats, err := encode(&ctxWriter{ctx: ctx, w: f})
	switch {
	case err != nil:
		err = fmt.Errorf("write %q: %w", tmp, err)
	case stats.AllRejected():
		err = buffer.Permanent(fmt.Errorf("chunk %s: %w", id, stats.Err()))
	default:
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("sync %q: %w", tmp, err)
		}
	}
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close %q: %w", tmp, cerr)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return stats, err
}

// nameErr marks err permanent when the file system refused a name: too
// long (ENAMETOOLONG), or not a name it can store (EINVAL, EILSEQ: bytes
// or characters some file systems do not take). The same name fails on
// every retry, and would hold back every other chunk.
func nameErr(err error) error {
	if errors.Is(err, syscall.ENAMETOOLONG) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EILSEQ) {
		return buffer.Permanent(err)
	}
	return err
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, os.ErrInvalid) { // file systems that cannot sync directories
		return nil
	}
	return err
}

// ctxWriter stops a long write when the flush's context ends.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
