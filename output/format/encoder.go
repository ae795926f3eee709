package format

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/barge-dev/barge/buffer"
)

// Frames is what an Encoder reads: a sequence of (tag, entries stream)
// frames, io.EOF at the end. *buffer.Reader is one.
type Frames interface {
	Next() (tag string, entries []byte, err error)
}

// EncoderConfig is the part of an output's configuration that decides the
// bytes it writes.
type EncoderConfig struct {
	Format Config
	Inject InjectConfig
	// Compress is gzip, zstd or none ("text" is taken as none).
	Compress string
}

// EncoderOptions are the run-time inputs of an Encoder.
type EncoderOptions struct {
	// Hostname is injected by hostname_key when <inject> sets no hostname.
	Hostname string
	// Location is what "local time" means (nil: time.Local).
	Location *time.Location
	// OnKeyCollision is called once for each distinct set of record keys
	// that key_style bigquery renamed because their names collided (up to
	// 1024 sets per Encoder), possibly from several goroutines at once.
	// nil: collisions are not reported. LogKeyCollisions makes one that
	// logs.
	OnKeyCollision func(KeyCollision)
}

// Stats describes one Encode call.
type Stats struct {
	Records int   // records written
	In      int64 // bytes of msgpack entries read, rejected ones included
	Out     int64 // bytes written to the destination (compressed)
	// Rejects are the records that were not written, each with its tag,
	// its entry (copied) and the reason, in the order they came. See
	// Err for what a Flusher returns.
	Rejects []buffer.Reject
}

// Encoder streams the records of a chunk through a format, the <inject>
// fields and a compressor into an io.Writer. Memory use is bounded by the
// largest record plus fixed-size compressor state, whatever the chunk's
// size. An Encoder is safe for concurrent use; file, s3 and gcs outputs
// share it.
type Encoder struct {
	format     recordFormat
	inj        *injector
	comp       *compressors
	ext        string
	ctype      string
	formatType string    // <format> @type
	states     sync.Pool // *encodeState
}

// encodeState is the scratch of one Encode call, pooled.
type encodeState struct {
	buf     []byte
	scratch []byte
	tag     string
	inj     injectState
	keys    keyScratch
}

const (
	// writeSize is how much formatted output is gathered before each write
	// to the compressor.
	writeSize = 64 << 10
	// maxPooledBuf drops scratch buffers that one huge record grew.
	maxPooledBuf = 1 << 20
)

// NewEncoder validates cfg and returns an Encoder.
func NewEncoder(cfg EncoderConfig, opts EncoderOptions) (*Encoder, error) {
	if err := cfg.Format.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.Inject.Validate(); err != nil {
		return nil, err
	}
	comp, err := newCompressors(cfg.Compress)
	if err != nil {
		return nil, err
	}
	inj := newInjector(cfg.Inject, opts.Hostname, opts.Location)
	e := &Encoder{
		format: newFormat(cfg.Format, inj, opts),
		inj:    inj,
		comp:   comp,
	}
	e.formatType = cfg.Format.Type
	e.ext, e.ctype = formatExtension(cfg.Format.Type)
	if x := comp.extension(); x != "" {
		e.ext = x
	}
	switch comp.kind {
	case "gzip":
		e.ctype = "application/gzip"
	case "zstd":
		e.ctype = "application/zstd"
	}
	e.states.New = func() any { return &encodeState{buf: make([]byte, 0, writeSize+writeSize/4)} }
	return e, nil
}

// formatExtension returns the file extension and content type of
// uncompressed output in a format.
func formatExtension(format string) (ext, ctype string) {
	switch format {
	case "ltsv":
		return "ltsv", "text/plain"
	case "msgpack":
		return "msgpack", "application/x-msgpack"
	case "single_value", "stdout":
		return "txt", "text/plain"
	}
	return "json", "application/x-ndjson"
}

// FileExtension is the value of %{file_extension}: gz, zst, or for
// uncompressed output json, ltsv, msgpack or txt.
func (e *Encoder) FileExtension() string { return e.ext }

// FormatType returns the <format> @type the Encoder writes.
func (e *Encoder) FormatType() string { return e.formatType }

// Compression returns gzip, zstd or none.
func (e *Encoder) Compression() string { return e.comp.kind }

// ContentType is the MIME type of what Encode writes.
func (e *Encoder) ContentType() string { return e.ctype }

// Encode writes every record of frames to w and ends the compressed stream.
// It does not close w.
//
// A record that cannot be written is skipped, never the chunk: its partial
// output is taken back and its entry goes, copied, to Stats.Rejects with
// its frame's tag and the reason, and encoding goes on with the next entry.
// Such records are malformed entries (event.ErrEntry), a record that is
// not a well-formed msgpack map (errMsgpack) and a record nested deeper
// than event.MaxDepth levels (event.ErrTooDeep), whatever the format: every
// format writes every record within that depth. An entry that cannot even
// be delimited (malformed msgpack) takes the rest of its frame with it, as
// one Reject. The error is only ever from frames, w or the compressor.
func (e *Encoder) Encode(w io.Writer, frames Frames) (Stats, error) {
	var stats Stats
	cw := &countWriter{w: w}
	zw := e.comp.get(cw)
	defer e.comp.put(zw)
	var out io.Writer = cw
	if zw != nil {
		out = zw
	}
	st := e.states.Get().(*encodeState)
	defer e.putState(st)
	st.buf = st.buf[:0]
	st.inj.timeCache.Reset()

	for {
		tag, entries, err := frames.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return stats, fmt.Errorf("read chunk: %w", err)
		}
		st.tag = tag
		if e.inj != nil {
			st.inj.setTag(tag)
		}
		stats.In += int64(len(entries))
		for len(entries) > 0 {
			sec, nsec, rec, n, err := nextEntry(entries)
			if n < 0 { // cannot be delimited: the rest of the frame
				n = len(entries)
			}
			entry := entries[:n]
			entries = entries[n:]
			if err == nil {
				mark := len(st.buf)
				if st.buf, _, err = e.format.appendRecord(st.buf, st, sec, nsec, rec); err != nil {
					st.buf = st.buf[:mark] // nothing of it was written yet
				}
			}
			if err != nil {
				stats.Rejects = append(stats.Rejects, buffer.Reject{Tag: tag, Entry: bytes.Clone(entry), Reason: err.Error()})
				continue
			}
			stats.Records++
			if len(st.buf) >= writeSize {
				if _, err := out.Write(st.buf); err != nil {
					return stats, err
				}
				st.buf = st.buf[:0]
			}
		}
	}
	if len(st.buf) > 0 {
		if _, err := out.Write(st.buf); err != nil {
			return stats, err
		}
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return stats, err
		}
	}
	stats.Out = cw.n
	return stats, nil
}

func (e *Encoder) putState(st *encodeState) {
	if cap(st.buf) > maxPooledBuf || cap(st.scratch) > maxPooledBuf || cap(st.inj.tagJSON) > maxPooledBuf || cap(st.keys.hashes) > maxPooledBuf/8 || cap(st.keys.sig) > maxPooledBuf {
		return
	}
	st.tag = ""
	e.states.Put(st)
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
