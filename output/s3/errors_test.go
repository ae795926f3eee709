package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/output/objkey"
)

// sdkError is an error as the SDK returns it: an operation error around
// an HTTP response error around the API error.
func sdkError(status int, code string) error {
	var inner error = &smithy.GenericAPIError{Code: code, Message: "test"}
	if code == "" {
		inner = errors.New("no body")
	}
	return &smithy.OperationError{ServiceID: "S3", OperationName: "PutObject", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      inner,
		},
		RequestID: "req",
	}}
}

func TestIsPermanent(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"AccessDenied", sdkError(403, "AccessDenied"), true},
		{"NoSuchBucket", sdkError(404, "NoSuchBucket"), true},
		{"InvalidAccessKeyId", sdkError(403, "InvalidAccessKeyId"), true},
		{"SignatureDoesNotMatch", sdkError(403, "SignatureDoesNotMatch"), true},
		{"InvalidStorageClass", sdkError(400, "InvalidStorageClass"), true},
		{"MetadataTooLarge", sdkError(400, "MetadataTooLarge"), true},
		{"KeyTooLongError", sdkError(400, "KeyTooLongError"), true},
		{"InvalidURI", sdkError(400, "InvalidURI"), true},
		{"XMinioInvalidObjectName", sdkError(400, "XMinioInvalidObjectName"), true},
		{"InvalidArgument (MinIO's unsupported metadata)", sdkError(400, "InvalidArgument"), true},
		{"object key", fmt.Errorf("x: %w", objkey.ErrObjectKey), true},
		{"NotImplemented", sdkError(501, "NotImplemented"), true},
		{"403 without body (HEAD)", sdkError(403, ""), true},
		{"bare API error", &smithy.GenericAPIError{Code: "AccessDenied"}, true},
		{"SlowDown", sdkError(503, "SlowDown"), false},
		{"InternalError", sdkError(500, "InternalError"), false},
		{"ServiceUnavailable", sdkError(503, "ServiceUnavailable"), false},
		{"RequestTimeout", sdkError(400, "RequestTimeout"), false},
		{"RequestTimeTooSkewed", sdkError(403, "RequestTimeTooSkewed"), false},
		{"ExpiredToken", sdkError(400, "ExpiredToken"), false},
		{"ConditionalRequestConflict", sdkError(409, "ConditionalRequestConflict"), false},
		{"NoSuchUpload", sdkError(404, "NoSuchUpload"), false},
		{"PreconditionFailed", sdkError(412, "PreconditionFailed"), false},
		{"502 without body", sdkError(502, ""), false},
		{"429", sdkError(429, "TooManyRequests"), false},
		{"unknown code", sdkError(400, "SomethingNew"), false},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, false},
		{"unexpected EOF", fmt.Errorf("read body: %w", io.ErrUnexpectedEOF), false},
		{"deadline", context.DeadlineExceeded, false},
		{"canceled", context.Canceled, false},
		{"malformed records", fmt.Errorf("record 3: %w", event.ErrEntry), true},
		{"already permanent", buffer.Permanent(errors.New("x")), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsPermanent(tc.err); got != tc.want {
				t.Errorf("IsPermanent(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestWrap(t *testing.T) {
	o := &Output{cfg: Config{S3Bucket: "b"}}
	err := o.wrap("k/x.gz", "upload part 2", sdkError(403, "AccessDenied"))
	if !buffer.IsPermanent(err) || err.Error()[:len("put s3://b/k/x.gz: upload part 2: ")] != "put s3://b/k/x.gz: upload part 2: " {
		t.Errorf("wrap = %v (permanent %v)", err, buffer.IsPermanent(err))
	}
	err = o.wrap("logs/"+strings.Repeat("k", 1100), "create multipart upload", sdkError(400, "KeyTooLongError"))
	if !buffer.IsPermanent(err) || !strings.HasPrefix(err.Error(), "put s3://b/logs/kkk") || !strings.Contains(err.Error(), "KeyTooLongError") {
		t.Errorf("wrap = %v", err)
	}
	err = o.wrap("k", "", sdkError(503, "SlowDown"))
	if buffer.IsPermanent(err) || err.Error()[:len("put s3://b/k: ")] != "put s3://b/k: " {
		t.Errorf("wrap = %v", err)
	}
	if !isPreconditionFailed(sdkError(412, "PreconditionFailed")) || isPreconditionFailed(sdkError(409, "ConditionalRequestConflict")) {
		t.Error("isPreconditionFailed")
	}
	if !isNotFound(sdkError(404, "NotFound")) || !isNotFound(sdkError(404, "")) || isNotFound(sdkError(404, "NoSuchBucket")) {
		t.Error("isNotFound")
	}
}
