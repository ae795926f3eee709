package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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

// firstBlock is the initial capacity of the first block: small chunks do
// not cost a whole part_size of memory.
const firstBlock = 64 << 10

// errMissing is checkExisting's answer when no object is at the key.
var errMissing = errors.New("s3: no object at the key")

// upload is the io.Writer the Encoder writes one object into. It keeps
// the encoded bytes in blocks of part_size. While they fit in
// multipart_threshold they stay in memory and finish sends them with one
// PutObject. When they outgrow it, upload starts a multipart upload: every
// full block becomes a part, uploaded by its own goroutine while the
// encoder goes on, at most multipart_concurrency at a time (Write blocks
// until a slot is free), and finish completes the upload. Memory is about
// (multipart_concurrency+1) * part_size, whatever the chunk's size.
//
// Write, finish and abort run on the flushing goroutine; part goroutines
// share only parts, sums and err, under mu.
type upload struct {
	o       *Output
	cl      *s3.Client
	parent  context.Context         // the flush's context
	ctx     context.Context         // the parts' context, cancelled on the first failure
	cancel  context.CancelCauseFunc // cancels ctx
	key     string
	chunkID string
	meta    map[string]string

	blocks [][]byte // written and not yet handed to a part; only the last may be partial
	size   int64    // bytes written

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

func (o *Output) newUpload(ctx context.Context, cl *s3.Client, key, chunkID string, meta map[string]string) *upload {
	pctx, cancel := context.WithCancelCause(ctx)
	return &upload{o: o, cl: cl, parent: ctx, ctx: pctx, cancel: cancel, key: key, chunkID: chunkID, meta: meta}
}

func (u *upload) nparts() int { return int(u.next) }

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

// Write buffers p, starting a multipart upload when the object outgrows
// multipart_threshold and handing each full block to a part upload.
func (u *upload) Write(p []byte) (int, error) {
	if err := u.failure(); err != nil {
		return 0, err
	}
	partSize := int(u.o.cfg.PartSize)
	n := len(p)
	for len(p) > 0 {
		if len(u.blocks) == 0 || len(u.blocks[len(u.blocks)-1]) == partSize {
			if len(u.blocks) == 0 && u.size == 0 {
				u.blocks = append(u.blocks, make([]byte, 0, min(firstBlock, partSize)))
			} else {
				u.blocks = append(u.blocks, u.o.getBlock())
			}
		}
		b := u.blocks[len(u.blocks)-1]
		take := min(partSize-len(b), len(p))
		if cap(b)-len(b) < take {
			nb := make([]byte, len(b), min(max(2*cap(b), len(b)+take), partSize))
			copy(nb, b)
			b = nb
		}
		b = append(b, p[:take]...)
		u.blocks[len(u.blocks)-1] = b
		p = p[take:]
		u.size += int64(take)
		if u.uploadID == "" && u.size > u.o.cfg.MultipartThreshold {
			if err := u.startMultipart(); err != nil {
				return n - len(p), u.fail(err)
			}
		}
		if u.uploadID != "" {
			for len(u.blocks) > 0 && len(u.blocks[0]) == partSize {
				b := u.blocks[0]
				u.blocks = u.blocks[1:]
				if err := u.submit(b); err != nil {
					return n - len(p), err
				}
			}
		}
	}
	return n, nil
}

// finish sends what Write buffered: one PutObject, or the last part and
// CompleteMultipartUpload.
func (u *upload) finish() error {
	if u.uploadID == "" {
		return u.putObject()
	}
	for _, b := range u.blocks {
		if len(b) > 0 {
			if err := u.submit(b); err != nil {
				return err
			}
		}
	}
	u.blocks = nil
	u.wg.Wait()
	if err := u.failure(); err != nil {
		return err
	}
	return u.complete()
}

// putObject uploads the buffered object with If-None-Match: *.
func (u *upload) putObject() error {
	h := md5.New()
	for _, b := range u.blocks {
		h.Write(b)
	}
	sum := h.Sum(nil)
	var body io.ReadSeeker
	switch len(u.blocks) {
	case 0:
		body = bytes.NewReader(nil)
	case 1:
		body = bytes.NewReader(u.blocks[0])
	default:
		body = io.NewSectionReader(blockReader(u.blocks), 0, u.size)
	}
	c := &u.o.cfg
	in := &s3.PutObjectInput{
		Bucket:        &c.S3Bucket,
		Key:           &u.key,
		Body:          body,
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
	u.release()
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

// release recycles the blocks not handed to a part.
func (u *upload) release() {
	for _, b := range u.blocks {
		u.o.putBlock(b)
	}
	u.blocks = nil
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

// blockReader reads blocks as one byte sequence.
type blockReader [][]byte

func (br blockReader) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for _, b := range br {
		if off >= int64(len(b)) {
			off -= int64(len(b))
			continue
		}
		c := copy(p[n:], b[off:])
		n += c
		off = 0
		if n == len(p) {
			return n, nil
		}
	}
	return n, io.EOF
}
