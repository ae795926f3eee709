package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/barge-dev/barge/cmd/barge/bargetest"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/barge-dev/barge/output/internal/faultproxy"
	"github.com/barge-dev/barge/output/internal/minio"
	"github.com/barge-dev/barge/output/objkey"
)

// object is one object of a bucket as the tests read it back.
type object struct {
	key  string
	meta map[string]string
	recs []map[string]any
}

// store is one object store under test, reached by barge through its own
// fault proxy.
type store struct {
	kind   string // "s3" or "gcs"
	bucket string
	proxy  *faultproxy.Proxy
	// params are the <match> lines that point the output at the proxy.
	params string
	// bigParams make a chunk of a few MiB go as a multipart (S3) or
	// resumable (GCS) upload.
	bigParams string
	env       []string
	list      func(t *testing.T) []object
	// openUploads counts multipart uploads left open in the bucket (nil
	// for gcs: an unfinished resumable session costs nothing and expires).
	openUploads func(t *testing.T) int

	// upload selects the requests that carry object bytes (S3 PutObject and
	// UploadPart; GCS simple and resumable upload requests); commit the
	// request that completes a multipart or resumable upload.
	upload, commit faultproxy.Match
	// committed reports whether a logged request created an object.
	committed func(e faultproxy.Entry) bool

	unavailable, slowDown, denied func() faultproxy.Fault
}

// minioServer starts MinIO (built once into the test cache by
// output/internal/minio) for the S3 tests of t.
func minioServer(t *testing.T) *minio.Server { return minio.Start(t) }

// newS3Store makes a bucket on srv and a fault proxy in front of srv.
func newS3Store(t *testing.T, srv *minio.Server, bucket string) *store {
	t.Helper()
	srv.MakeBucket(t, bucket)
	p := startProxy(t, srv.Endpoint)
	cl := srv.Client()
	return &store{
		kind:   "s3",
		bucket: bucket,
		proxy:  p,
		params: fmt.Sprintf("s3_bucket %s\n  s3_region %s\n  s3_endpoint %s\n  force_path_style true\n  aws_key_id %s\n  aws_sec_key %s\n",
			bucket, srv.Region, p.URL(), srv.AccessKey, srv.SecretKey),
		bigParams: "multipart_threshold 5m\n  part_size 5m\n",
		list:      func(t *testing.T) []object { return listS3(t, cl, bucket) },
		openUploads: func(t *testing.T) int {
			out, err := cl.ListMultipartUploads(context.Background(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
			if err != nil {
				t.Fatalf("list multipart uploads of s3://%s: %v", bucket, err)
			}
			return len(out.Uploads)
		},
		upload: faultproxy.Match{Method: "PUT"},
		commit: faultproxy.Match{Method: "POST", Query: []string{"uploadId"}},
		committed: func(e faultproxy.Entry) bool {
			q := e.RawQuery
			return e.Status == 200 && (e.Method == "PUT" && !strings.Contains(q, "uploadId") ||
				e.Method == "POST" && strings.Contains(q, "uploadId"))
		},
		unavailable: faultproxy.S3ServiceUnavailable,
		slowDown:    faultproxy.S3SlowDown,
		denied:      faultproxy.S3AccessDenied,
	}
}

func listS3(t *testing.T, cl *awss3.Client, bucket string) []object {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var objs []object
	pg := awss3.NewListObjectsV2Paginator(cl, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatalf("list s3://%s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			out, err := cl.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatalf("get s3://%s/%s: %v", bucket, *o.Key, err)
			}
			recs, err := decodeObject(*o.Key, out.Body)
			out.Body.Close()
			if err != nil {
				t.Fatalf("s3://%s/%s: %v", bucket, *o.Key, err)
			}
			objs = append(objs, object{key: *o.Key, meta: out.Metadata, recs: recs})
		}
	}
	return objs
}

// gcsServer is fake-gcs-server in the test process on a port picked
// first, so that its public host (which its resumable upload URLs and
// reads use) is its real address; and the real storage client to read it.
type gcsServer struct {
	fake *fakestorage.Server
	read *storage.Client
}

func startGCS(t *testing.T) *gcsServer {
	t.Helper()
	port := freePort(t)
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http", Host: "127.0.0.1", Port: uint16(port),
		PublicHost: fmt.Sprintf("127.0.0.1:%d", port), Writer: io.Discard,
	})
	if err != nil {
		t.Fatalf("start fake-gcs-server: %v", err)
	}
	t.Cleanup(fake.Stop)
	read, err := storage.NewClient(context.Background(), option.WithEndpoint(fake.URL()+"/storage/v1/"),
		option.WithoutAuthentication(), storage.WithJSONReads())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { read.Close() })
	return &gcsServer{fake: fake, read: read}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// newGCSStore makes a bucket on srv and a fault proxy in front of it;
// barge reaches the proxy through STORAGE_EMULATOR_HOST.
func newGCSStore(t *testing.T, srv *gcsServer, bucket string) *store {
	t.Helper()
	srv.fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	p := startProxy(t, srv.fake.URL())
	return &store{
		kind:      "gcs",
		bucket:    bucket,
		proxy:     p,
		params:    "bucket " + bucket + "\n",
		bigParams: "chunk_size 256k\n",
		env:       []string{"STORAGE_EMULATOR_HOST=" + p.Addr()},
		list:      func(t *testing.T) []object { return listGCS(t, srv.read, bucket) },
		upload:    faultproxy.Match{PathPrefix: "/upload/"},
		// The request of a resumable upload that carries its last bytes
		// declares the total size in Content-Range ("bytes 0-9/10"),
		// the others do not ("bytes 0-262143/*").
		commit: faultproxy.Match{PathPrefix: "/upload/", Query: []string{"upload_id"}, Func: func(r *http.Request) bool {
			return lastUploadRequest(r.Header)
		}},
		committed: func(e faultproxy.Entry) bool {
			if e.Status != 200 || !strings.HasPrefix(e.Path, "/upload/") {
				return false
			}
			return strings.Contains(e.RawQuery, "uploadType=multipart") ||
				strings.Contains(e.RawQuery, "upload_id=") && lastUploadRequest(e.Header)
		},
		unavailable: faultproxy.GCSServiceUnavailable,
		slowDown:    faultproxy.GCSRateLimited,
		denied:      faultproxy.GCSForbidden,
	}
}

// lastUploadRequest reports whether a resumable upload request declares
// the upload's total size: it completes the object.
func lastUploadRequest(h http.Header) bool {
	cr := h.Get("Content-Range")
	return cr != "" && !strings.HasSuffix(cr, "/*")
}

func listGCS(t *testing.T, cl *storage.Client, bucket string) []object {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var objs []object
	it := cl.Bucket(bucket).Objects(ctx, nil)
	for {
		attrs, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatalf("list gs://%s: %v", bucket, err)
		}
		r, err := cl.Bucket(bucket).Object(attrs.Name).NewReader(ctx)
		if err != nil {
			t.Fatalf("read gs://%s/%s: %v", bucket, attrs.Name, err)
		}
		recs, err := decodeObject(attrs.Name, r)
		r.Close()
		if err != nil {
			t.Fatalf("gs://%s/%s: %v", bucket, attrs.Name, err)
		}
		objs = append(objs, object{key: attrs.Name, meta: attrs.Metadata, recs: recs})
	}
	return objs
}

func startProxy(t *testing.T, target string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.Start(target, faultproxy.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// decodeObject decompresses an object by its key's extension and parses
// its JSON lines.
func decodeObject(key string, r io.Reader) ([]map[string]any, error) {
	switch {
	case strings.HasSuffix(key, ".gz"):
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		r = zr
	case strings.HasSuffix(key, ".zst"):
		zr, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	}
	var recs []map[string]any
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("%q: %w", sc.Text(), err)
		}
		recs = append(recs, m)
	}
	return recs, sc.Err()
}

// records flattens objects into their records.
func records(objs []object) []map[string]any {
	var recs []map[string]any
	for _, o := range objs {
		recs = append(recs, o.recs...)
	}
	return recs
}

// waitObjects polls the bucket until it holds at least n records or
// timeout passes, and returns its objects.
func (s *store) waitObjects(t *testing.T, n int, timeout time.Duration) []object {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		objs := s.list(t)
		if len(records(objs)) >= n || time.Now().After(deadline) {
			return objs
		}
		<-tick.C
	}
}

// checkObjects checks that objs hold every seq in [0, n) exactly once, one
// object per chunk: distinct barge-chunk-id metadata, and each object's
// barge-records metadata equal to the records it holds. It returns the
// number of objects.
func checkObjects(t *testing.T, objs []object, n int) int {
	t.Helper()
	bargetest.CheckSeqs(t, records(objs), n)
	ids := map[string]string{}
	for _, o := range objs {
		id := o.meta[objkey.MetaChunkID]
		if id == "" {
			t.Errorf("object %s has no %s metadata: %v", o.key, objkey.MetaChunkID, o.meta)
			continue
		}
		if prev, dup := ids[id]; dup {
			t.Errorf("chunk %s is in two objects: %s and %s", id, prev, o.key)
		}
		ids[id] = o.key
		if !strings.Contains(o.key, id) {
			t.Errorf("object %s is not named after its chunk %s", o.key, id)
		}
		if got := o.meta[objkey.MetaRecords]; got != strconv.Itoa(len(o.recs)) {
			t.Errorf("object %s: %s %s, holds %d records", o.key, objkey.MetaRecords, got, len(o.recs))
		}
		for _, k := range []string{objkey.MetaFirst, objkey.MetaLast, objkey.MetaHost, objkey.MetaVersion, objkey.MetaTag} {
			if o.meta[k] == "" {
				t.Errorf("object %s lacks metadata %s: %v", o.key, k, o.meta)
			}
		}
	}
	return len(objs)
}

// committedObjects counts the requests the proxy saw complete an object.
// With create-only writes, each object is completed exactly once: a retry
// that finds its object is refused by the store (412), not written again.
func (s *store) committedObjects() int {
	n := 0
	for _, e := range s.proxy.Log() {
		if s.committed(e) {
			n++
		}
	}
	return n
}

// checkNoOpenUploads fails the test if a multipart upload was left open.
func (s *store) checkNoOpenUploads(t *testing.T) {
	t.Helper()
	if s.openUploads != nil {
		if n := s.openUploads(t); n != 0 {
			t.Errorf("%d multipart uploads left open in s3://%s", n, s.bucket)
		}
	}
}

// refused counts the uploads the store refused with 412 Precondition
// Failed: an object was already at the key.
func (s *store) refused() int {
	n := 0
	for _, e := range s.proxy.Log() {
		if e.Status == http.StatusPreconditionFailed {
			n++
		}
	}
	return n
}

// storeConfig is a forward source and a <match> of the store's output with
// a file buffer in ./buf; output and buffer add lines to each.
func storeConfig(s *store, output, buffer, secondary string) string {
	return `
<system>
  shutdown_timeout 20s
</system>
<source>
  @type forward
  bind 127.0.0.1
  port 0
</source>
<match **>
  @type ` + s.kind + `
  ` + s.params + `
  path logs/${tag}/
  ` + output + `
  <buffer tag>
    @type file
    path ./buf
    flush_mode interval
    flush_interval 1s
    retry_wait 100ms
    retry_max_interval 1s
    ` + buffer + `
  </buffer>
  ` + secondary + `
</match>
`
}

// sendBig sends records seq from..to-1, each with a 10 KiB pad field, with
// acks: 700 of them make a chunk of about 7 MiB.
func sendBig(t *testing.T, addr, tag string, from, to int) {
	t.Helper()
	pad := strings.Repeat("0123456789abcdef", 640)
	bargetest.SendRecords(t, addr, tag, from, to, func(i int) map[string]any {
		return map[string]any{"seq": i, "msg": "a big record", "pad": pad}
	})
}

// sortedKeys lists object keys, for failure messages.
func sortedKeys(objs []object) string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, o.key)
	}
	sort.Strings(ks)
	return strings.Join(ks, "\n")
}

// logHas reports whether a JSON log line's err field contains s.
func errContains(l map[string]any, s string) bool {
	e, _ := l["err"].(string)
	return strings.Contains(e, s)
}
