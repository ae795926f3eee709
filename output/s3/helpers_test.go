package s3

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/tinylib/msgp/msgp"
	"go.uber.org/goleak"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/buffertest"
	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/output/format"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	bucket  = "barge-test"
	chunkID = "0123456789abcdef0123456789abcdef"
)

// testChunk is a chunk's metadata; its records come from frames.
func testChunk(id string, records int) *buffer.Chunk {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	return &buffer.Chunk{ID: id, Tag: "app.web", TimeKey: t0, Records: records,
		First: t0.Add(time.Second), Last: t0.Add(time.Minute), Created: t0.Add(2 * time.Minute)}
}

// genFrames generates n deterministic log-like records, frames of up to
// 500 records, without holding them all: realistic (compressible, but not
// trivially) and cheap in memory.
type genFrames struct {
	n, done int
	seed    uint64
	rng     *rand.Rand
	buf     []byte
	// after, when set, is called once when at least afterBytes of entries
	// have been served.
	after      func()
	afterBytes int64
	served     int64
}

func newGen(n int, seed uint64) *genFrames {
	return &genFrames{n: n, seed: seed, rng: rand.New(rand.NewPCG(seed, seed))}
}

// Rewind starts the same records again (after is not called again).
func (g *genFrames) Rewind() {
	g.done, g.served, g.after = 0, 0, nil
	g.rng = rand.New(rand.NewPCG(g.seed, g.seed))
}

var words = strings.Fields("GET POST PUT DELETE /api/v1/users /api/v1/orders /healthz /static/app.js 200 201 204 301 404 500 " +
	"Mozilla/5.0 curl/8.5 okhttp/4.12 eu-west-1 us-east-1 ap-south-1 checkout login search cart payment")

func (g *genFrames) Next() (string, []byte, error) {
	if g.done >= g.n {
		return "", nil, io.EOF
	}
	g.buf = g.buf[:0]
	for i := 0; i < 500 && g.done < g.n; i++ {
		rec := msgp.AppendMapHeader(nil, 5)
		rec = msgp.AppendString(rec, "seq")
		rec = msgp.AppendInt(rec, g.done)
		rec = msgp.AppendString(rec, "msg")
		var sb strings.Builder
		for range 6 {
			sb.WriteString(words[g.rng.IntN(len(words))])
			sb.WriteByte(' ')
		}
		rec = msgp.AppendString(rec, sb.String())
		rec = msgp.AppendString(rec, "latency_ms")
		rec = msgp.AppendFloat64(rec, g.rng.Float64()*1000)
		rec = msgp.AppendString(rec, "request_id")
		rec = msgp.AppendString(rec, fmt.Sprintf("%016x%016x", g.rng.Uint64(), g.rng.Uint64()))
		rec = msgp.AppendString(rec, "bytes")
		rec = msgp.AppendInt(rec, g.rng.IntN(1<<20))
		g.buf = event.AppendEntry(g.buf, event.AppendEventTime(nil, 1795341845+int64(g.done/1000), int64(g.done%1000)), rec)
		g.done++
	}
	g.served += int64(len(g.buf))
	if g.after != nil && g.served >= g.afterBytes {
		g.after()
		g.after = nil
	}
	return "app.web", g.buf, nil
}

// flushFrames flushes chunk c whose records come from f. Each pass of the
// upload reads the same frames, as EncodeChunk reopens the chunk.
func flushFrames(ctx context.Context, o *Output, c *buffer.Chunk, f format.Frames) error {
	var src interface {
		format.Frames
		Rewind()
	}
	if r, ok := f.(interface {
		format.Frames
		Rewind()
	}); ok {
		src = r
	} else {
		src = &buffertest.Replay{Src: f}
	}
	passes := 0
	return o.put(ctx, c, func(w io.Writer) (format.Stats, error) {
		if passes++; passes > 1 {
			src.Rewind()
		}
		return o.enc.Encode(w, src)
	})
}

// encoded returns what o's encoder makes of f.
func encoded(t testing.TB, o *Output, f format.Frames) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := o.enc.Encode(&b, f); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// fakeS3 is gofakes3 in-process; wrap, when set, sees every request first
// and may answer it itself (returning true).
type fakeS3 struct {
	URL  string
	wrap func(w http.ResponseWriter, r *http.Request, next http.Handler) bool
}

func startFake(t *testing.T) *fakeS3 {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	h := gofakes3.New(backend).Server()
	f := &fakeS3{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.wrap != nil && f.wrap(w, r, h) {
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// s3Error answers a request with an S3 error document.
func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected %s</Message><RequestId>test</RequestId></Error>`, code, code)
}

func testConfig(endpoint string, mod func(*Config)) Config {
	cfg := DefaultConfig()
	cfg.S3Bucket = bucket
	cfg.S3Region = "us-east-1"
	cfg.S3Endpoint = endpoint
	cfg.ForcePathStyle = true
	cfg.AWSKeyID = "barge-test"
	cfg.AWSSecKey = "barge-test-secret"
	cfg.Path = "logs/${tag}/"
	if mod != nil {
		mod(&cfg)
	}
	return cfg
}

func newOutput(t testing.TB, cfg Config) *Output {
	t.Helper()
	o, err := New(cfg, Options{Hostname: "node-1", Version: "1.2.3", Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// testClient is o's own S3 client, for reading back.
func testClient(t testing.TB, o *Output) *s3.Client {
	t.Helper()
	cl, err := o.client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func getObject(t testing.TB, cl *s3.Client, key string) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	out, err := cl.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, out
}

func listKeys(t testing.TB, cl *s3.Client) []string {
	t.Helper()
	out, err := cl.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

func listUploads(t testing.TB, cl *s3.Client, key string) []string {
	t.Helper()
	ids, err := uploadIDs(cl, key)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// uploadIDs lists the ids of the multipart uploads open at key.
func uploadIDs(cl *s3.Client, key string) ([]string, error) {
	out, err := cl.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, u := range out.Uploads {
		ids = append(ids, aws.ToString(u.UploadId))
	}
	return ids, nil
}

// decode decompresses an object by its key's extension.
func decode(t testing.TB, key string, b []byte) []byte {
	t.Helper()
	switch {
	case strings.HasSuffix(key, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return out
	case strings.HasSuffix(key, ".zst"):
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		out, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	return b
}

// jsonSeqs returns the seq fields of JSON lines, checking each parses.
func jsonSeqs(t testing.TB, b []byte) []int {
	t.Helper()
	var seqs []int
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct {
			Seq int `json:"seq"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		seqs = append(seqs, rec.Seq)
	}
	return seqs
}

func checkSeqs(t testing.TB, seqs []int, n int) {
	t.Helper()
	if len(seqs) != n {
		t.Fatalf("%d records, want %d", len(seqs), n)
	}
	for i, s := range seqs {
		if s != i {
			t.Fatalf("record %d has seq %d", i, s)
		}
	}
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// partsETag computes the multipart ETag of b split in parts of size.
func partsETag(b []byte, size int) string {
	var sums [][md5.Size]byte
	for len(b) > 0 {
		n := min(size, len(b))
		sums = append(sums, md5.Sum(b[:n]))
		b = b[n:]
	}
	return multipartETag(sums)
}
