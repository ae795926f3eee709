// Package minio starts a real MinIO server for tests: the proof that the s3
// output's create-only writes (If-None-Match: *) and multipart uploads work
// against an S3 implementation that enforces them.
//
// Start builds MinIO once from its Go module, at the pinned Version, into a
// cache directory ($BARGE_TEST_CACHE/minio-VERSION, or
// os.UserCacheDir()/barge-test/minio-VERSION), under a file lock so that
// test packages running in parallel build it once. The build takes about
// three minutes and 1.5 GB of memory on a cold module cache; afterwards
// Start takes well under a second. A build that fails fails the test with
// the go command's output: a missing server is never a skip.
//
// Each Start runs its own server on 127.0.0.1 with a temporary data
// directory, killed in t.Cleanup, and by the kernel (Pdeathsig) if the test
// binary dies first.
package minio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/barge-dev/barge/output/internal/testproc"
)

// Version is the pinned github.com/minio/minio module version: what
// `go list -m github.com/minio/minio@latest` resolved to in November 2026
// (RELEASE of 2026-02-12, commit 7aac2a2c5b7c).
const Version = "v0.0.0-20260212201848-7aac2a2c5b7c"

// Module is the Go module MinIO is built from.
const Module = "github.com/minio/minio"

// readyTimeout bounds the wait for /minio/health/ready.
const readyTimeout = 30 * time.Second

// Server is a running MinIO server.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Region    string

	tr *http.Transport
}

// Start starts a MinIO server for the test and stops it in t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	s := &Server{AccessKey: "barge-test", SecretKey: "barge-test-secret", Region: "us-east-1"}
	s.tr = http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(s.tr.CloseIdleConnections)
	var lastErr error
	for range 3 { // a port taken between picking and binding gets a second chance
		err := s.start(t, bin)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("minio: %v", lastErr)
	return nil
}

func (s *Server) start(t testing.TB, bin string) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	console, err := freeAddr()
	if err != nil {
		return err
	}
	dir := t.TempDir()
	logf, err := os.Create(filepath.Join(dir, "minio.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "server", filepath.Join(dir, "data"), "--address", addr, "--console-address", console, "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_REGION="+s.Region,
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	exited, stop, err := testproc.Start(cmd)
	if err != nil {
		return err
	}
	endpoint := "http://" + addr
	if err := waitReady(endpoint, exited, s.tr); err != nil {
		stop()
		out, _ := os.ReadFile(logf.Name())
		return fmt.Errorf("%w; server log:\n%s", err, out)
	}
	s.Endpoint = endpoint
	t.Cleanup(stop)
	return nil
}

// waitReady polls MinIO's readiness endpoint until it answers 200, the
// process exits or readyTimeout passes.
func waitReady(endpoint string, exited <-chan struct{}, tr http.RoundTripper) error {
	client := &http.Client{Transport: tr, Timeout: time.Second}
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("server exited before it was ready")
		case <-deadline.C:
			return fmt.Errorf("server not ready after %v", readyTimeout)
		case <-tick.C:
		}
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Client returns an S3 client for the server: path-style addressing, the
// root credentials, checksums only where S3 requires them. Its idle
// connections are closed when the test ends.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:                     s.Region,
		BaseEndpoint:               aws.String(s.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		HTTPClient:                 &http.Client{Transport: s.tr},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// MakeBucket creates a bucket.
func (s *Server) MakeBucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("minio: create bucket %q: %v", name, err)
	}
}

// CacheDir is where the MinIO binary of Version is kept.
func CacheDir() (string, error) {
	root := os.Getenv("BARGE_TEST_CACHE")
	if root == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory (set BARGE_TEST_CACHE): %w", err)
		}
		root = filepath.Join(c, "barge-test")
	}
	return filepath.Join(root, "minio-"+Version), nil
}

// Binary returns the path of the MinIO server binary, building it first if
// the cache does not have it. Concurrent callers, in this process or
// others, wait for one build.
func Binary(t testing.TB) string {
	t.Helper()
	dir, err := CacheDir()
	if err != nil {
		t.Fatalf("minio: %v", err)
	}
	bin, err := testproc.Cached(dir, "minio", func() error {
		start := time.Now()
		t.Logf("minio: building %s@%s into %s (about 3 minutes, once)", Module, Version, dir)
		if out, err := build(dir); err != nil {
			return fmt.Errorf("build %s@%s: %v\n%s", Module, Version, err, out)
		}
		t.Logf("minio: built in %v", time.Since(start).Round(time.Second))
		return nil
	})
	if err != nil {
		t.Fatalf("minio: %v", err)
	}
	return bin
}

// build installs MinIO into dir/minio from a temporary directory outside
// any module, so barge's go.mod plays no part.
func build(dir string) ([]byte, error) {
	work, err := os.MkdirTemp("", "barge-minio-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	gobin := filepath.Join(work, "bin")
	cmd := exec.Command("go", "install", Module+"@"+Version)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOBIN="+gobin, "GOWORK=off", "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.Bytes(), err
	}
	tmp := filepath.Join(dir, ".minio-"+strconv.Itoa(os.Getpid()))
	if err := copyFile(filepath.Join(gobin, "minio"), tmp); err != nil {
		return out.Bytes(), err
	}
	return out.Bytes(), os.Rename(tmp, filepath.Join(dir, "minio"))
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
