package gcs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/output/objkey"
)

func TestErrorClassification(t *testing.T) {
	gerr := func(code int, reason, msg string) error {
		e := &googleapi.Error{Code: code, Message: msg}
		if reason != "" {
			e.Errors = []googleapi.ErrorItem{{Reason: reason, Message: msg}}
		}
		return fmt.Errorf("wrapped: %w", e)
	}
	for _, tt := range []struct {
		name      string
		err       error
		permanent bool
		text      string // expected in the wrapped message
	}{
		{"400 bad request", gerr(400, "invalid", "Invalid argument."), true, ""},
		{"400 crc32c mismatch", gerr(400, "invalid", "Provided CRC32C \"AAAA\" doesn't match calculated CRC32C \"BBBB\"."), false, ""},
		{"400 md5 mismatch", gerr(400, "invalid", "Provided MD5 hash doesn't match"), false, ""},
		{"400 object name", gerr(400, "invalid", "The specified object name is not valid."), true, ""},
		{"400 metadata too large", gerr(400, "invalid", "Metadata part is too large."), true, ""},
		{"413 metadata too large", gerr(413, "", "Request Entity Too Large"), true, ""},
		{"key too long", fmt.Errorf("%w: 1100 bytes", objkey.ErrObjectKey), true, ""},
		{"401 unauthenticated", gerr(401, "required", "Login Required"), true, ""},
		{"403 access denied", gerr(403, "forbidden", "does not have storage.objects.create access"), true, ""},
		{"403 rate limit", gerr(403, "rateLimitExceeded", "Rate limit exceeded"), false, ""},
		{"403 user rate limit", gerr(403, "userRateLimitExceeded", "slow down"), false, ""},
		{"404 bucket", gerr(404, "notFound", "The specified bucket does not exist."), true, `bucket "b" does not exist`},
		{"bucket sentinel", storage.ErrBucketNotExist, true, `bucket "b" does not exist`},
		{"408 timeout", gerr(408, "", "timeout"), false, ""},
		{"410 session gone", gerr(410, "", "gone"), false, ""},
		{"412 other object", fmt.Errorf("%w: it has chunk id", ErrObjectExists), true, ""},
		{"429 too many", gerr(429, "rateLimitExceeded", "slow"), false, ""},
		{"500", gerr(500, "backendError", "oops"), false, ""},
		{"503", gerr(503, "", "unavailable"), false, ""},
		{"checksum", fmt.Errorf("%w: stored", ErrChecksum), false, ""},
		{"connection reset", &url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}}, false, ""},
		{"unexpected EOF", io.ErrUnexpectedEOF, false, ""},
		{"deadline", context.DeadlineExceeded, false, ""},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), false, ""},
		{"token 400 invalid_grant", &auth.Error{Response: &http.Response{StatusCode: 400}, Err: errors.New("invalid_grant")}, true, ""},
		{"token 503", &auth.Error{Response: &http.Response{StatusCode: 503}}, false, ""},
		{"keyfile", fmt.Errorf("%w: 'keyfile': no such file", errCredentials), true, ""},
		{"malformed records", fmt.Errorf("record 3: %w", event.ErrEntry), true, ""},
		{"unknown", errors.New("something odd"), false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := &Output{cfg: Config{Bucket: "b"}}
			err := o.wrap("gs://b/k", tt.err)
			if buffer.IsPermanent(err) != tt.permanent {
				t.Errorf("%v: permanent %v, want %v", err, buffer.IsPermanent(err), tt.permanent)
			}
			if !strings.HasPrefix(err.Error(), "put gs://b/k: ") || !strings.Contains(err.Error(), tt.text) || !errors.Is(err, tt.err) {
				t.Errorf("message %q", err)
			}
		})
	}
}

func TestRetryBudget(t *testing.T) {
	b := newRetryBudget(2)
	e503 := &googleapi.Error{Code: 503}
	if !b.shouldRetry(e503) || !b.shouldRetry(e503) || b.shouldRetry(e503) {
		t.Fatal("want two retries, then none")
	}
	b.reset()
	if b.shouldRetry(&googleapi.Error{Code: 403}) {
		t.Error("403 retried")
	}
	if !b.shouldRetry(e503) {
		t.Error("no retry after a chunk went through")
	}
	if newRetryBudget(0).shouldRetry(e503) {
		t.Error("client_retries 0 retried")
	}
}
