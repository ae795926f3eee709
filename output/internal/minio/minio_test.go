package minio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestStart(t *testing.T) {
	s := Start(t)
	s.MakeBucket(t, "bkt")
	c := s.Client()
	ctx := context.Background()
	put := &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: bytes.NewReader([]byte("hello")), IfNoneMatch: aws.String("*")}
	if _, err := c.PutObject(ctx, put); err != nil {
		t.Fatal(err)
	}
	put.Body = bytes.NewReader([]byte("other"))
	_, err := c.PutObject(ctx, put)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "PreconditionFailed" {
		t.Fatalf("second create-only put: %v, want PreconditionFailed", err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	if string(b) != "hello" {
		t.Fatalf("object = %q", b)
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv("BARGE_TEST_CACHE", "/x")
	d, err := CacheDir()
	if err != nil || d != "/x/minio-"+Version {
		t.Fatalf("CacheDir = %q, %v", d, err)
	}
}
