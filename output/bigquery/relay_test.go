package bigquery

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"

	"github.com/barge-dev/barge/output/internal/bqtest"
	"github.com/barge-dev/barge/output/internal/faultproxy"
	"github.com/barge-dev/barge/output/internal/minio"
)

// discardGCS takes single-request (multipart) uploads as the JSON API
// does and keeps only each object's size and CRC32C; every other object
// read is a 404, a delete a 204. sample is called every 4 MiB received.
type discardGCS struct {
	sample func()

	mu       sync.Mutex
	received int64
	objects  map[string][2]int64 // name -> size, crc32c
}

func (d *discardGCS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
		return
	case r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/upload/") || r.URL.Query().Get("uploadType") != "multipart":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":404,"message":"No such object","errors":[{"reason":"notFound","message":"No such object"}]}}`)
		return
	}
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	meta, err := mr.NextPart()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var obj struct {
		Name     string            `json:"name"`
		Metadata map[string]string `json:"metadata"`
	}
	if err := json.NewDecoder(meta).Decode(&obj); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	media, err := mr.NextPart()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var crc uint32
	var size int64
	buf := make([]byte, 64<<10)
	for {
		k, err := media.Read(buf)
		crc = crc32.Update(crc, crc32.MakeTable(crc32.Castagnoli), buf[:k])
		size += int64(k)
		if size/(4<<20) != (size-int64(k))/(4<<20) {
			d.sample()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	d.mu.Lock()
	d.received += size
	d.objects[obj.Name] = [2]int64{size, int64(crc)}
	d.mu.Unlock()
	var c [4]byte
	binary.BigEndian.PutUint32(c[:], crc)
	md, _ := json.Marshal(obj.Metadata)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"bucket":%q,"name":%q,"size":"%d","crc32c":%q,"generation":"1","metadata":%s}`,
		testBucket, obj.Name, size, base64.StdEncoding.EncodeToString(c[:]), md)
}

// TestRelayMemory relays a 96 MiB S3 object (MinIO) to a GCS server that
// keeps nothing: the copy is one request streamed from the S3 body, so the
// live heap, measured after a GC every 4 MiB the server receives, stays
// within a few MiB of what it was before (a resumable upload's client
// would hold its ChunkSize, 16 MiB by default, per copy in flight).
func TestRelayMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: relays a 96 MiB object")
	}
	const size, bound = 96 << 20, 8 << 20
	m := minio.Start(t)
	m.MakeBucket(t, "relaysrc")
	// The S3 object, from a file: the test holds no copy in memory.
	path := filepath.Join(t.TempDir(), "obj")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	block := make([]byte, 1<<20)
	for range size / len(block) {
		for i := 0; i < len(block); i += 8 {
			binary.LittleEndian.PutUint64(block[i:], rng.Uint64())
		}
		if _, err := f.Write(block); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const name = "logs/2026112213/big.json.gz"
	if _, err := m.Client().PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("relaysrc"), Key: aws.String(name),
		Body: f, ContentType: aws.String("application/gzip")}); err != nil {
		t.Fatal(err)
	}
	block = nil

	var (
		mu         sync.Mutex
		base, peak uint64
		samples    int
	)
	live := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	d := &discardGCS{objects: map[string][2]int64{}, sample: func() {
		h := live()
		mu.Lock()
		peak = max(peak, h)
		samples++
		mu.Unlock()
	}}
	hs := httptest.NewServer(d)
	t.Cleanup(hs.Close)
	gcs, err := storage.NewClient(context.Background(), option.WithEndpoint(hs.URL+"/storage/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gcs.Close() })

	e := newEnv(t)
	e.gcs = gcs // the loader's GCS: the discarding server
	l := e.loader(func(c *Config) {
		c.Source = "s3://relaysrc/logs/"
		c.Staging = "gs://" + testBucket + "/staging/"
		c.S3Endpoint, c.S3Region, c.ForcePathStyle = m.Endpoint, m.Region, true
		c.AWSKeyID, c.AWSSecKey = m.AccessKey, m.SecretKey
	})
	if err := l.Open(ctx); err != nil {
		t.Fatal(err)
	}
	b := live()
	mu.Lock()
	base = b
	mu.Unlock()
	n, err := l.relayOne(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	got, ok := d.objects["staging/"+name]
	if n != size || !ok || got[0] != size || samples < 20 {
		t.Fatalf("relayed %d bytes; the server has %v (%v) after %d samples, want %d bytes", n, got, ok, samples, size)
	}
	grew := max(int64(peak)-int64(base), 0)
	t.Logf("relayed %d MiB: live heap at most %.1f MiB above its start (%d samples)", size>>20, float64(grew)/(1<<20), samples)
	if grew > bound {
		t.Errorf("the live heap grew by %.1f MiB during the relay, want at most %d MiB", float64(grew)/(1<<20), bound>>20)
	}
}

// TestRelayRetriedByNextCycle: a relay is one request, which the client
// does not retry; when it fails (a 503 for the copy's upload) the cycle
// fails with it, leaves no copy, and the next cycle relays the object
// again and loads it once.
func TestRelayRetriedByNextCycle(t *testing.T) {
	m := minio.Start(t)
	m.MakeBucket(t, "s3retry")
	// The staging bucket is on a server of its own, which the loader
	// reaches through a fault proxy and the BigQuery server directly.
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0, Writer: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Stop)
	fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: testBucket})
	direct, err := storage.NewClient(context.Background(), option.WithEndpoint(fake.URL()+"/storage/v1/"), option.WithoutAuthentication(), storage.WithJSONReads())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Close() })
	p, err := faultproxy.Start(fake.URL(), faultproxy.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	proxied, err := storage.NewClient(context.Background(), option.WithEndpoint(p.URL()+"/storage/v1/"), option.WithoutAuthentication(), storage.WithJSONReads())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxied.Close() })

	e := newEnvWith(t, bqtest.Options{Project: "proj", Storage: direct})
	e.createTable("time")
	name := e.upload(hour13, 10, false)
	e.moveToS3(m, "s3retry", name)
	source := e.gcs
	e.gcs = proxied
	l := e.loader(func(c *Config) {
		c.Source = "s3://s3retry/logs/"
		c.Staging = "gs://" + testBucket + "/staging/"
		c.S3Endpoint, c.S3Region, c.ForcePathStyle = m.Endpoint, m.Region, true
		c.AWSKeyID, c.AWSSecKey = m.AccessKey, m.SecretKey
	})
	e.gcs = source
	copyUpload := faultproxy.Match{Method: "POST", PathPrefix: "/upload/", Func: func(r *http.Request) bool {
		return strings.Contains(r.URL.Query().Get("name"), "staging/")
	}}
	h := p.Add(faultproxy.Rule{Match: copyUpload, Times: 1, Fault: faultproxy.GCSServiceUnavailable()})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := l.Cycle(ctx); err == nil || !strings.Contains(err.Error(), "relay s3://s3retry/"+name) {
		t.Fatalf("first cycle: %v, want the relay's error", err)
	}
	if h.Applied() != 1 {
		t.Fatalf("the fault was applied %d times: the case tested nothing", h.Applied())
	}
	if _, err := direct.Bucket(testBucket).Object("staging/" + name).Attrs(ctx); err == nil {
		t.Fatal("a failed relay left a copy")
	}
	if res := e.cycle(l); res.Jobs != 1 || res.Rows != 10 {
		t.Fatalf("second cycle: %+v, want the object loaded", res)
	}
	if got := e.rows(); got["2026112213"] != 10 {
		t.Fatalf("rows per partition = %v", got)
	}
	if n := p.Count(copyUpload); n != 2 {
		t.Errorf("%d copy uploads, want 2: the failed one, the next cycle's", n)
	}
}
