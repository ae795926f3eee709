package s3

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/output/objkey"
)

// abortTimeout bounds AbortMultipartUpload, which runs even when the
// flush's context has ended.
const abortTimeout = 30 * time.Second

// errMissing is checkExisting's answer when no object is at the key.
var errMissing = errors.New("s3: no object at the key")

// upload is the io.Writer the Encoder writes one object into. It writes
// the encoded bytes into the attempt's spool (see buffer.Spool: an unnamed
// file beside a file chunk, memory for a memory chunk). While they fit in
// multipart_threshold, Write feeds them to the object's MD5 and finish
// sends the spool with one PutObject. When they outgrow it, upload starts
// a multipart upload: every full part_size of the spool becomes a part,
// uploaded as a section of the spool by its own goroutine (which computes
// the part's MD5 from it) while the encoder goes on, at most
// multipart_concurrency at a time (Write blocks until a slot is free), and
// finish completes the upload. A retry of a request by the SDK reads its
// section again. Memory is a few small buffers per part in flight,
// whatever part_size or the chunk's size (and, for a memory chunk, the
// spool itself).
//
// Write, finish and abort run on the flushing goroutine; part goroutines
// share only parts, sums and err, under mu, and read the spool.
type upload struct {
	o       *Output
	cl      *s3.Client
	parent  context.Context         // the flush's context
	ctx     context.Context         // the parts' context, cancelled on the first failure
	cancel  context.CancelCauseFunc // cancels ctx
	key     string
	chunkID string
	meta    map[string]string

	sp   *buffer.Spool
	size int64     // bytes written
	sum  hash.Hash // MD5 of the bytes written, while no multipart upload is open
	sent int64     // bytes handed to parts

	uploadID string // set while a multipart upload is open
	next     int32  // parts started
	sem      chan struct{}
	wg       sync.WaitGroup

	mu    sync.Mutex
	parts []types.CompletedPart
	sums  [][md5.Size]byte
	err   error // the first failure, already named by wrap

	existing bool // an earlier attempt's object was found and kept
}

func (o *Output) newUpload(ctx context.Context, cl *s3.Client, sp *buffer.Spool, key, chunkID string, meta map[string]string) *upload {
	pctx, cancel := context.WithCancelCause(ctx)
	return &upload{o: o, cl: cl, parent: ctx, ctx: pctx, cancel: cancel, key: key, chunkID: chunkID, meta: meta,
		sp: sp, sum: md5.New()}
}

func (u *upload) nparts() int { return int(u.next) }

// close ends the attempt: it stops and waits for the part uploads, if
// finish or abort did not, and closes the spool.
func (u *upload) close() {
	u.cancel(nil)
	u.wg.Wait()
	u.sp.Close() // an unnamed file or memory: nothing is lost with an error
}

// fail records the first failure and stops the other parts.
func (u *upload) fail(err error) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err == nil {
		u.err = err
		u.cancel(err)
	}
	return u.err
}

// failure returns the recorded failure, or the flush context's end.
func (u *upload) failure() error {
	u.mu.Lock()
	err := u.err
	u.mu.Unlock()
	if err != nil {
		return err
	}
	if err := u.parent.Err(); err != nil {
		return u.fail(u.o.wrap(u.key, "", err))
	}
	return nil
}

// Write appends p to the spool, starting a multipart upload when the
// object outgrows multipart_threshold and handing each full part to a
// part upload.
func (u *upload) Write(p []byte) (int, error) {
	if err := u.failure(); err != nil {
		return 0, err
	}
	n, err := u.sp.Write(p)
	u.size += int64(n)
	if err != nil {
		return n, u.fail(u.o.wrap(u.key, "", err))
	}
	if u.uploadID == "" {
		u.sum.Write(p)
		if u.size <= u.o.cfg.MultipartThreshold {
			return n, nil
		}
		if err := u.startMultipart(); err != nil {
			return n, u.fail(err)
		}
		u.sum = nil // the parts have their own
	}
	for partSize := u.o.cfg.PartSize; u.size-u.sent >= partSize; u.sent += partSize {
		if err := u.submit(u.sent, partSize); err != nil {
			return n, err
		}
	}
	return n, nil
}

// finish sends what Write spooled: one PutObject, or the last part and
// CompleteMultipartUpload.
func (u *upload) finish() error {
	if err := u.sp.Flush(); err != nil {
		return u.fail(u.o.wrap(u.key, "", err))
	}
	if u.uploadID == "" {
		return u.putObject()
	}
	if u.size > u.sent {
		if err := u.submit(u.sent, u.size-u.sent); err != nil {
			return err
		}
		u.sent = u.size
	}
	u.wg.Wait()
	if err := u.failure(); err != nil {
		return err
	}
	return u.complete()
}

// putObject uploads the spooled object with If-None-Match: *.
func (u *upload) putObject() error {
	sum := u.sum.Sum(nil)
	c := &u.o.cfg
	in := &s3.PutObjectInput{
		Bucket:        &c.S3Bucket,
		Key:           &u.key,
		Body:          u.sp.Section(0, u.size),
		ContentLength: aws.Int64(u.size),
		ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(sum)),
		ContentType:   aws.String(u.o.enc.ContentType()),
		Metadata:      u.meta,
		IfNoneMatch:   aws.String("*"),
		StorageClass:  types.StorageClass(c.StorageClass),
		ACL:           types.ObjectCannedACL(c.ACL),
	}
	u.o.sse(&in.ServerSideEncryption, &in.SSEKMSKeyId, &in.SSECustomerAlgorithm, &in.SSECustomerKey, &in.SSECustomerKeyMD5)
	_, err := u.cl.PutObject(u.ctx, in)
	if err == nil {
		return nil
	}
	if isPreconditionFailed(err) {
		return u.checkExisting(hex.EncodeToString(sum), err)
	}
	return u.o.wrap(u.key, "", err)
}

// checkExisting decides about the object found at the key by a
// create-only write that failed with cause: this chunk's own object from
// an earlier attempt (same barge-chunk-id metadata and same ETag, or same
// size where encryption makes ETags opaque) is nil; anything else is a
// permanent error, and the object stays as it is.
func (u *upload) checkExisting(etag string, cause error) error {
	in := &s3.HeadObjectInput{Bucket: &u.o.cfg.S3Bucket, Key: &u.key}
	u.o.sse(nil, nil, &in.SSECustomerAlgorithm, &in.SSECustomerKey, &in.SSECustomerKeyMD5)
	out, err := u.cl.HeadObject(u.ctx, in)
	if err != nil {
		if isNotFound(err) { // gone again, or never completed: retry
			return u.o.wrap(u.key, "", fmt.Errorf("%w, yet %w", cause, errMissing))
		}
		return u.o.wrap(u.key, "head existing object", err)
	}
	id := metaValue(out.Metadata, objkey.MetaChunkID)
	got := strings.Trim(aws.ToString(out.ETag), `"`)
	if id != u.chunkID {
		// Marked taken: a key with %{index} moves to the next index.
		return objkey.Taken(buffer.Permanent(fmt.Errorf("put s3://%s/%s: another object is at the key (%s %q, etag %s): not overwritten",
			u.o.cfg.S3Bucket, u.key, objkey.MetaChunkID, id, got)))
	}
	if got == etag || (u.o.opaqueETag() && aws.ToInt64(out.ContentLength) == u.size) {
		u.existing = true
		return nil
	}
	return buffer.Permanent(fmt.Errorf("put s3://%s/%s: an object of chunk %s with other content is at the key (etag %s, this attempt's %s, %d bytes): not overwritten",
		u.o.cfg.S3Bucket, u.key, u.chunkID, got, etag, u.size))
}

func (u *upload) path() string { return "s3://" + u.o.cfg.S3Bucket + "/" + u.key }

// metaValue looks up user metadata case-insensitively (S3 lowercases names).
func metaValue(m map[string]string, key string) string {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}
