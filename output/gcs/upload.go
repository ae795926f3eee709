package gcs

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"maps"
	"time"

	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/objkey"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// An object is encoded once, into the chunk's spool (buffer.Spool: an
// unnamed file beside a file chunk, memory for a memory chunk), and sent
// from there once its size, CRC32C, MD5 and count of records are known:
// an object of at most chunk_size bytes in one request, a larger one as a
// resumable upload of chunk_size requests (session.go). Every request
// body is a section of the spool, read again when the request is retried,
// so an upload holds a few small buffers in memory whatever chunk_size,
// the object's size or flush_thread_count.

// encoded is an object in its spool, with what its upload declares.
type encoded struct {
	start time.Time // when its encoding began, for UploadTime
	spool *buffer.Spool
	stats format.Stats
	size  int64
	crc   uint32
	md5   []byte // nil for an object past chunk_size: it goes resumable
}

// spoolWriter takes the Encoder's bytes into the spool and hashes them.
type spoolWriter struct {
	ctx   context.Context
	spool *buffer.Spool
	crc   uint32
	md5   hash.Hash // nil once past limit
	limit int64
}

func (w *spoolWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := w.spool.Write(p)
	w.crc = crc32.Update(w.crc, castagnoli, p[:n])
	if w.md5 != nil {
		if w.spool.Size() > w.limit {
			w.md5 = nil // one request declares it; a resumable upload does not
		} else {
			w.md5.Write(p[:n])
		}
	}
	return n, err
}

// encode runs encode once, into spool. A chunk whose every record the
// encoder rejects is a permanent error: nothing is uploaded.
func (o *Output) encode(ctx context.Context, spool *buffer.Spool, encode func(io.Writer) (format.Stats, error)) (*encoded, error) {
	start := time.Now()
	w := &spoolWriter{ctx: ctx, spool: spool, md5: md5.New(), limit: o.chunkSize}
	stats, err := encode(w)
	if err == nil {
		err = spool.Flush()
	}
	if err == nil && stats.AllRejected() {
		err = stats.Err()
	}
	if err != nil {
		return nil, err
	}
	obj := &encoded{start: start, spool: spool, stats: stats, size: spool.Size(), crc: w.crc}
	if w.md5 != nil {
		obj.md5 = w.md5.Sum(nil)
	}
	return obj, nil
}

// ready checks what a put needs before anything is encoded: a live
// context, a valid key and a storage client.
func (o *Output) ready(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return o.wrap(o.where(key), err)
	}
	if err := objkey.CheckObjectKey(key); err != nil {
		return buffer.Permanent(fmt.Errorf("put %s: %w", o.where(key), err))
	}
	if _, err := o.storageClient(ctx); err != nil {
		return o.wrap(o.where(key), err)
	}
	return nil
}

// put encodes an object through a spool in memory and uploads it to key,
// create-only: what Flush does with a chunk, for a caller that has an
// encode function instead (encode writes the object's bytes to the
// io.Writer it is given). meta's MetaRecords is replaced by the number of
// records encode wrote.
func (o *Output) put(ctx context.Context, key string, meta map[string]string, encode func(io.Writer) (format.Stats, error)) error {
	obj, err := o.spooled(ctx, key, new(buffer.Chunk), encode) // a chunk without a file: memory
	if err != nil {
		return err
	}
	defer obj.spool.Close()
	return o.upload(ctx, key, meta, obj)
}

// spooled checks what a put needs (ready), then encodes the object into
// a spool of chunk c. The caller closes obj.spool.
func (o *Output) spooled(ctx context.Context, key string, c *buffer.Chunk, encode func(io.Writer) (format.Stats, error)) (*encoded, error) {
	if err := o.ready(ctx, key); err != nil {
		return nil, err
	}
	spool, err := c.Spool()
	if err != nil {
		return nil, o.wrap(o.where(key), err)
	}
	obj, err := o.encode(ctx, spool, encode)
	if err != nil {
		spool.Close()
		return nil, o.wrap(o.where(key), err)
	}
	return obj, nil
}

// upload sends obj to key, create-only, and checks the stored object.
// meta's MetaRecords is set to the records obj holds.
func (o *Output) upload(ctx context.Context, key string, meta map[string]string, obj *encoded) error {
	where := o.where(key)
	if err := ctx.Err(); err != nil {
		return o.wrap(where, err)
	}
	cl, err := o.storageClient(ctx)
	if err != nil {
		return o.wrap(where, err)
	}
	meta = maps.Clone(meta)
	maps.Copy(meta, o.userMeta)
	objkey.SetRecords(meta, obj.stats.Records)
	budget := newRetryBudget(o.cfg.ClientRetries)
	h := cl.Bucket(o.cfg.Bucket).Object(key).Retryer(
		storage.WithBackoff(gax.Backoff{Initial: 250 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2}),
		storage.WithMaxAttempts(o.cfg.ClientRetries+1),
		storage.WithErrorFunc(budget.shouldRetry),
	)
	if o.encKey != nil {
		h = h.Key(o.encKey)
	}
	u := &upload{o: o, obj: h, key: key, meta: meta, enc: obj, budget: budget}
	if obj.size <= o.chunkSize {
		err = u.putSingle(ctx)
	} else {
		err = u.putResumable(ctx)
	}
	if err != nil {
		if isNotFound(err) && u.opened {
			// Not the bucket: the resumable session was lost (or expired).
			// A new flush starts a new one.
			return fmt.Errorf("put %s: resumable upload session lost: %w", where, err)
		}
		return o.wrap(where, err)
	}
	o.uploads.Observe(time.Since(obj.start))
	o.log.Debug("put object", "path", where, "chunk_id", meta[objkey.MetaChunkID], "records", obj.stats.Records, "bytes", obj.size)
	return obj.stats.Err()
}

// where names the object at key.
func (o *Output) where(key string) string { return "gs://" + o.cfg.Bucket + "/" + key }

// wrap names the object in err and marks the errors that retrying cannot
// fix as permanent.
func (o *Output) wrap(where string, err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("put %s: %w", where, err)
	case format.IsDataError(err), errors.Is(err, ErrObjectExists), errors.Is(err, objkey.ErrObjectKey):
		return buffer.Permanent(fmt.Errorf("put %s: %w", where, err))
	case errors.Is(err, storage.ErrBucketNotExist) || isNotFound(err):
		return buffer.Permanent(fmt.Errorf("put %s: bucket %q does not exist: %w", where, o.cfg.Bucket, err))
	case isPermanent(err):
		return buffer.Permanent(fmt.Errorf("put %s: %w", where, err))
	}
	return fmt.Errorf("put %s: %w", where, err)
}

// upload is one object on its way from its spool to one key.
type upload struct {
	o      *Output
	obj    *storage.ObjectHandle // without conditions: for attrs and delete
	key    string
	meta   map[string]string
	enc    *encoded
	budget *retryBudget
	// opened is set once a resumable session is open: a 404 is then the
	// session's (lost, or expired), not the bucket's.
	opened bool
}

// putSingle sends the object in one request that declares its CRC32C and
// MD5, so GCS checks them, streaming its body from the spool. The client
// cannot retry a request it does not buffer, so the quick retries are
// made here, bounded by client_retries, each reading the spool again.
func (u *upload) putSingle(ctx context.Context) error {
	delay := 250 * time.Millisecond
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, u.o.cfg.ClientTimeout)
		w := u.newWriter(actx)
		_, err := io.Copy(w, u.enc.spool.Section(0, u.enc.size))
		if err != nil {
			cancel() // first: the Close below must not finish the object
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		cancel()
		switch {
		case err == nil:
			return u.verify(ctx, w.Attrs())
		case isPreconditionFailed(err):
			return u.existing(ctx)
		case attempt >= u.o.cfg.ClientRetries || !storage.ShouldRetry(err) || ctx.Err() != nil:
			return err
		}
		if err := sleep(ctx, delay); err != nil {
			return err
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// newWriter starts a single-request upload, create-only.
func (u *upload) newWriter(ctx context.Context) *storage.Writer {
	o := u.o
	w := u.obj.If(storage.Conditions{DoesNotExist: true}).NewWriter(ctx)
	w.ChunkSize = 0 // one request, streamed: the client holds no copy
	w.ContentType = o.contentType
	w.ContentEncoding = o.encoding
	w.Metadata = u.meta
	w.StorageClass = o.storClass
	w.PredefinedACL = o.acl
	w.CRC32C, w.SendCRC32C = u.expectCRC(), true
	w.MD5 = u.enc.md5
	return w
}

// sleep waits d unless ctx ends first (its error, then).
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// expectCRC is the CRC32C the object must have.
func (u *upload) expectCRC() uint32 {
	if u.o.testCRC != nil {
		return u.o.testCRC(u.enc.crc)
	}
	return u.enc.crc
}

// verify checks the new object against what was encoded. A mismatch (a
// server that did not check, bytes damaged where nothing checked them)
// deletes the object, if it is still that generation, and fails the flush
// so it is retried.
func (u *upload) verify(ctx context.Context, a *storage.ObjectAttrs) error {
	if a == nil || (a.CRC32C == u.expectCRC() && a.Size == u.enc.size) {
		return nil
	}
	err := fmt.Errorf("%w: stored %d bytes with crc32c %08x, encoded %d bytes with crc32c %08x",
		ErrChecksum, a.Size, a.CRC32C, u.enc.size, u.expectCRC())
	dctx, cancel := context.WithTimeout(ctx, u.o.cfg.ClientTimeout)
	defer cancel()
	if derr := u.obj.If(storage.Conditions{GenerationMatch: a.Generation}).Delete(dctx); derr != nil {
		return fmt.Errorf("%w; delete it: %w", err, derr)
	}
	return err
}

// existing decides a 412: the object at the key is this chunk's (same
// chunk id, CRC32C and size: a retry after a lost answer, done) or another
// (ErrObjectExists: the chunk is kept and the object left alone).
func (u *upload) existing(ctx context.Context) error {
	actx, cancel := context.WithTimeout(ctx, u.o.cfg.ClientTimeout)
	defer cancel()
	a, err := u.obj.Attrs(actx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return errors.New("an object was at the key but is gone now; try again")
	}
	if err != nil {
		return fmt.Errorf("read the attributes of the object already at the key: %w", err)
	}
	id, crc, size := u.meta[objkey.MetaChunkID], u.enc.crc, u.enc.size
	if a.Metadata[objkey.MetaChunkID] == id && a.CRC32C == crc && a.Size == size {
		return nil
	}
	if a.Metadata[objkey.MetaChunkID] != id {
		// Marked taken: a key with %{index} moves to the next index.
		return objkey.Taken(fmt.Errorf("%w: it has chunk id %q, %d bytes, crc32c %08x; this chunk %q has %d bytes, crc32c %08x",
			ErrObjectExists, a.Metadata[objkey.MetaChunkID], a.Size, a.CRC32C, id, size, crc))
	}
	return fmt.Errorf("%w: it has chunk id %q, %d bytes, crc32c %08x; this chunk %q has %d bytes, crc32c %08x",
		ErrObjectExists, a.Metadata[objkey.MetaChunkID], a.Size, a.CRC32C, id, size, crc)
}
