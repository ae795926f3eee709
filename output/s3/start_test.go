package s3

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/barge-dev/barge/output/internal/minio"
)

// TestMinIOStart: check_apikey_on_start, check_bucket and
// auto_create_bucket against MinIO.
func TestMinIOStart(t *testing.T) {
	srv := minio.Start(t)
	srv.MakeBucket(t, bucket)
	root := srv.Client()
	exists := func(name string) bool {
		_, err := root.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(name)})
		return err == nil
	}
	for _, tc := range []struct {
		name    string
		mod     func(*Config)
		wantErr string // the error's start, after which the SDK's follows
		created string // a bucket Start must have created
		absent  string // a bucket that must still not exist
	}{
		{"bucket exists", nil, "", "", ""},
		{"auto_create_bucket", func(c *Config) { c.S3Bucket = "barge-created" }, "", "barge-created", ""},
		{"missing bucket", func(c *Config) { c.S3Bucket, c.AutoCreateBucket = "barge-missing", false },
			`check_bucket: s3_bucket "barge-missing" does not exist at ` + srv.Endpoint + `, and auto_create_bucket is false`, "", "barge-missing"},
		{"missing bucket unchecked", func(c *Config) { c.S3Bucket, c.CheckBucket = "barge-unchecked", false }, "", "", "barge-unchecked"},
		{"bad secret", func(c *Config) { c.AWSSecKey = "wrong" },
			"check_apikey_on_start: list s3://" + bucket + "/logs/ at " + srv.Endpoint + ": ", "", ""},
		{"bad secret unchecked", func(c *Config) { c.AWSSecKey, c.CheckApikeyOnStart, c.CheckBucket = "wrong", false, false }, "", "", ""},
		// As fluent-plugin-s3: HeadBucket's 403 says the bucket exists.
		{"bad secret, check_bucket only", func(c *Config) { c.AWSSecKey, c.CheckApikeyOnStart = "wrong", false }, "", "", ""},
		{"bad secret, missing bucket", func(c *Config) { c.S3Bucket, c.AWSSecKey = "barge-denied", "wrong" },
			"check_apikey_on_start: list s3://barge-denied/logs/ at ", "", "barge-denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(srv.Endpoint, tc.mod)
			if cfg.AWSSecKey != "wrong" {
				cfg.AWSSecKey = srv.SecretKey
			}
			cfg.AWSKeyID, cfg.S3Region = srv.AccessKey, srv.Region
			o := newOutput(t, cfg)
			err := o.Start(context.Background())
			t.Logf("Start: %v", err)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Start: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
				t.Fatalf("Start: %v, want %q", err, tc.wantErr)
			}
			if tc.created != "" {
				if !exists(tc.created) {
					t.Fatalf("bucket %s not created", tc.created)
				}
				// Writes go there.
				c := testChunk(chunkID, 10)
				if err := flushFrames(context.Background(), o, c, newGen(10, 1)); err != nil {
					t.Fatal(err)
				}
				if _, err := root.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(tc.created), Key: aws.String(o.Key(c))}); err != nil {
					t.Fatal(err)
				}
				// A second start finds it.
				if err := newOutput(t, cfg).Start(context.Background()); err != nil {
					t.Fatalf("second Start: %v", err)
				}
			}
			if tc.absent != "" && exists(tc.absent) {
				t.Errorf("bucket %s created", tc.absent)
			}
		})
	}
}

// TestStartUnreachable: a store that cannot be reached fails the start,
// naming the bucket and the endpoint.
func TestStartUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"check_apikey_on_start", nil, "check_apikey_on_start: list s3://" + bucket + "/logs/ at " + endpoint + ": "},
		{"check_bucket", func(c *Config) { c.CheckApikeyOnStart = false }, "check_bucket: head s3://" + bucket + " at " + endpoint + ": "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := newOutput(t, testConfig(endpoint, tc.mod)).Start(context.Background())
			t.Logf("Start: %v", err)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !strings.Contains(err.Error(), "connection refused") {
				t.Fatalf("Start: %v, want %q ... connection refused", err, tc.want)
			}
		})
	}
}

// TestStartAnswers: how Start reads the store's answers (gofakes3, with
// answers injected).
func TestStartAnswers(t *testing.T) {
	type answer struct {
		status int
		code   string
		region string // X-Amz-Bucket-Region
	}
	for _, tc := range []struct {
		name                     string
		mod                      func(*Config)
		list, head, create       *answer // nil: gofakes3's
		want                     string  // "" for no error, else a part of it
		wantLocation, wantPrefix string  // CreateBucket's body holds wantLocation
	}{
		{"listing denied, head denied", nil, &answer{403, "AccessDenied", ""}, &answer{403, "", ""}, nil, "", "", ""},
		{"list in another region", nil, &answer{301, "PermanentRedirect", "eu-west-1"}, nil, nil,
			"check_apikey_on_start: list s3://" + bucket + "/logs/ at FAKE: the bucket is in region eu-west-1, not s3_region us-east-1: ", "", ""},
		{"head in another region", func(c *Config) { c.CheckApikeyOnStart = false }, nil, &answer{301, "", "eu-west-1"}, nil,
			"check_bucket: head s3://" + bucket + " at FAKE: the bucket is in region eu-west-1, not s3_region us-east-1: ", "", ""},
		{"head fails", func(c *Config) { c.CheckApikeyOnStart = false }, nil, &answer{500, "", ""}, nil, "check_bucket: head s3://" + bucket + " at FAKE: ", "", ""},
		{"created meanwhile", nil, nil, &answer{404, "", ""}, &answer{409, "BucketAlreadyOwnedByYou", ""}, "", "", ""},
		{"name taken", nil, nil, &answer{404, "", ""}, &answer{409, "BucketAlreadyExists", ""},
			"auto_create_bucket: create s3://" + bucket + " in region us-east-1 at FAKE: ", "", ""},
		{"created in s3_region", func(c *Config) { c.S3Region = "eu-west-1" }, &answer{404, "NoSuchBucket", ""}, &answer{404, "", ""}, &answer{200, "", ""},
			"", "<LocationConstraint>eu-west-1</LocationConstraint>", ""},
		{"list keeps to the path's fixed part", func(c *Config) { c.Path = "archive/${tag}/%Y/" }, nil, nil, nil, "", "", "archive/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := startFake(t)
			var (
				mu         sync.Mutex
				createBody string
				prefix     string
			)
			reply := func(w http.ResponseWriter, r *http.Request, a *answer) {
				if a.region != "" {
					w.Header().Set("X-Amz-Bucket-Region", a.region)
				}
				if a.code == "" || r.Method == http.MethodHead {
					w.WriteHeader(a.status)
					return
				}
				s3Error(w, a.status, a.code)
			}
			fake.wrap = func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
				if strings.Trim(r.URL.Path, "/") != bucket {
					return false
				}
				switch {
				case r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2":
					mu.Lock()
					prefix = r.URL.Query().Get("prefix")
					mu.Unlock()
					if tc.list != nil {
						reply(w, r, tc.list)
						return true
					}
				case r.Method == http.MethodHead && tc.head != nil:
					reply(w, r, tc.head)
					return true
				case r.Method == http.MethodPut && tc.create != nil:
					b, _ := io.ReadAll(r.Body)
					mu.Lock()
					createBody = string(b)
					mu.Unlock()
					reply(w, r, tc.create)
					return true
				}
				return false
			}
			want := strings.ReplaceAll(tc.want, "FAKE", fake.URL)
			err := newOutput(t, testConfig(fake.URL, tc.mod)).Start(context.Background())
			t.Logf("Start: %v", err)
			switch {
			case want == "" && err != nil:
				t.Fatalf("Start: %v", err)
			case want != "" && (err == nil || !strings.HasPrefix(err.Error(), want)):
				t.Fatalf("Start: %v, want %q", err, want)
			}
			mu.Lock()
			defer mu.Unlock()
			if tc.wantLocation != "" && !strings.Contains(createBody, tc.wantLocation) {
				t.Errorf("CreateBucket body %q lacks %s", createBody, tc.wantLocation)
			}
			if tc.wantPrefix != "" && prefix != tc.wantPrefix {
				t.Errorf("listed prefix %q, want %q", prefix, tc.wantPrefix)
			}
		})
	}
}

// TestStartWithoutChecks sends no request; Start after Close fails.
func TestStartWithoutChecks(t *testing.T) {
	fake := startFake(t)
	var requests atomic.Int32
	fake.wrap = func(http.ResponseWriter, *http.Request, http.Handler) bool { requests.Add(1); return false }
	o := newOutput(t, testConfig(fake.URL, func(c *Config) { c.CheckApikeyOnStart, c.CheckBucket = false, false }))
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
	closed := newOutput(t, testConfig(fake.URL, nil))
	closed.Close()
	if err := closed.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v, want ErrClosed", err)
	}
}
