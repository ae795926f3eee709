package gcs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/tinylib/msgp/msgp"
	"go.uber.org/goleak"
	"google.golang.org/api/option"

	"github.com/barge-dev/barge/buffer/buffertest"
	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/objkey"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// started by go.opencensus.io's init, which the storage client pulls in
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}

const (
	bucketName = "barge-test"
	chunkID    = "0123456789abcdef0123456789abcdef"
)

// server is fake-gcs-server in-process on 127.0.0.1, reached by the real
// storage client through STORAGE_EMULATOR_HOST, as barge runs.
type server struct {
	fake *fakestorage.Server
	host string          // host:port of STORAGE_EMULATOR_HOST
	read *storage.Client // for the test's own reads
	reqs *requestLog     // set by startServer(t, true)
	// fail, when set, answers a request through the proxy with a JSON API
	// error of the status it returns (0: forward it).
	fail atomic.Pointer[func(*http.Request) int]
}

// startServer starts fake-gcs-server with the test bucket. With logged, a
// reverse proxy in front of it records every request the output makes.
func startServer(t testing.TB, logged bool) *server {
	t.Helper()
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0, Writer: io.Discard})
	if err != nil {
		t.Fatalf("start fake-gcs-server: %v", err)
	}
	t.Cleanup(fake.Stop)
	fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucketName})
	s := &server{fake: fake, host: strings.TrimPrefix(fake.URL(), "http://")}
	if logged {
		s.reqs = &requestLog{}
		target, _ := url.Parse(fake.URL())
		rp := httputil.NewSingleHostReverseProxy(target)
		ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.reqs.add(r)
			if f := s.fail.Load(); f != nil {
				if code := (*f)(r); code != 0 {
					io.Copy(io.Discard, r.Body)
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(code)
					fmt.Fprintf(w, `{"error":{"code":%d,"message":"injected","errors":[{"reason":"injected","message":"injected"}]}}`, code)
					return
				}
			}
			rp.ServeHTTP(w, r) // keeps Host: resumable Locations point back here
		}))
		t.Cleanup(ps.Close)
		s.host = strings.TrimPrefix(ps.URL, "http://")
	}
	t.Setenv("STORAGE_EMULATOR_HOST", s.host)
	s.read, err = storage.NewClient(context.Background(), storage.WithJSONReads(), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.read.Close() })
	return s
}

// object returns an object as stored and its attributes, as the storage
// client reads them.
func (s *server) object(t testing.TB, key string) ([]byte, *storage.ObjectAttrs) {
	t.Helper()
	ctx := context.Background()
	h := s.read.Bucket(bucketName).Object(key)
	attrs, err := h.Attrs(ctx)
	if err != nil {
		t.Fatalf("attrs of %s: %v", key, err)
	}
	// The stored bytes, as they are (a gzip object with Content-Encoding
	// gzip would be decompressed by a read through the client).
	obj, err := s.fake.GetObject(bucketName, key)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	data := obj.Content
	return data, attrs
}

// keys lists the bucket.
func (s *server) keys(t testing.TB) []string {
	t.Helper()
	objs, _, err := s.fake.ListObjects(bucketName, "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.Name)
	}
	return names
}

// requestLog records method and query of each request.
type requestLog struct {
	mu     sync.Mutex
	reqs   []string
	hashes []string // X-Goog-Hash headers sent
}

func (l *requestLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	if h := r.Header.Get("X-Goog-Hash"); h != "" {
		l.hashes = append(l.hashes, h)
	}
}

// count returns how many requests contain every one of parts.
func (l *requestLog) count(parts ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
next:
	for _, r := range l.reqs {
		for _, p := range parts {
			if !strings.Contains(r, p) {
				continue next
			}
		}
		n++
	}
	return n
}

// newOutput returns an Output on the test bucket with cfg modified by mod.
func newOutput(t testing.TB, mod func(*Config)) *Output {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Bucket = bucketName
	cfg.Path = "logs/${tag}/"
	if mod != nil {
		mod(&cfg)
	}
	o, err := New(cfg, Options{Hostname: "node-1", Version: "test", Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func vars() objkey.ChunkVars {
	return objkey.ChunkVars{ID: chunkID, Tag: "app.web", TimeKey: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), Created: time.Now()}
}

// putFrames flushes frames as the chunk v describes, with the metadata a
// chunk with v's id and f's entries would have; it returns the key. Each
// pass of the upload reads the same frames, as EncodeChunk reopens the
// chunk.
func putFrames(ctx context.Context, o *Output, v objkey.ChunkVars, f format.Frames) (string, error) {
	key := o.Key(v)
	meta := map[string]string{objkey.MetaChunkID: v.ID, objkey.MetaTag: v.Tag}
	if ff, ok := f.(*frames); ok { // as the buffer counts a chunk's records
		n := 0
		for _, b := range ff.entries {
			c, _, _, _ := event.Count(b)
			n += c
		}
		meta[objkey.MetaRecords] = strconv.Itoa(n)
	}
	rf := &buffertest.Replay{Src: f}
	return key, o.put(ctx, key, meta, func(w io.Writer) (format.Stats, error) {
		rf.Rewind()
		return o.enc.Encode(w, rf)
	})
}

// frames serves (tag, entries) pairs.
type frames struct {
	tags    []string
	entries [][]byte
}

func (f *frames) Next() (string, []byte, error) {
	if len(f.tags) == 0 {
		return "", nil, io.EOF
	}
	tag, e := f.tags[0], f.entries[0]
	f.tags, f.entries = f.tags[1:], f.entries[1:]
	return tag, e, nil
}

// oneFrame serves entries as one frame of tag app.web.
func oneFrame(entries []byte) *frames {
	return &frames{tags: []string{"app.web"}, entries: [][]byte{entries}}
}

// entries returns n entries {"seq": i, "msg": ...} from seq from; with pad
// > 0 each message carries pad random letters (seeded: deterministic).
func entries(from, n, pad int) []byte {
	rng := rand.New(rand.NewPCG(uint64(from), 1))
	var b []byte
	noise := make([]byte, pad)
	for i := from; i < from+n; i++ {
		for j := range noise {
			noise[j] = byte('a' + rng.IntN(26))
		}
		rec := msgp.AppendMapHeader(nil, 2)
		rec = msgp.AppendString(rec, "seq")
		rec = msgp.AppendInt(rec, i)
		rec = msgp.AppendString(rec, "msg")
		rec = msgp.AppendString(rec, fmt.Sprintf("hello %d %s", i, noise))
		b = event.AppendEntry(b, event.AppendEventTime(nil, 1795341845, int64(i)), rec)
	}
	return b
}

// decodeLines decompresses data (per compress) and parses JSON lines.
func decodeLines(t testing.TB, data []byte, compress string) []map[string]any {
	t.Helper()
	var r io.Reader = bytes.NewReader(data)
	switch compress {
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	}
	var recs []map[string]any
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		recs = append(recs, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// checkSeq checks that recs are seq 0..n-1 in order.
func checkSeq(t testing.TB, recs []map[string]any, n int) {
	t.Helper()
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	for i, r := range recs {
		if r["seq"] != float64(i) || !strings.HasPrefix(r["msg"].(string), fmt.Sprintf("hello %d", i)) {
			t.Fatalf("record %d: %v", i, r)
		}
	}
}
