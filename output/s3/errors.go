package s3

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/objkey"
)

// permanentCodes are S3 error codes that retrying the same request cannot
// fix: the chunk is set aside (<secondary> or failed/) instead.
var permanentCodes = map[string]bool{
	"AccessDenied":                    true,
	"AccountProblem":                  true,
	"AllAccessDisabled":               true,
	"InvalidAccessKeyId":              true,
	"SignatureDoesNotMatch":           true,
	"InvalidSecurity":                 true,
	"NoSuchBucket":                    true,
	"InvalidBucketName":               true,
	"InvalidArgument":                 true,
	"InvalidRequest":                  true,
	"InvalidStorageClass":             true,
	"InvalidEncryptionAlgorithmError": true,
	"MissingSecurityHeader":           true,
	"MetadataTooLarge":                true,
	"EntityTooLarge":                  true,
	"AccessControlListNotSupported":   true,
	"KMS.NotFoundException":           true,
	"KMS.DisabledException":           true,
	"KMS.KMSInvalidStateException":    true,
	// The key itself: too long, or characters a store does not take.
	"KeyTooLongError":         true,
	"InvalidURI":              true,
	"InvalidObjectName":       true,
	"XMinioInvalidObjectName": true,
	// A store that does not implement conditional writes cannot give
	// create-only semantics, however often we ask.
	"NotImplemented": true,
}

// transientCodes win over the HTTP status (ExpiredToken comes as 400 and
// is fixed by the next credentials refresh).
var transientCodes = map[string]bool{
	"SlowDown":                   true,
	"InternalError":              true,
	"ServiceUnavailable":         true,
	"RequestTimeout":             true,
	"RequestTimeTooSkewed":       true,
	"ExpiredToken":               true,
	"TokenRefreshRequired":       true,
	"OperationAborted":           true,
	"ConditionalRequestConflict": true,
	"NoSuchUpload":               true,
}

// IsPermanent reports whether err, from the S3 SDK or the encoder, cannot
// be fixed by retrying: access denied, a missing bucket, bad credentials
// or settings, a key or metadata the store refuses (KeyTooLongError,
// InvalidObjectName, MetadataTooLarge, InvalidArgument), malformed records.
// Throttling, 5xx, timeouts, connection resets and anything unknown are
// transient.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if buffer.IsPermanent(err) || format.IsDataError(err) || errors.Is(err, objkey.ErrObjectKey) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		if transientCodes[code] {
			return false
		}
		if permanentCodes[code] {
			return true
		}
	}
	switch httpStatus(err) {
	case 401, 403:
		return true
	}
	return false
}

// httpStatus returns the HTTP status of an SDK error, 0 if it has none.
func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// errorCode returns the S3 error code of an SDK error, "" if it has none.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isPreconditionFailed reports a create-only write that found an object.
func isPreconditionFailed(err error) bool {
	return errorCode(err) == "PreconditionFailed" || httpStatus(err) == 412
}

// isNotFound reports a HeadObject of a missing key.
func isNotFound(err error) bool {
	c := errorCode(err)
	return c == "NotFound" || c == "NoSuchKey" || (httpStatus(err) == 404 && c != "NoSuchBucket")
}

// wrap names the object in err ("put s3://BUCKET/KEY: step: ...") and marks
// it buffer.Permanent when retrying cannot help.
func (o *Output) wrap(key, step string, err error) error {
	if step != "" {
		step += ": "
	}
	e := fmt.Errorf("put s3://%s/%s: %s%w", o.cfg.S3Bucket, key, step, err)
	if IsPermanent(err) && !buffer.IsPermanent(err) {
		return buffer.Permanent(e)
	}
	return e
}
