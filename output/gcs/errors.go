package gcs

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
)

// ErrObjectExists is wrapped (with buffer.Permanent) by Flush's error when
// a different object, not this chunk's, is at the chunk's key.
var ErrObjectExists = errors.New("gcs: a different object exists at the key")

// ErrChecksum is wrapped by Flush's error when the stored object's CRC32C
// or size differs from what barge encoded; the object is deleted and the
// chunk retried.
var ErrChecksum = errors.New("gcs: stored object does not match the encoded chunk")

// errClosed is returned by Flush after Close.
var errClosed = errors.New("gcs: output closed")

// errCredentials marks a keyfile that cannot be used: a permanent error.
var errCredentials = errors.New("gcs: credentials")

// isPermanent reports whether err, from a write or a metadata call, will not
// go away by retrying: bad requests, authentication and permission errors,
// a missing bucket, unusable credentials. Rate limits, timeouts, 5xx,
// connection errors and anything unknown are transient: the buffer retries
// them with its backoff.
func isPermanent(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, storage.ErrBucketNotExist) || errors.Is(err, errCredentials) {
		return true
	}
	var ae *auth.Error // fetching a token
	if errors.As(err, &ae) && ae.Response != nil {
		return permanentStatus(ae.Response.StatusCode, nil, "")
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return permanentStatus(ge.Code, ge.Errors, ge.Message)
	}
	return false
}

// permanentStatus classifies an HTTP status of the JSON API.
func permanentStatus(code int, items []googleapi.ErrorItem, msg string) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests,
		code == http.StatusGone, // an expired resumable session: start again
		code >= 500:
		return false
	case code == http.StatusForbidden:
		for _, it := range items { // GCS's older rate-limit answers
			if it.Reason == "rateLimitExceeded" || it.Reason == "userRateLimitExceeded" {
				return false
			}
		}
		return true
	case code == http.StatusBadRequest:
		// A declared checksum that does not match the data received: the
		// bytes were damaged on the way, send them again.
		m := strings.ToLower(msg)
		for _, it := range items {
			m += " " + strings.ToLower(it.Message)
		}
		return !strings.Contains(m, "crc32c") && !strings.Contains(m, "md5")
	case code >= 400:
		return true
	}
	return false
}

// isPreconditionFailed reports a 412: with ifGenerationMatch=0, an object
// already exists at the key.
func isPreconditionFailed(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusPreconditionFailed
}

// isNotFound reports a 404 from the JSON API.
func isNotFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
}

// retryBudget bounds the quick retries of one upload (the storage
// client's, putSingle's, a resumable session's): at most n retries in a
// row, counted again from n after each request of a resumable upload that
// goes through, so the buffer's backoff governs and there is never a hot
// loop inside the output.
type retryBudget struct {
	n    int32
	left atomic.Int32
}

func newRetryBudget(n int) *retryBudget {
	b := &retryBudget{n: int32(n)}
	b.left.Store(b.n)
	return b
}

func (b *retryBudget) shouldRetry(err error) bool {
	return storage.ShouldRetry(err) && b.left.Add(-1) >= 0
}

// spend takes one retry for a failure that is not an error (a request
// that went through without progress), reporting whether there was one.
func (b *retryBudget) spend() bool { return b.left.Add(-1) >= 0 }

func (b *retryBudget) reset() { b.left.Store(b.n) }
