package gcs

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/buffertest"
	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/internal/faultproxy"
	"github.com/barge-dev/barge/output/objkey"
)

// startProxy puts a fault proxy in front of srv: the output's requests go
// through it (STORAGE_EMULATOR_HOST), the test's reads do not.
func startProxy(t *testing.T, srv *server) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.Start(srv.fake.URL(), faultproxy.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	t.Setenv("STORAGE_EMULATOR_HOST", p.Addr())
	return p
}

// rangeFrom matches the requests of a resumable upload whose
// Content-Range starts with prefix ("bytes 262144-").
func rangeFrom(prefix string) faultproxy.Match {
	return faultproxy.Match{PathPrefix: "/upload/", Query: []string{"upload_id"}, Func: func(r *http.Request) bool {
		return strings.HasPrefix(r.Header.Get("Content-Range"), prefix)
	}}
}

// lastRequest matches the request of a resumable upload that completes it
// (it declares the total: "bytes A-B/TOTAL").
var lastRequest = faultproxy.Match{PathPrefix: "/upload/", Query: []string{"upload_id"}, Func: func(r *http.Request) bool {
	cr := r.Header.Get("Content-Range")
	return cr != "" && !strings.HasSuffix(cr, "/*")
}}

// TestRetriedFromSpool: requests that faults break (a connection reset in
// the middle of the body, a 503) are sent again from the spool, in one
// request as in a resumable upload (its start, a middle request, its last
// one): the object is whole, in one object, and the encoder ran once.
func TestRetriedFromSpool(t *testing.T) {
	single := faultproxy.Match{Method: "POST", PathPrefix: "/upload/", Func: func(r *http.Request) bool {
		return r.URL.Query().Get("uploadType") == "multipart"
	}}
	start := faultproxy.Match{Method: "POST", PathPrefix: "/upload/", NoQuery: []string{"upload_id"}, Func: func(r *http.Request) bool {
		return r.URL.Query().Get("uploadType") == "resumable"
	}}
	type sent struct {
		m     faultproxy.Match
		times int
	}
	for _, tc := range []struct {
		name  string
		n     int // records of ~220 bytes: 100 in one request, 8000 in seven of 256 KiB
		rules []faultproxy.Rule
		sent  []sent // how often requests were sent: the faults, then the retry
	}{
		{name: "single", n: 100, rules: []faultproxy.Rule{
			{Match: single, Times: 1, Fault: faultproxy.ResetRequest(4000)},
			{Match: single, Times: 1, Fault: faultproxy.GCSServiceUnavailable()},
		}, sent: []sent{{single, 3}}},
		{name: "resumable", n: 8000, rules: []faultproxy.Rule{
			{Match: start, Times: 1, Fault: faultproxy.GCSServiceUnavailable()},
			{Match: rangeFrom("bytes 262144-"), Times: 1, Fault: faultproxy.ResetRequest(100_000)},
			{Match: lastRequest, Times: 1, Fault: faultproxy.GCSServiceUnavailable()},
		}, sent: []sent{{start, 2}, {rangeFrom("bytes 262144-"), 2}, {lastRequest, 2}, {rangeFrom("bytes 524288-"), 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, false)
			p := startProxy(t, srv)
			var handles []*faultproxy.Handle
			for _, r := range tc.rules {
				handles = append(handles, p.Add(r))
			}
			o := newOutput(t, func(c *Config) { c.StoreAs = "json"; c.ChunkSize = 256 << 10 })
			var encodes atomic.Int32
			key := o.Key(vars())
			err := o.put(context.Background(), key, map[string]string{objkey.MetaChunkID: chunkID}, func(w io.Writer) (format.Stats, error) {
				encodes.Add(1)
				return o.enc.Encode(w, oneFrame(entries(0, tc.n, 200)))
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := encodes.Load(); n != 1 {
				t.Errorf("the encoder ran %d times, want 1", n)
			}
			for i, h := range handles {
				if h.Applied() != 1 {
					t.Errorf("fault rule %d applied %d times, want 1: the case tested nothing", i, h.Applied())
				}
			}
			for i, s := range tc.sent {
				if got := p.Count(s.m); got != s.times {
					t.Errorf("request %d sent %d times, want %d", i, got, s.times)
				}
			}
			data, attrs := srv.object(t, key)
			if c := crc32.Checksum(data, castagnoli); attrs.CRC32C != c || attrs.Size != int64(len(data)) {
				t.Errorf("stored crc32c %08x size %d, content %08x %d", attrs.CRC32C, attrs.Size, c, len(data))
			}
			checkSeq(t, decodeLines(t, data, "none"), tc.n)
			if keys := srv.keys(t); len(keys) != 1 {
				t.Errorf("objects %v, want one", keys)
			}
		})
	}
}

// spoolFiles counts this process's open files in dir (a file spool is an
// unnamed file there: /proc shows "dir/#INODE (deleted)" or, without
// O_TMPFILE, "dir/spool-N (deleted)").
func spoolFiles(t testing.TB, dir string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			n++
		}
	}
	return n
}

// fileBuffer returns the config of a file buffer in a new directory, one
// chunk per tag, flushed at the end (Finish) or when full.
func fileBuffer(t *testing.T) buffer.Config {
	bcfg := buffer.DefaultConfig("file")
	bcfg.Path = filepath.Join(t.TempDir(), "buf")
	bcfg.ChunkKeys = []string{"tag"}
	bcfg.RetryWait = 10 * time.Millisecond
	bcfg.RetryRandomize = false
	return bcfg
}

// TestSpoolClosed flushes file chunks: each has its spool open in the
// buffer's spool/ directory while it uploads, and none is left open when
// Flush returns: after a success (one request, resumable), after a failed
// upload (503, retried by the buffer), after a permanent refusal (403).
func TestSpoolClosed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts open files with /proc/self/fd, which only Linux has")
	}
	srv := startServer(t, true)
	o := newOutput(t, func(c *Config) { c.StoreAs = "json"; c.ChunkSize = 256 << 10 })
	bcfg := fileBuffer(t)
	dir := filepath.Join(bcfg.Path, "spool")
	var during atomic.Int32 // spool files open when a request was made
	var failing atomic.Bool // app.fail's uploads get 503
	failing.Store(true)
	fail := func(r *http.Request) int {
		during.Store(int32(spoolFiles(t, dir)))
		switch {
		case !strings.Contains(r.URL.Path, "/upload/"):
			return 0
		case failing.Load() && strings.Contains(r.URL.RawQuery, "name=logs%2Fapp.fail%2F"):
			return http.StatusServiceUnavailable
		case strings.Contains(r.URL.RawQuery, "name=logs%2Fapp.denied%2F"):
			return http.StatusForbidden
		}
		return 0
	}
	srv.fail.Store(&fail)
	type result struct {
		tag    string
		err    error
		during int32
		left   int
	}
	results := make(chan result, 16)
	// One flush at a time (Finish drains beside the buffer's worker): the
	// spool files open are this flush's.
	var one sync.Mutex
	h := &hooked{o: o, hook: func(attempt int, c *buffer.Chunk, flush func() error) error {
		one.Lock()
		defer one.Unlock()
		during.Store(0)
		err := flush()
		results <- result{tag: c.Tag, err: err, during: during.Load(), left: spoolFiles(t, dir)}
		if c.Tag == "app.fail" && attempt == 1 {
			failing.Store(false)
			return err // the buffer retries it
		}
		return nil
	}}
	buf := buffertest.Start(t, bcfg, h, "gcs")
	for _, tag := range []string{"app.ok", "app.big", "app.fail", "app.denied"} {
		n := 100
		if tag == "app.big" {
			n = 8000 // 1.7 MB: a resumable upload
		}
		buf.Append(tag, entries(0, n, 200))
	}
	buf.Finish(time.Minute)
	close(results)
	seen := map[string]int{}
	for r := range results {
		seen[r.tag]++
		if r.during == 0 {
			t.Errorf("%s: no spool file open during its requests: the count sees nothing", r.tag)
		}
		if r.left != 0 {
			t.Errorf("%s: %d spool files open after Flush returned (%v)", r.tag, r.left, r.err)
		}
		switch {
		case r.tag == "app.fail" && seen[r.tag] == 1:
			if r.err == nil || buffer.IsPermanent(r.err) {
				t.Errorf("app.fail: err = %v, want a transient error", r.err)
			}
		case r.tag == "app.denied":
			if !buffer.IsPermanent(r.err) {
				t.Errorf("app.denied: err = %v, want a permanent error", r.err)
			}
		case r.err != nil:
			t.Errorf("%s: %v", r.tag, r.err)
		}
	}
	if seen["app.ok"] != 1 || seen["app.big"] != 1 || seen["app.fail"] != 2 || seen["app.denied"] != 1 {
		t.Errorf("flushes per tag %v, want one each, two of app.fail", seen)
	}
	if n := len(srv.keys(t)); n != 3 {
		t.Errorf("%d objects, want 3", n)
	}
}

// discardServer speaks enough of the JSON API's resumable upload to take
// objects and keep only their size and CRC32C. Like GCS, it checks that
// each request starts where the last one ended and the declared CRC32C
// (X-Goog-Hash) of the last. sample is called when a session starts (the
// object is encoded) and every 4 MiB received.
type discardServer struct {
	*httptest.Server
	sample   func()
	received atomic.Int64

	mu       sync.Mutex
	sessions map[string]*discardUpload
}

type discardUpload struct {
	name string
	crc  uint32
	size int64
}

func startDiscardServer(t *testing.T, sample func()) *discardServer {
	s := &discardServer{sample: sample, sessions: map[string]*discardUpload{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(s.URL, "http://"))
	return s
}

func (s *discardServer) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !strings.HasPrefix(r.URL.Path, "/upload/") || q.Get("uploadType") != "resumable" {
		http.Error(w, `{"error":{"code":404,"message":"not here"}}`, http.StatusNotFound)
		return
	}
	if q.Get("upload_id") == "" { // start
		io.Copy(io.Discard, r.Body)
		s.sample()
		s.mu.Lock()
		id := strconv.Itoa(len(s.sessions) + 1)
		s.sessions[id] = &discardUpload{name: q.Get("name")}
		s.mu.Unlock()
		w.Header().Set("Location", "http://"+r.Host+r.URL.Path+"?uploadType=resumable&upload_id="+id)
		return
	}
	s.mu.Lock()
	u := s.sessions[q.Get("upload_id")]
	s.mu.Unlock()
	var first, last, total int64
	if _, err := fmt.Sscanf(strings.Replace(r.Header.Get("Content-Range"), "/*", "/-1", 1), "bytes %d-%d/%d", &first, &last, &total); err != nil || u == nil || first != u.size {
		http.Error(w, `{"error":{"code":400,"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	buf := make([]byte, 64<<10)
	for {
		k, err := r.Body.Read(buf)
		u.crc = crc32.Update(u.crc, castagnoli, buf[:k])
		u.size += int64(k)
		if n := s.received.Add(int64(k)); n/(4<<20) != (n-int64(k))/(4<<20) {
			s.sample()
		}
		if err != nil {
			break
		}
	}
	if total < 0 || u.size < total {
		w.Header().Set("X-Http-Status-Code-Override", "308")
		w.Header().Set("Range", fmt.Sprintf("bytes=0-%d", u.size-1))
		return
	}
	c := encodeCRC(u.crc)
	if h := r.Header.Get("X-Goog-Hash"); h != "crc32c="+c {
		http.Error(w, `{"error":{"code":400,"message":"crc32c mismatch"}}`, http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, `{"bucket":%q,"name":%q,"size":"%d","crc32c":%q,"generation":"1"}`, bucketName, u.name, u.size, c)
}

// bigEntries returns n entries of about 4 KiB each: {"seq": i, "msg":
// letters drawn from noise}, which compress poorly.
func bigEntries(noise []byte, from, n int) []byte {
	var b []byte
	for i := from; i < from+n; i++ {
		off := (i * 7919) % (len(noise) - 4096)
		rec := append([]byte{0x82, 0xa3, 's', 'e', 'q'}, 0xd2, byte(i>>24), byte(i>>16), byte(i>>8), byte(i))
		rec = append(rec, 0xa3, 'm', 's', 'g', 0xda, 0x10, 0x00) // str16 of 4096
		rec = append(rec, noise[off:off+4096]...)
		b = event.AppendEntry(b, event.AppendEventTime(nil, 1795341845, int64(i)), rec)
	}
	return b
}

// TestUploadMemory flushes a file chunk whose object is 128 MiB (JSON of
// letters, stored uncompressed), with the default chunk_size (16m): a
// resumable upload of 9 requests. The live heap, measured after a GC when
// the upload starts (the object is encoded) and every 4 MiB the server
// receives, stays within a few MiB of what it was before the flush: the
// object is in the spool's file and each request streams from it. (An
// upload held up to 2 x chunk_size, 32 MiB, before spools; the storage
// client's resumable writer fed from the spool holds chunk_size, 16 MiB;
// an object spooled in memory would hold 128 MiB.)
func TestUploadMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: encodes and uploads a 128 MiB object")
	}
	const bound = 8 << 20
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
	srv := startDiscardServer(t, func() {
		h := live()
		mu.Lock()
		peak = max(peak, h)
		samples++
		mu.Unlock()
	})
	o := newOutput(t, func(c *Config) { c.StoreAs = "json" })
	var flushErr error
	h := &hooked{o: o, hook: func(_ int, _ *buffer.Chunk, flush func() error) error {
		b := live()
		mu.Lock()
		base = b
		mu.Unlock()
		err := flush()
		mu.Lock()
		flushErr = err
		mu.Unlock()
		return nil
	}}
	bcfg := fileBuffer(t)
	buf := buffertest.Start(t, bcfg, h, "gcs")
	noise := make([]byte, 1<<20)
	for i := range noise {
		noise[i] = 'a' + byte(uint32(i*2654435761)>>27)%26
	}
	const perAppend = 256 // about 1 MiB
	n := 0
	for n*4096 < 128<<20 {
		buf.Append("app.big", bigEntries(noise, n, perAppend))
		n += perAppend
	}
	buf.Finish(5 * time.Minute)
	mu.Lock()
	defer mu.Unlock()
	if flushErr != nil {
		t.Fatal(flushErr)
	}
	got := srv.received.Load()
	if got < 128<<20 || samples < 30 {
		t.Fatalf("the server received %d bytes in %d samples: not the object", got, samples)
	}
	grew := max(int64(peak)-int64(base), 0)
	t.Logf("%d records, an object of %.1f MiB: live heap at most %.1f MiB above the start of the flush (%d samples)",
		n, float64(got)/(1<<20), float64(grew)/(1<<20), samples)
	if grew > bound {
		t.Errorf("the live heap grew by %.1f MiB during the upload, want at most %d MiB", float64(grew)/(1<<20), bound>>20)
	}
}

// TestResumableEncryptionKey: with encryption_key, every request of a
// resumable upload declares the key (fake-gcs-server does not encrypt:
// the requests are what is checked).
func TestResumableEncryptionKey(t *testing.T) {
	srv := startServer(t, false)
	p := startProxy(t, srv)
	const key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes
	o := newOutput(t, func(c *Config) { c.StoreAs = "json"; c.ChunkSize = 256 << 10; c.EncryptionKey = key })
	k, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, 8000, 200)))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := srv.object(t, k)
	checkSeq(t, decodeLines(t, data, "none"), 8000)
	n := 0
	for _, e := range p.Log() {
		if !strings.HasPrefix(e.Path, "/upload/") {
			continue
		}
		n++
		if e.Header.Get("X-Goog-Encryption-Algorithm") != "AES256" || e.Header.Get("X-Goog-Encryption-Key") != key ||
			e.Header.Get("X-Goog-Encryption-Key-Sha256") == "" {
			t.Errorf("%s %s?%s without the key's headers", e.Method, e.Path, e.RawQuery)
		}
	}
	if n < 8 {
		t.Errorf("%d upload requests, want a start and at least seven of 256 KiB", n)
	}
}
