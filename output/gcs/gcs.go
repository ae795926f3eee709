package gcs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/objkey"
)

// Options are the run-time inputs of an Output.
type Options struct {
	Logger *slog.Logger // nil: discard
	// Hostname is %{hostname}, the default of <inject> hostname and the
	// barge-host metadata.
	Hostname string
	// Version is the barge-version metadata.
	Version string
	// Location is what local time means for <inject> (nil: time.Local).
	Location *time.Location
}

// Output writes each chunk as one GCS object.
type Output struct {
	cfg         Config
	enc         *format.Encoder
	keys        *objkey.KeyFormat
	names       *objkey.Namer // chooses and records keys with %{index}
	contentType string
	encoding    string // Content-Encoding: gzip with transcoding
	userMeta    map[string]string
	storClass   string
	acl         string
	encKey      []byte
	chunkSize   int64
	hostname    string
	version     string
	log         *slog.Logger

	mu     sync.Mutex
	client *storage.Client
	// sessions carries the resumable uploads (session.go), over base, to
	// uploadURL (https://storage.googleapis.com, or the emulator's).
	sessions  *http.Client
	base      *http.Transport
	uploadURL string
	closed    bool

	uploads buffer.SharedHistogram // durations of the objects uploaded

	// testCRC, when set by tests, changes the checksum declared or
	// expected for an upload, to prove that a mismatch is caught.
	testCRC func(uint32) uint32
}

var _ buffer.Flusher = (*Output)(nil)

// New validates cfg and returns an Output. It does no I/O and starts no
// goroutine: the storage client is made by the first Flush.
func New(cfg Config, opts Options) (*Output, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	compress, _ := cfg.compress()
	eo := format.EncoderOptions{Hostname: opts.Hostname, Location: opts.Location, OnKeyCollision: format.LogKeyCollisions(opts.Logger)}
	enc, err := format.NewEncoder(format.EncoderConfig{Format: cfg.Format, Inject: cfg.Inject, Compress: compress}, eo)
	if err != nil {
		return nil, err
	}
	keys, err := objkey.NewKeyFormat(cfg.keyConfig())
	if err != nil {
		return nil, err
	}
	o := &Output{
		cfg:         cfg,
		enc:         enc,
		keys:        keys,
		names:       objkey.NewNamer(keys, "gs://"+cfg.Bucket),
		contentType: enc.ContentType(),
		storClass:   storageClasses[strings.ToLower(cfg.StorageClass)],
		acl:         predefinedACLs[cfg.ACL],
		chunkSize:   roundChunkSize(cfg.ChunkSize),
		hostname:    opts.Hostname,
		version:     opts.Version,
		log:         opts.Logger,
	}
	if cfg.Transcoding {
		// The object is served decompressed: its type is the format's.
		plain, err := format.NewEncoder(format.EncoderConfig{Format: cfg.Format, Inject: cfg.Inject, Compress: "none"}, eo)
		if err != nil {
			return nil, err
		}
		o.contentType, o.encoding = plain.ContentType(), "gzip"
	}
	o.encKey, _ = cfg.encryptionKey()
	if len(cfg.ObjectMetadata) > 0 {
		o.userMeta = make(map[string]string, len(cfg.ObjectMetadata))
		for _, m := range cfg.ObjectMetadata {
			o.userMeta[m.Key] = m.Value
		}
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Flush writes c as one object, create-only. nil means the object is
// there: written now, or found with this chunk's id, CRC32C and size
// (a retry after a lost answer). Errors name gs://BUCKET/KEY; permanent
// ones (see package doc) are wrapped with buffer.Permanent. With %{index}
// in the key, the key is chosen once and recorded with the chunk, and
// another chunk's object at it moves the chunk to the next index (see
// index.go).
func (o *Output) Flush(ctx context.Context, c *buffer.Chunk) error {
	vars := objkey.Vars(c, o.hostname, o.enc.FileExtension())
	meta := objkey.Metadata(c, o.enc, o.hostname, o.version)
	encode := func(w io.Writer) (format.Stats, error) { return o.enc.EncodeChunk(w, c) }
	key, err := o.chooseKey(ctx, c, vars, "")
	if err != nil {
		return err
	}
	obj, err := o.spooled(ctx, key, c, encode)
	if err != nil {
		return err
	}
	defer obj.spool.Close()
	for taken := 0; ; taken++ {
		// The object is the same whatever its key: encoded once.
		err = o.upload(ctx, key, meta, obj)
		if !o.names.Indexed() || !errors.Is(err, objkey.ErrTaken) {
			break
		}
		if taken == objkey.MaxTaken {
			// Other writers keep taking the indexes: later, from the last.
			return fmt.Errorf("put gs://%s/%s: %d keys in a row taken by other writers", o.cfg.Bucket, key, taken+1)
		}
		o.log.Info("another chunk's object is at the key: next index", "path", "gs://"+o.cfg.Bucket+"/"+key, "chunk_id", c.ID)
		if key, err = o.chooseKey(ctx, c, vars, key); err != nil {
			return err
		}
	}
	if _, rejected := buffer.RejectedRecords(err); err == nil || rejected {
		o.names.Done(key)
	}
	return err
}

// Key returns the object key of the chunk vars describe.
func (o *Output) Key(vars objkey.ChunkVars) string {
	if vars.FileExtension == "" {
		vars.FileExtension = o.enc.FileExtension()
	}
	if vars.Hostname == "" {
		vars.Hostname = o.hostname
	}
	return o.keys.Key(vars)
}

// Close releases the storage client. It is idempotent; Flush fails after it.
func (o *Output) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	if o.base != nil {
		o.base.CloseIdleConnections() // a resumable upload in flight goes on
	}
	if o.client == nil {
		return nil
	}
	err := o.client.Close()
	o.client = nil
	return err
}

// storageClient returns the client, making it on first use, with the
// HTTP client of the resumable uploads. A failure is not kept: the next
// Flush tries again.
func (o *Output) storageClient(ctx context.Context) (*storage.Client, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, errClosed
	}
	if o.client != nil {
		return o.client, nil
	}
	opts, err := o.clientOptions()
	if err != nil {
		return nil, err
	}
	// The clients outlive this flush: they must not be bound to its context.
	ctx = context.WithoutCancel(ctx)
	base := http.DefaultTransport.(*http.Transport).Clone()
	hc, err := httpClient(ctx, ClientConfig{Keyfile: o.cfg.Keyfile, UserAgent: o.userAgent(), Scopes: []string{storage.ScopeFullControl}, Transport: base})
	if err != nil {
		return nil, fmt.Errorf("gcs client: %w", err)
	}
	endpoint, err := uploadURL()
	if err != nil {
		return nil, err
	}
	cl, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("gcs client: %w", err)
	}
	o.client, o.sessions, o.base, o.uploadURL = cl, hc, base, endpoint
	return cl, nil
}

// userAgent is barge/VERSION.
func (o *Output) userAgent() string {
	if o.version != "" {
		return "barge/" + o.version
	}
	return "barge"
}

// clientOptions returns how the client authenticates (ClientOptions):
// nothing at all against an emulator (STORAGE_EMULATOR_HOST), else
// keyfile or Application Default Credentials. An unusable keyfile is
// errCredentials, a permanent error.
func (o *Output) clientOptions() ([]option.ClientOption, error) {
	opts, err := ClientOptions(context.Background(), ClientConfig{Keyfile: o.cfg.Keyfile, UserAgent: o.userAgent()})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCredentials, err)
	}
	return opts, nil
}

// UploadTime returns the durations of the objects uploaded (all
// attempts of one object, encoding included), for the metrics.
func (o *Output) UploadTime() buffer.Histogram { return o.uploads.Snapshot() }
