package gcs

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"strconv"
	"sync/atomic"
	"time"

	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/objkey"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errRecount is attempt's error when a resumable upload was started with
// a count of records in its metadata that the encoder then did not write.
var errRecount = errors.New("gcs: the resumable upload announced another number of records")

// put encodes one object to key, create-only. encode writes the object's
// bytes to the io.Writer it is given; meta's MetaRecords is the count the
// chunk announces, replaced by the number of records encode wrote.
//
// barge-records must count the records the object holds. An object sent
// in one request goes with its metadata after the whole object is
// encoded, so the count is known. A resumable upload sends the metadata
// first: when the encoder then rejects records, that upload is abandoned
// (never finalized) and the object encoded and uploaded once more with the
// count the first pass found (the Encoder is deterministic). Rejects are
// rare; this costs nothing without them.
func (o *Output) put(ctx context.Context, key string, meta map[string]string, encode func(io.Writer) (format.Stats, error)) error {
	where := "gs://" + o.cfg.Bucket + "/" + key
	if err := ctx.Err(); err != nil {
		return o.wrap(where, err)
	}
	if err := objkey.CheckObjectKey(key); err != nil {
		return buffer.Permanent(fmt.Errorf("put %s: %w", where, err))
	}
	cl, err := o.storageClient(ctx)
	if err != nil {
		return o.wrap(where, err)
	}
	meta = maps.Clone(meta)
	maps.Copy(meta, o.userMeta)
	start := time.Now()
	stats, u, err := o.attempt(ctx, cl, key, meta, encode)
	if errors.Is(err, errRecount) {
		objkey.SetRecords(meta, stats.Records)
		stats, u, err = o.attempt(ctx, cl, key, meta, encode)
		if errors.Is(err, errRecount) { // not deterministic after all: try again later
			err = fmt.Errorf("%w: %s announced, %d encoded", err, meta[objkey.MetaRecords], stats.Records)
		}
	}
	if err != nil {
		if isNotFound(err) && u.progressed.Load() {
			// Not the bucket: the resumable session was lost after chunks
			// went through. A new flush starts a new one.
			return fmt.Errorf("put %s: resumable upload session lost: %w", where, err)
		}
		return o.wrap(where, err)
	}
	o.uploads.Observe(time.Since(start))
	o.log.Debug("put object", "path", where, "chunk_id", meta[objkey.MetaChunkID], "records", stats.Records, "bytes", u.size)
	return stats.Err()
}

// attempt encodes the object into one upload and finishes it, unless the
// encoder rejected every record (a permanent error, nothing finalized) or
// a resumable upload announced a count of records in meta other than what
// was written (errRecount, the upload abandoned).
func (o *Output) attempt(ctx context.Context, cl *storage.Client, key string, meta map[string]string, encode func(io.Writer) (format.Stats, error)) (format.Stats, *upload, error) {
	budget := newRetryBudget(o.cfg.ClientRetries)
	obj := cl.Bucket(o.cfg.Bucket).Object(key).Retryer(
		storage.WithBackoff(gax.Backoff{Initial: 250 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2}),
		storage.WithMaxAttempts(o.cfg.ClientRetries+1),
		storage.WithErrorFunc(budget.shouldRetry),
	)
	if o.encKey != nil {
		obj = obj.Key(o.encKey)
	}
	uctx, cancel := context.WithCancel(ctx)
	defer cancel()
	u := &upload{o: o, obj: obj, meta: meta, budget: budget, ctx: uctx, cancel: cancel}
	if p, ok := o.bufs.Get().(*[]byte); ok {
		u.buf = (*p)[:0]
	}
	defer u.release()

	stats, err := encode(u)
	switch {
	case err != nil:
		u.abort()
		if u.err != nil && errors.Is(err, u.err) {
			err = u.err
		}
	case stats.AllRejected():
		u.abort()
		err = stats.Err()
	case u.w == nil: // one request, sent now: with the count
		objkey.SetRecords(meta, stats.Records)
		err = u.finish(ctx)
	case meta[objkey.MetaRecords] != strconv.Itoa(stats.Records):
		u.abort()
		err = errRecount
	default:
		err = u.finish(ctx)
	}
	return stats, u, err
}

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

// upload is one object on its way: the Encoder writes into it. The first
// chunk_size bytes are gathered in buf; an object that ends there goes in
// one request with its CRC32C and MD5 declared. Past that, a resumable
// upload starts and the bytes stream through it, chunk_size per request.
type upload struct {
	o      *Output
	obj    *storage.ObjectHandle // without conditions: for reading attrs
	meta   map[string]string
	budget *retryBudget
	ctx    context.Context // the resumable upload's: canceled to abort it
	cancel context.CancelFunc

	buf    []byte
	w      *storage.Writer // the resumable upload, once buf overflowed
	crc    uint32          // CRC32C of every byte encoded
	size   int64
	exists bool  // the server answered 412: the rest is only hashed
	err    error // the resumable writer's error
	// progressed is set once a resumable chunk went through.
	progressed atomic.Bool
}

// Write takes encoded bytes. It never holds more than chunk_size of them.
func (u *upload) Write(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	if err := u.ctx.Err(); err != nil {
		return 0, err
	}
	u.crc = crc32.Update(u.crc, castagnoli, p)
	u.size += int64(len(p))
	switch {
	case u.exists:
		return len(p), nil
	case u.w == nil && int64(len(u.buf)+len(p)) <= u.o.chunkSize:
		if cap(u.buf)-len(u.buf) < len(p) {
			// Grow, but never past chunk_size, so the buffer can be pooled.
			n := min(max(2*cap(u.buf), len(u.buf)+len(p), 64<<10), int(u.o.chunkSize))
			u.buf = append(make([]byte, 0, n), u.buf...)
		}
		u.buf = append(u.buf, p...)
		return len(p), nil
	case u.w == nil:
		u.w = u.newWriter(u.ctx, int(u.o.chunkSize))
		err := u.send(u.buf)
		u.release() // the writer has copied it
		if err != nil {
			return 0, err
		}
	}
	if err := u.send(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// send writes to the resumable upload; a 412 turns the upload into
// hashing only, to compare with the object that is there.
func (u *upload) send(p []byte) error {
	if u.exists {
		return nil
	}
	if _, err := u.w.Write(p); err != nil {
		if isPreconditionFailed(err) {
			u.exists = true
			return nil
		}
		u.err = err
		return err
	}
	return nil
}

func (u *upload) newWriter(ctx context.Context, chunkSize int) *storage.Writer {
	o := u.o
	w := u.obj.If(storage.Conditions{DoesNotExist: true}).NewWriter(ctx)
	w.ChunkSize = chunkSize
	w.ContentType = o.contentType
	w.ContentEncoding = o.encoding
	w.Metadata = u.meta
	w.StorageClass = o.storClass
	w.PredefinedACL = o.acl
	w.ChunkTransferTimeout = o.cfg.ClientTimeout
	w.ChunkRetryDeadline = 2 * o.cfg.ClientTimeout
	w.ProgressFunc = func(int64) {
		u.budget.reset()
		u.progressed.Store(true)
	}
	return w
}

// finish completes the object after the last byte was encoded.
func (u *upload) finish(ctx context.Context) error {
	if u.w == nil {
		return u.putSingle(ctx)
	}
	if u.exists {
		u.abort()
		return u.existing(ctx)
	}
	if err := u.w.Close(); err != nil {
		if isPreconditionFailed(err) {
			return u.existing(ctx)
		}
		return err
	}
	return u.verify(ctx, u.w.Attrs())
}

// abort ends a resumable upload without finalizing the object.
func (u *upload) abort() {
	u.cancel() // first: a Close after it can no longer send the last request
	if u.w != nil {
		u.w.Close()
	}
}

// putSingle sends buf in one request with its CRC32C and MD5 declared, so
// GCS checks them. The client cannot retry a request it does not buffer,
// so the quick retries are made here, bounded by client_retries.
func (u *upload) putSingle(ctx context.Context) error {
	sum := md5.Sum(u.buf)
	delay := 250 * time.Millisecond
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(u.ctx, u.o.cfg.ClientTimeout)
		w := u.newWriter(actx, 0)
		w.CRC32C, w.SendCRC32C = u.expectCRC(), true
		w.MD5 = sum[:]
		_, err := w.Write(u.buf)
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
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// expectCRC is the CRC32C the object must have.
func (u *upload) expectCRC() uint32 {
	if u.o.testCRC != nil {
		return u.o.testCRC(u.crc)
	}
	return u.crc
}

// verify checks the new object against what was encoded. A mismatch (a
// server that did not check, bytes damaged where nothing checked them)
// deletes the object, if it is still that generation, and fails the flush
// so it is retried.
func (u *upload) verify(ctx context.Context, a *storage.ObjectAttrs) error {
	if a == nil || (a.CRC32C == u.expectCRC() && a.Size == u.size) {
		return nil
	}
	err := fmt.Errorf("%w: stored %d bytes with crc32c %08x, encoded %d bytes with crc32c %08x",
		ErrChecksum, a.Size, a.CRC32C, u.size, u.expectCRC())
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
	id := u.meta[objkey.MetaChunkID]
	if a.Metadata[objkey.MetaChunkID] == id && a.CRC32C == u.crc && a.Size == u.size {
		return nil
	}
	if a.Metadata[objkey.MetaChunkID] != id {
		// Marked taken: a key with %{index} moves to the next index.
		return objkey.Taken(fmt.Errorf("%w: it has chunk id %q, %d bytes, crc32c %08x; this chunk %q has %d bytes, crc32c %08x",
			ErrObjectExists, a.Metadata[objkey.MetaChunkID], a.Size, a.CRC32C, id, u.size, u.crc))
	}
	return fmt.Errorf("%w: it has chunk id %q, %d bytes, crc32c %08x; this chunk %q has %d bytes, crc32c %08x",
		ErrObjectExists, a.Metadata[objkey.MetaChunkID], a.Size, a.CRC32C, id, u.size, u.crc)
}

// release returns buf to the pool.
func (u *upload) release() {
	if u.buf != nil && int64(cap(u.buf)) <= u.o.chunkSize {
		b := u.buf[:0]
		u.o.bufs.Put(&b)
	}
	u.buf = nil
}
