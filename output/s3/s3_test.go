package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/output/objkey"
)

func TestPutStoreAs(t *testing.T) {
	fake := startFake(t)
	for _, tc := range []struct {
		storeAs, ext, ctype, compress string
	}{
		{"gzip", "gz", "application/gzip", "gzip"},
		{"zstd", "zst", "application/zstd", "zstd"},
		{"json", "json", "application/x-ndjson", "none"},
		{"txt", "json", "application/x-ndjson", "none"},
	} {
		t.Run(tc.storeAs, func(t *testing.T) {
			o := newOutput(t, testConfig(fake.URL, func(c *Config) { c.StoreAs = tc.storeAs }))
			c := testChunk(chunkID, 1000)
			if err := flushFrames(context.Background(), o, c, newGen(1000, 1)); err != nil {
				t.Fatal(err)
			}
			if h := o.UploadTime(); h.Count() != 1 || h.Sum() <= 0 {
				t.Errorf("upload durations: %d, sum %v; want the upload timed", h.Count(), h.Sum())
			}
			key := "logs/app.web/2026112210_" + chunkID + "." + tc.ext
			if got := o.Key(c); got != key {
				t.Fatalf("key %q, want %q", got, key)
			}
			body, out := getObject(t, testClient(t, o), key)
			checkSeqs(t, jsonSeqs(t, decode(t, key, body)), 1000)
			if ct := aws.ToString(out.ContentType); ct != tc.ctype {
				t.Errorf("content type %q, want %q", ct, tc.ctype)
			}
			if got := strings.Trim(aws.ToString(out.ETag), `"`); got != md5hex(body) {
				t.Errorf("etag %s, want md5 %s", got, md5hex(body))
			}
			want := map[string]string{
				objkey.MetaChunkID: chunkID, objkey.MetaRecords: "1000", objkey.MetaTag: "app.web",
				objkey.MetaHost: "node-1", objkey.MetaVersion: "1.2.3", objkey.MetaCompress: tc.compress,
				objkey.MetaFormat: "json", objkey.MetaTimeKey: "2026-11-22T10:00:00Z",
				objkey.MetaFirst: "2026-11-22T10:00:01Z", objkey.MetaLast: "2026-11-22T10:01:00Z",
			}
			for k, v := range want {
				if got := metaValue(out.Metadata, k); got != v {
					t.Errorf("metadata %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestKeyFormat(t *testing.T) {
	fake := startFake(t)
	o := newOutput(t, testConfig(fake.URL, func(c *Config) {
		c.Path = "raw/${tag[0]}/%Y/%m/%d/"
		c.S3ObjectKeyFormat = "%{path}%{hex_random}-%{hostname}-%{uuid_flush}.%{file_extension}"
		c.HexRandomLength = 6
	}))
	c := testChunk(chunkID, 10)
	if err := flushFrames(context.Background(), o, c, newGen(10, 1)); err != nil {
		t.Fatal(err)
	}
	want := "raw/app/2026/11/22/fedcba-node-1-01234567-89ab-cdef-0123-456789abcdef.gz"
	if keys := listKeys(t, testClient(t, o)); len(keys) != 1 || keys[0] != want {
		t.Fatalf("keys %q, want %q", keys, want)
	}
}

func TestMetadataNonASCII(t *testing.T) {
	fake := startFake(t)
	o := newOutput(t, testConfig(fake.URL, func(c *Config) { c.Path = "" }))
	c := testChunk(chunkID, 3)
	c.Tag = "app.日本"
	c.Keys = map[string]string{"region": "eu"}
	if err := flushFrames(context.Background(), o, c, newGen(3, 1)); err != nil {
		t.Fatal(err)
	}
	out, err := testClient(t, o).HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.Key(c))})
	if err != nil {
		t.Fatal(err)
	}
	var dec mime.WordDecoder
	tag, err := dec.DecodeHeader(metaValue(out.Metadata, objkey.MetaTag))
	if err != nil || tag != "app.日本" {
		t.Errorf("tag metadata %q (%v)", metaValue(out.Metadata, objkey.MetaTag), err)
	}
	if got := metaValue(out.Metadata, objkey.MetaKeys); got != `{"region":"eu"}` {
		t.Errorf("keys metadata %q", got)
	}
}

func TestRetryFindsOwnObject(t *testing.T) {
	fake := startFake(t)
	o := newOutput(t, testConfig(fake.URL, nil))
	c := testChunk(chunkID, 100)
	for i := range 2 {
		if err := flushFrames(context.Background(), o, c, newGen(100, 1)); err != nil {
			t.Fatalf("flush %d: %v", i, err)
		}
	}
	if keys := listKeys(t, testClient(t, o)); len(keys) != 1 {
		t.Fatalf("keys %q, want one", keys)
	}
}

func TestOtherObjectAtKey(t *testing.T) {
	fake := startFake(t)
	o := newOutput(t, testConfig(fake.URL, nil))
	cl := testClient(t, o)
	c := testChunk(chunkID, 100)
	key := o.Key(c)
	for _, tc := range []struct {
		name string
		meta map[string]string
		want string
	}{
		{"another chunk", map[string]string{objkey.MetaChunkID: "ffffffffffffffffffffffffffffffff"}, "another object is at the key"},
		{"no metadata", nil, "another object is at the key"},
		{"same chunk other bytes", map[string]string{objkey.MetaChunkID: chunkID}, "other content"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cl.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
				Body: bytes.NewReader([]byte("not yours")), Metadata: tc.meta})
			if err != nil {
				t.Fatal(err)
			}
			err = flushFrames(context.Background(), o, c, newGen(100, 1))
			if !buffer.IsPermanent(err) {
				t.Fatalf("err = %v, want permanent", err)
			}
			if !strings.Contains(err.Error(), "s3://"+bucket+"/"+key) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v", err)
			}
			if body, _ := getObject(t, cl, key); string(body) != "not yours" {
				t.Errorf("object overwritten: %q", body)
			}
		})
	}
}

func TestMultipart(t *testing.T) {
	fake := startFake(t)
	var parts atomic.Int32
	fake.wrap = func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") != "" {
			parts.Add(1)
		}
		return false
	}
	o := newOutput(t, testConfig(fake.URL, func(c *Config) {
		c.StoreAs = "json"
		c.PartSize = MinPartSize
		c.MultipartThreshold = MinPartSize
	}))
	const n = 60000 // about 12 MB of JSON: three parts
	want := encoded(t, o, newGen(n, 7))
	c := testChunk(chunkID, n)
	if err := flushFrames(context.Background(), o, c, newGen(n, 7)); err != nil {
		t.Fatal(err)
	}
	cl := testClient(t, o)
	body, out := getObject(t, cl, o.Key(c))
	if !bytes.Equal(body, want) {
		t.Fatalf("object of %d bytes differs from the %d encoded", len(body), len(want))
	}
	// gofakes3 gives multipart objects the MD5 of the whole as ETag; the
	// MinIO tests check S3's multipart ETag.
	if p, w := parts.Load(), int32((len(want)+MinPartSize-1)/MinPartSize); p != w || w < 2 {
		t.Errorf("%d parts uploaded, want %d (and at least 2)", p, w)
	}
	if got := metaValue(out.Metadata, objkey.MetaChunkID); got != chunkID {
		t.Errorf("chunk id metadata %q", got)
	}
	if ups := listUploads(t, cl, o.Key(c)); len(ups) != 0 {
		t.Errorf("uploads left: %q", ups)
	}
}

func TestMultipartAbortOnFailure(t *testing.T) {
	fake := startFake(t)
	var failed atomic.Int32
	fake.wrap = func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") == "2" {
			failed.Add(1)
			s3Error(w, http.StatusInternalServerError, "InternalError")
			return true
		}
		return false
	}
	o := newOutput(t, testConfig(fake.URL, func(c *Config) {
		c.StoreAs = "json"
		c.PartSize = MinPartSize
		c.MultipartThreshold = MinPartSize
	}))
	c := testChunk(chunkID, 60000)
	err := flushFrames(context.Background(), o, c, newGen(60000, 7))
	if err == nil || buffer.IsPermanent(err) {
		t.Fatalf("err = %v, want a transient error", err)
	}
	if !strings.Contains(err.Error(), "put s3://"+bucket+"/"+o.Key(c)+": upload part 2") {
		t.Errorf("err = %v", err)
	}
	if f := failed.Load(); f != sdkMaxAttempts {
		t.Errorf("part 2 tried %d times, want %d (the SDK's bounded retries)", f, sdkMaxAttempts)
	}
	cl := testClient(t, o)
	if ups := listUploads(t, cl, o.Key(c)); len(ups) != 0 {
		t.Errorf("uploads left after failure: %q", ups)
	}
	if keys := listKeys(t, cl); len(keys) != 0 {
		t.Errorf("objects %q after a failed upload", keys)
	}
	fake.wrap = nil
	if err := flushFrames(context.Background(), o, c, newGen(60000, 7)); err != nil {
		t.Fatalf("retry: %v", err)
	}
}

func TestAbandonedUploadAborted(t *testing.T) {
	fake := startFake(t)
	o := newOutput(t, testConfig(fake.URL, func(c *Config) {
		c.StoreAs = "json"
		c.PartSize = MinPartSize
		c.MultipartThreshold = MinPartSize
	}))
	cl := testClient(t, o)
	c := testChunk(chunkID, 60000)
	key := o.Key(c)
	for _, k := range []string{key, key + ".other"} {
		if _, err := cl.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := flushFrames(context.Background(), o, c, newGen(60000, 7)); err != nil {
		t.Fatal(err)
	}
	out, err := cl.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Uploads) != 1 || aws.ToString(out.Uploads[0].Key) != key+".other" {
		t.Errorf("uploads after flush: %d, want only the other key's", len(out.Uploads))
	}
}

func TestPermanentErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		perm   bool
	}{
		{403, "AccessDenied", true},
		{404, "NoSuchBucket", true},
		{403, "InvalidAccessKeyId", true},
		{403, "SignatureDoesNotMatch", true},
		{503, "SlowDown", false},
		{500, "InternalError", false},
		{503, "ServiceUnavailable", false},
	} {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			fake := startFake(t)
			var calls atomic.Int32
			fake.wrap = func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
				calls.Add(1)
				s3Error(w, tc.status, tc.code)
				return true
			}
			o := newOutput(t, testConfig(fake.URL, nil))
			c := testChunk(chunkID, 10)
			err := flushFrames(context.Background(), o, c, newGen(10, 1))
			if err == nil || buffer.IsPermanent(err) != tc.perm {
				t.Fatalf("err = %v, permanent = %v, want %v", err, buffer.IsPermanent(err), tc.perm)
			}
			if !strings.HasPrefix(err.Error(), "put s3://"+bucket+"/"+o.Key(c)+": ") || !strings.Contains(err.Error(), tc.code) {
				t.Errorf("err = %v", err)
			}
			if n := calls.Load(); n > sdkMaxAttempts {
				t.Errorf("%d requests, want at most %d", n, sdkMaxAttempts)
			}
		})
	}
}

func TestCancelledContext(t *testing.T) {
	fake := startFake(t)
	o := newOutput(t, testConfig(fake.URL, nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := flushFrames(ctx, o, testChunk(chunkID, 10), newGen(10, 1))
	if !errors.Is(err, context.Canceled) || buffer.IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestDataErrorIsPermanent(t *testing.T) {
	fake := startFake(t)
	o := newOutput(t, testConfig(fake.URL, nil))
	bad := &sliceFrames{tags: []string{"t"}, entries: [][]byte{{0x92, 0xc1}}}
	err := flushFrames(context.Background(), o, testChunk(chunkID, 1), bad)
	if !buffer.IsPermanent(err) || !strings.Contains(err.Error(), "s3://"+bucket+"/") {
		t.Fatalf("err = %v, want permanent naming the object", err)
	}
}

func TestCloseIdempotent(t *testing.T) {
	fake := startFake(t)
	o := newOutput(t, testConfig(fake.URL, nil))
	if err := flushFrames(context.Background(), o, testChunk(chunkID, 1), newGen(1, 1)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Flush(context.Background(), testChunk(chunkID, 1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("flush after close: %v", err)
	}
}

func TestNewDoesNoIO(t *testing.T) {
	// An endpoint nothing listens on: New must not notice.
	o, err := New(testConfig("http://127.0.0.1:1", nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if o.s3 != nil {
		t.Fatal("client built by New")
	}
	o.Close()
}

// sliceFrames serves fixed frames.
type sliceFrames struct {
	tags    []string
	entries [][]byte
}

func (s *sliceFrames) Next() (string, []byte, error) {
	if len(s.tags) == 0 {
		return "", nil, io.EOF
	}
	t, e := s.tags[0], s.entries[0]
	s.tags, s.entries = s.tags[1:], s.entries[1:]
	return t, e, nil
}

// TestLostResponse: S3 stored the object but its answer was lost; the
// SDK's retry gets 412 and finds this chunk's object.
func TestLostResponse(t *testing.T) {
	fake := startFake(t)
	var lost atomic.Bool
	fake.wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if r.Method == http.MethodPut && !lost.Load() {
			lost.Store(true)
			next.ServeHTTP(httptest.NewRecorder(), r)
			s3Error(w, http.StatusInternalServerError, "InternalError")
			return true
		}
		return false
	}
	o := newOutput(t, testConfig(fake.URL, nil))
	c := testChunk(chunkID, 100)
	if err := flushFrames(context.Background(), o, c, newGen(100, 1)); err != nil {
		t.Fatal(err)
	}
	if !lost.Load() {
		t.Fatal("no response lost")
	}
	if keys := listKeys(t, testClient(t, o)); len(keys) != 1 {
		t.Fatalf("keys %q", keys)
	}
}

// TestCompleteNoSuchUpload: CompleteMultipartUpload answered NoSuchUpload
// and no object is there: a transient error, the upload aborted.
func TestCompleteNoSuchUpload(t *testing.T) {
	fake := startFake(t)
	fake.wrap = func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		if r.Method == http.MethodPost && r.URL.Query().Has("uploadId") {
			s3Error(w, http.StatusNotFound, "NoSuchUpload")
			return true
		}
		return false
	}
	o := newOutput(t, testConfig(fake.URL, multipartConfig))
	c := testChunk(chunkID, 60000)
	err := flushFrames(context.Background(), o, c, newGen(60000, 7))
	if err == nil || buffer.IsPermanent(err) || !strings.Contains(err.Error(), "NoSuchUpload") {
		t.Fatalf("err = %v, want transient NoSuchUpload", err)
	}
	cl := testClient(t, o)
	if ups := listUploads(t, cl, o.Key(c)); len(ups) != 0 {
		t.Errorf("uploads left: %q", ups)
	}
}

func TestProxyURI(t *testing.T) {
	fake := startFake(t)
	target, err := url.Parse(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	var proxied atomic.Int32
	rp := httputil.NewSingleHostReverseProxy(target)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	rp.Transport = tr
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		proxy.Close()
		tr.CloseIdleConnections()
	})
	o := newOutput(t, testConfig(fake.URL, func(c *Config) { c.ProxyURI = proxy.URL }))
	if err := flushFrames(context.Background(), o, testChunk(chunkID, 10), newGen(10, 1)); err != nil {
		t.Fatal(err)
	}
	if proxied.Load() == 0 {
		t.Fatal("no request went through proxy_uri")
	}
}

// TestAssumeRole: <assume_role_credentials> gets credentials from STS
// (here a fake, through AWS_ENDPOINT_URL_STS) and signs with them.
func TestAssumeRole(t *testing.T) {
	var got atomic.Value
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got.Store(r.PostForm)
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIAASSUMED</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>tok</SessionToken>
<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/barge</Arn><AssumedRoleId>AROA:barge</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult></AssumeRoleResponse>`)
	}))
	t.Cleanup(sts.Close)
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	fake := startFake(t)
	var auth atomic.Value
	fake.wrap = func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		auth.Store(r.Header.Get("Authorization") + " token=" + r.Header.Get("X-Amz-Security-Token"))
		return false
	}
	o := newOutput(t, testConfig(fake.URL, func(c *Config) {
		c.AssumeRole = &AssumeRoleConfig{RoleARN: "arn:aws:iam::123456789012:role/r", RoleSessionName: "barge", ExternalID: "ext", DurationSeconds: 900}
	}))
	if err := flushFrames(context.Background(), o, testChunk(chunkID, 10), newGen(10, 1)); err != nil {
		t.Fatal(err)
	}
	form, _ := got.Load().(url.Values)
	if form.Get("Action") != "AssumeRole" || form.Get("RoleArn") != "arn:aws:iam::123456789012:role/r" ||
		form.Get("RoleSessionName") != "barge" || form.Get("ExternalId") != "ext" || form.Get("DurationSeconds") != "900" {
		t.Errorf("sts request %v", form)
	}
	if a, _ := auth.Load().(string); !strings.Contains(a, "Credential=ASIAASSUMED/") || !strings.HasSuffix(a, "token=tok") {
		t.Errorf("s3 request signed with %q", a)
	}
}

// TestSharedCredentials: <shared_credentials> path and profile_name.
func TestSharedCredentials(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "credentials")
	if err := os.WriteFile(path, []byte("[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = x\n\n[logs]\naws_access_key_id = AKIALOGS\naws_secret_access_key = y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	fake := startFake(t)
	var auth atomic.Value
	fake.wrap = func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		auth.Store(r.Header.Get("Authorization"))
		return false
	}
	o := newOutput(t, testConfig(fake.URL, func(c *Config) {
		c.AWSKeyID, c.AWSSecKey = "", ""
		c.SharedCredentials = &SharedCredentialsConfig{Path: path, ProfileName: "logs"}
	}))
	if err := flushFrames(context.Background(), o, testChunk(chunkID, 10), newGen(10, 1)); err != nil {
		t.Fatal(err)
	}
	if a, _ := auth.Load().(string); !strings.Contains(a, "Credential=AKIALOGS/") {
		t.Errorf("s3 request signed with %q", a)
	}
}
