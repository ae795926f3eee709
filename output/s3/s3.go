package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/objkey"
)

// ErrClosed is returned by Flush after Close.
var ErrClosed = errors.New("s3: output closed")

// Options are the run-time inputs of an Output.
type Options struct {
	Logger *slog.Logger // nil: discard
	// Hostname is %{hostname}, the barge-host metadata and the default of
	// <inject> hostname.
	Hostname string
	// Version is the barge-version metadata.
	Version string
	// Location is what local time means for <inject> (nil: time.Local).
	Location *time.Location
}

// Output writes each chunk as one S3 object, never overwriting one.
type Output struct {
	cfg      Config
	enc      *format.Encoder
	keys     *objkey.KeyFormat
	names    *objkey.Namer // chooses and records keys with %{index}
	hostname string
	version  string
	log      *slog.Logger
	sseKey   string // SSE-C key and its MD5, base64
	sseMD5   string

	mu     sync.Mutex
	s3     *s3.Client      // built on the first Flush
	tr     *http.Transport // s3's
	closed bool

	listWarn sync.Once // the first ListMultipartUploads refusal is logged

	uploads buffer.SharedHistogram // durations of the objects uploaded
}

var _ buffer.Flusher = (*Output)(nil)

// New validates cfg and returns an Output. It does no I/O and starts no
// goroutines: the AWS configuration is loaded by Start or the first Flush.
func New(cfg Config, opts Options) (*Output, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	compress, _ := cfg.compress()
	enc, err := format.NewEncoder(format.EncoderConfig{Format: cfg.Format, Inject: cfg.Inject, Compress: compress},
		format.EncoderOptions{Hostname: opts.Hostname, Location: opts.Location, OnKeyCollision: format.LogKeyCollisions(opts.Logger)})
	if err != nil {
		return nil, err
	}
	keys, err := cfg.keyFormat()
	if err != nil {
		return nil, err
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	o := &Output{cfg: cfg, enc: enc, keys: keys, names: objkey.NewNamer(keys, "s3://"+cfg.S3Bucket), hostname: opts.Hostname, version: opts.Version, log: lg}
	if cfg.SSECustomerKey != "" {
		o.sseKey, o.sseMD5, _ = cfg.sseCustomerKey()
	}
	return o, nil
}

// Key returns the object key of chunk c: the key recorded with it, else
// the key its names give (with %{index} 0).
func (o *Output) Key(c *buffer.Chunk) string {
	if key := o.names.Recorded(c); key != "" {
		return key
	}
	return o.keys.Key(objkey.Vars(c, o.hostname, o.enc.FileExtension()))
}

// Flush uploads c as one object with If-None-Match: * (create-only). An
// object already at the key that this chunk wrote on an earlier attempt
// (same barge-chunk-id metadata, same ETag) counts as done; any other
// object there is a permanent error, and is left untouched; with %{index}
// in the key, the chunk takes the next free index instead (see index.go).
func (o *Output) Flush(ctx context.Context, c *buffer.Chunk) error {
	return o.put(ctx, c, func(w io.Writer) (format.Stats, error) { return o.enc.EncodeChunk(w, c) })
}

// Close closes idle connections. It is idempotent; Flush fails after it.
func (o *Output) Close() error {
	o.mu.Lock()
	o.closed = true
	tr := o.tr
	o.mu.Unlock()
	if tr != nil {
		tr.CloseIdleConnections()
	}
	return nil
}

// errRecount is attempt's error when a multipart upload was started with
// a count of records in its metadata that the encoder then did not write.
var errRecount = errors.New("s3: the multipart upload announced another number of records")

// put encodes with encode and uploads: one PutObject when the encoded
// object fits in multipart_threshold, a multipart upload otherwise.
//
// barge-records must count the records the object holds. PutObject sends
// the metadata after the whole object is encoded, with the count known. A
// multipart upload sends it first (CreateMultipartUpload), announcing
// c.Records; if the encoder then rejects records, that upload is aborted
// and the object is encoded and uploaded once more with the count the first
// pass found (the Encoder is deterministic). Rejects are rare, so this
// costs nothing in the common case.
func (o *Output) put(ctx context.Context, c *buffer.Chunk, encode func(io.Writer) (format.Stats, error)) error {
	key := o.Key(c)
	if err := ctx.Err(); err != nil {
		return o.wrap(key, "", err)
	}
	if err := objkey.CheckObjectKey(key); err != nil {
		return buffer.Permanent(fmt.Errorf("put s3://%s/%s: %w", o.cfg.S3Bucket, key, err))
	}
	cl, err := o.client(ctx)
	if err != nil {
		return o.wrap(key, "", err)
	}
	vars := objkey.Vars(c, o.hostname, o.enc.FileExtension())
	if key, err = o.chooseKey(ctx, cl, c, vars, ""); err != nil {
		return err
	}
	meta := o.metadata(c)
	start := time.Now()
	var stats format.Stats
	var u *upload
	for taken := 0; ; taken++ {
		stats, u, err = o.attempt(ctx, cl, c, key, meta, encode)
		if errors.Is(err, errRecount) {
			objkey.SetRecords(meta, stats.Records)
			stats, u, err = o.attempt(ctx, cl, c, key, meta, encode)
		}
		if !o.names.Indexed() || !errors.Is(err, objkey.ErrTaken) {
			break
		}
		if taken == objkey.MaxTaken {
			// Other writers keep taking the indexes: later, from the last.
			return o.wrap(key, "", fmt.Errorf("%d keys in a row taken by other writers", taken+1))
		}
		o.log.Info("another chunk's object is at the key: next index", "path", "s3://"+o.cfg.S3Bucket+"/"+key, "chunk_id", c.ID)
		if key, err = o.chooseKey(ctx, cl, c, vars, key); err != nil {
			return err
		}
	}
	if err != nil {
		if errors.Is(err, errRecount) {
			// Not deterministic after all: let the buffer try again.
			return o.wrap(key, "", fmt.Errorf("%w: %s announced, %d encoded", err, meta[objkey.MetaRecords], stats.Records))
		}
		return err
	}
	o.names.Done(key)
	o.uploads.Observe(time.Since(start))
	o.log.Debug("put object", "path", "s3://"+o.cfg.S3Bucket+"/"+key, "chunk_id", c.ID,
		"records", stats.Records, "bytes", stats.Out, "parts", u.nparts(), "existing", u.existing)
	return stats.Err()
}

// attempt encodes the object into one upload, through a spool of chunk c
// of its own, and completes it, unless the encoder rejected every record
// (a permanent error, nothing uploaded) or a multipart upload announced a
// count of records in meta other than what was written (errRecount, the
// upload aborted). The spool is closed before attempt returns.
func (o *Output) attempt(ctx context.Context, cl *s3.Client, c *buffer.Chunk, key string, meta map[string]string, encode func(io.Writer) (format.Stats, error)) (format.Stats, *upload, error) {
	sp, err := c.Spool()
	if err != nil {
		return format.Stats{}, nil, o.wrap(key, "", err)
	}
	u := o.newUpload(ctx, cl, sp, key, c.ID, meta)
	defer u.close()
	stats, err := encode(u)
	switch {
	case err != nil:
		if uerr := u.failure(); uerr != nil {
			err = uerr // the upload failed first; the encoder only saw its Write fail
		} else {
			err = o.wrap(key, "encode chunk", err)
		}
	case stats.AllRejected():
		err = buffer.Permanent(fmt.Errorf("put s3://%s/%s: %w", o.cfg.S3Bucket, key, stats.Err()))
	case u.uploadID == "": // one PutObject, sent now: with the count
		objkey.SetRecords(meta, stats.Records)
		err = u.finish()
	case meta[objkey.MetaRecords] != strconv.Itoa(stats.Records):
		err = errRecount
	default:
		err = u.finish()
	}
	if err != nil {
		u.abort()
	}
	return stats, u, err
}

// metadata is objkey.Metadata as S3 user metadata: values that are not
// printable ASCII (a tag in UTF-8) are RFC 2047 encoded
// ("=?utf-8?b?...?="), as HTTP headers cannot carry them. objkey.Metadata
// bounds them so that the whole stays within S3's 2 KiB.
func (o *Output) metadata(c *buffer.Chunk) map[string]string {
	m := objkey.Metadata(c, o.enc, o.hostname, o.version)
	for k, v := range m {
		if !printableASCII(v) {
			m[k] = mime.BEncoding.Encode("utf-8", v)
		}
	}
	return m
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// sse applies the server-side encryption settings to an input's fields.
func (o *Output) sse(alg *types.ServerSideEncryption, kms, cAlg, cKey, cMD5 **string) {
	if alg != nil && o.cfg.UseServerSideEncryption != "" {
		*alg = types.ServerSideEncryption(o.cfg.UseServerSideEncryption)
	}
	if kms != nil && o.cfg.SSEKMSKeyID != "" {
		*kms = &o.cfg.SSEKMSKeyID
	}
	if o.sseKey != "" {
		a := "AES256"
		*cAlg, *cKey, *cMD5 = &a, &o.sseKey, &o.sseMD5
	}
}

// opaqueETag reports whether S3 computes ETags that are not the MD5 of the
// data (SSE-KMS and SSE-C): then an earlier attempt's object is recognised
// by its chunk id and size.
func (o *Output) opaqueETag() bool {
	return o.sseKey != "" || (o.cfg.UseServerSideEncryption != "" && o.cfg.UseServerSideEncryption != "AES256")
}

// UploadTime returns the durations of the objects uploaded (all
// attempts of one object, encoding included), for the metrics.
func (o *Output) UploadTime() buffer.Histogram { return o.uploads.Snapshot() }
