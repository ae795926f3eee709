package s3

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// startTimeout bounds the checks of Start: a store that does not answer
// fails the start after at most this long, as fluent-plugin-s3's start
// fails.
const startTimeout = 30 * time.Second

// Start runs fluent-plugin-s3's checks before the first flush, each naming
// the bucket and the endpoint when it fails:
//
//   - check_apikey_on_start lists at most one object under the fixed part
//     of path (ListObjectsV2): bad or missing credentials, an unreachable
//     endpoint or a wrong region fail the start. NoSuchBucket is left to
//     check_bucket. AccessDenied passes: the store accepted the
//     credentials, and barge's writes do not need s3:ListBucket.
//   - check_bucket asks for the bucket (HeadBucket). A 403 passes, as in
//     fluent-plugin-s3 (the bucket exists; the writes will tell whether
//     they are allowed). A missing bucket is created in s3_region when
//     auto_create_bucket is true, and fails the start otherwise.
//
// It also logs which credentials are used when several are given.
func (o *Output) Start(ctx context.Context) error {
	cc := o.cfg.ClientConfig()
	if src := cc.credentialSources(); len(src) > 1 {
		o.log.Warn("several credentials are given: the first is used", "used", src[0], "ignored", strings.Join(src[1:], ", "))
	}
	if !o.cfg.CheckApikeyOnStart && !o.cfg.CheckBucket {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	cl, err := o.client(ctx)
	if err != nil {
		return fmt.Errorf("s3://%s: %w", o.cfg.S3Bucket, err)
	}
	if o.cfg.CheckApikeyOnStart {
		if err := o.checkAPIKey(ctx, cl); err != nil {
			return err
		}
	}
	if o.cfg.CheckBucket {
		return o.ensureBucket(ctx, cl)
	}
	return nil
}

// checkAPIKey is check_apikey_on_start.
func (o *Output) checkAPIKey(ctx context.Context, cl *s3.Client) error {
	prefix := fixedPrefix(o.cfg.Path)
	in := &s3.ListObjectsV2Input{Bucket: aws.String(o.cfg.S3Bucket), MaxKeys: aws.Int32(1)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	_, err := cl.ListObjectsV2(ctx, in)
	switch code := errorCode(err); {
	case err == nil, code == "NoSuchBucket":
		return nil
	case code == "AccessDenied":
		o.log.Info("check_apikey_on_start: the credentials are accepted; listing the bucket is not allowed", "path", "s3://"+o.cfg.S3Bucket)
		return nil
	}
	return fmt.Errorf("check_apikey_on_start: list s3://%s/%s at %s: %w", o.cfg.S3Bucket, prefix, o.endpoint(cl), o.startError(ctx, cl, err))
}

// ensureBucket is check_bucket and auto_create_bucket.
func (o *Output) ensureBucket(ctx context.Context, cl *s3.Client) error {
	_, err := cl.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(o.cfg.S3Bucket)})
	switch status := httpStatus(err); {
	case err == nil, status == 403:
		return nil
	case status == 404:
		if !o.cfg.AutoCreateBucket {
			return fmt.Errorf("check_bucket: s3_bucket %q does not exist at %s, and auto_create_bucket is false", o.cfg.S3Bucket, o.endpoint(cl))
		}
		return o.createBucket(ctx, cl)
	}
	return fmt.Errorf("check_bucket: head s3://%s at %s: %w", o.cfg.S3Bucket, o.endpoint(cl), o.startError(ctx, cl, err))
}

// createBucket creates the bucket in the client's region (s3_region),
// as fluent-plugin-s3's auto_create_bucket. A bucket created meanwhile by
// the same owner (another barge) is no error.
func (o *Output) createBucket(ctx context.Context, cl *s3.Client) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(o.cfg.S3Bucket)}
	region := cl.Options().Region
	if region != "" && region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(region)}
	}
	_, err := cl.CreateBucket(ctx, in)
	if err != nil && errorCode(err) != "BucketAlreadyOwnedByYou" {
		return fmt.Errorf("auto_create_bucket: create s3://%s in region %s at %s: %w", o.cfg.S3Bucket, region, o.endpoint(cl), o.startError(ctx, cl, err))
	}
	o.log.Info("created the bucket (auto_create_bucket)", "path", "s3://"+o.cfg.S3Bucket)
	return nil
}

// endpoint names where requests go: s3_endpoint, or AWS and the region.
func (o *Output) endpoint(cl *s3.Client) string {
	if o.cfg.S3Endpoint != "" {
		return o.cfg.S3Endpoint
	}
	return "AWS S3 region " + cl.Options().Region
}

// startError explains err where it can: a bucket in another region (S3
// answers 301 with the bucket's region), or no answer within
// startTimeout.
func (o *Output) startError(ctx context.Context, cl *s3.Client, err error) error {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		if r := re.Response.Header.Get("X-Amz-Bucket-Region"); r != "" && r != cl.Options().Region {
			return fmt.Errorf("the bucket is in region %s, not s3_region %s: %w", r, cl.Options().Region, err)
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %v: %w", startTimeout, err)
	}
	return err
}

// fixedPrefix is the part of path before its first placeholder.
func fixedPrefix(path string) string {
	if i := strings.IndexAny(path, "$%"); i >= 0 {
		return path[:i]
	}
	return path
}
