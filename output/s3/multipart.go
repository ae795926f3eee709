package s3

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/barge-dev/barge/buffer"
)

// startMultipart aborts multipart uploads this chunk left at its key on
// earlier attempts, then opens a new one.
func (u *upload) startMultipart() error {
	if err := u.abortAbandoned(); err != nil {
		return err
	}
	c := &u.o.cfg
	in := &s3.CreateMultipartUploadInput{
		Bucket:       &c.S3Bucket,
		Key:          &u.key,
		ContentType:  aws.String(u.o.enc.ContentType()),
		Metadata:     u.meta,
		StorageClass: types.StorageClass(c.StorageClass),
		ACL:          types.ObjectCannedACL(c.ACL),
	}
	u.o.sse(&in.ServerSideEncryption, &in.SSEKMSKeyId, &in.SSECustomerAlgorithm, &in.SSECustomerKey, &in.SSECustomerKeyMD5)
	out, err := u.cl.CreateMultipartUpload(u.ctx, in)
	if err != nil {
		return u.o.wrap(u.key, "create multipart upload", err)
	}
	u.uploadID = aws.ToString(out.UploadId)
	u.sem = make(chan struct{}, c.MultipartConcurrency)
	return nil
}

// abortAbandoned aborts the multipart uploads open at the key: a crash or
// a failed abort on an earlier attempt of this chunk left them (the key
// holds the chunk id, so they are this chunk's). A store or a policy that
// does not allow listing them is logged once and otherwise ignored.
func (u *upload) abortAbandoned() error {
	in := &s3.ListMultipartUploadsInput{Bucket: &u.o.cfg.S3Bucket, Prefix: &u.key}
	for {
		out, err := u.cl.ListMultipartUploads(u.ctx, in)
		if err != nil {
			if u.ctx.Err() != nil {
				return u.o.wrap(u.key, "list multipart uploads", err)
			}
			u.o.listWarn.Do(func() {
				u.o.log.Warn("cannot list multipart uploads: abandoned uploads are not cleaned up (allow s3:ListBucketMultipartUploads, or add a lifecycle rule)",
					"path", u.path(), "err", err)
			})
			return nil
		}
		for _, up := range out.Uploads {
			if aws.ToString(up.Key) != u.key {
				continue
			}
			id := aws.ToString(up.UploadId)
			if err := u.abortID(id); err != nil {
				u.o.log.Warn("abort abandoned multipart upload", "path", u.path(), "upload_id", id, "err", err)
				continue
			}
			u.o.log.Info("aborted abandoned multipart upload", "path", u.path(), "upload_id", id, "chunk_id", u.chunkID)
		}
		if !aws.ToBool(out.IsTruncated) || (out.NextKeyMarker == nil && out.NextUploadIdMarker == nil) {
			return nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// submit uploads the n bytes at off of the spool as the next part on its
// own goroutine, once one of multipart_concurrency slots is free. The
// goroutine computes the part's MD5 from the spool, then sends the same
// section: the SDK reads it again for the payload hash (plain HTTP), the
// request and each of its retries.
func (u *upload) submit(off, n int64) error {
	if u.next >= maxParts {
		return u.fail(buffer.Permanent(fmt.Errorf("put s3://%s/%s: object needs more than %d parts of part_size %d: raise part_size",
			u.o.cfg.S3Bucket, u.key, maxParts, u.o.cfg.PartSize)))
	}
	if err := u.sp.Flush(); err != nil {
		return u.fail(u.o.wrap(u.key, "", err))
	}
	select {
	case u.sem <- struct{}{}:
	case <-u.ctx.Done():
		return u.failure()
	}
	u.next++
	num, id := u.next, u.uploadID
	u.mu.Lock()
	u.parts = append(u.parts, types.CompletedPart{PartNumber: aws.Int32(num)})
	u.sums = append(u.sums, [md5.Size]byte{})
	u.mu.Unlock()
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		defer func() { <-u.sem }()
		step := "upload part " + strconv.Itoa(int(num))
		var sum [md5.Size]byte
		h := md5.New()
		if k, err := io.Copy(h, u.sp.Section(off, n)); err != nil || k != n {
			if err == nil {
				err = fmt.Errorf("spool holds %d of its %d bytes", k, n)
			}
			u.fail(u.o.wrap(u.key, step, err))
			return
		}
		h.Sum(sum[:0])
		in := &s3.UploadPartInput{
			Bucket:        &u.o.cfg.S3Bucket,
			Key:           &u.key,
			UploadId:      aws.String(id),
			PartNumber:    aws.Int32(num),
			Body:          u.sp.Section(off, n),
			ContentLength: aws.Int64(n),
			ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		}
		u.o.sse(nil, nil, &in.SSECustomerAlgorithm, &in.SSECustomerKey, &in.SSECustomerKeyMD5)
		out, err := u.cl.UploadPart(u.ctx, in)
		if err != nil {
			u.fail(u.o.wrap(u.key, step, err))
			return
		}
		u.mu.Lock()
		u.parts[num-1].ETag = out.ETag
		u.sums[num-1] = sum
		u.mu.Unlock()
	}()
	return nil
}

// complete completes the multipart upload with If-None-Match: *.
func (u *upload) complete() error {
	in := &s3.CompleteMultipartUploadInput{
		Bucket:          &u.o.cfg.S3Bucket,
		Key:             &u.key,
		UploadId:        &u.uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts},
		IfNoneMatch:     aws.String("*"),
	}
	u.o.sse(nil, nil, &in.SSECustomerAlgorithm, &in.SSECustomerKey, &in.SSECustomerKeyMD5)
	_, err := u.cl.CompleteMultipartUpload(u.ctx, in)
	if err == nil {
		u.uploadID = ""
		return nil
	}
	// 412: an object is at the key. NoSuchUpload: this request may have
	// completed the upload on an attempt whose answer was lost.
	if isPreconditionFailed(err) || errorCode(err) == "NoSuchUpload" {
		if cerr := u.checkExisting(multipartETag(u.sums), err); cerr != nil {
			return cerr
		}
		u.abort() // ours, if still open: the object is there
		return nil
	}
	return u.o.wrap(u.key, "complete multipart upload", err)
}

// abort stops and waits for the part uploads and aborts an open
// multipart upload, with a context of its own if the flush's has ended.
// A failed abort is logged: the next attempt's abortAbandoned retries it.
func (u *upload) abort() {
	u.cancel(errors.New("s3: upload aborted"))
	u.wg.Wait()
	if u.uploadID == "" {
		return
	}
	id := u.uploadID
	u.uploadID = ""
	if err := u.abortID(id); err != nil {
		u.o.log.Warn("abort multipart upload", "path", u.path(), "upload_id", id, "chunk_id", u.chunkID, "err", err)
	}
}

func (u *upload) abortID(id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(u.parent), abortTimeout)
	defer cancel()
	_, err := u.cl.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &u.o.cfg.S3Bucket, Key: &u.key, UploadId: &id})
	if err != nil && errorCode(err) != "NoSuchUpload" {
		return err
	}
	return nil
}

// multipartETag is the ETag S3 gives a multipart object: the MD5 of the
// parts' binary MD5s, "-", the number of parts.
func multipartETag(sums [][md5.Size]byte) string {
	h := md5.New()
	for _, s := range sums {
		h.Write(s[:])
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(sums))
}
