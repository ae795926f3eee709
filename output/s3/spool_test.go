package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/buffertest"
	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/internal/faultproxy"
	"github.com/barge-dev/barge/output/internal/minio"
)

// chunkFlusher hands each chunk its buffer flushes to the test and holds
// the flush until the test ends: the chunk stays in flight, on disk.
type chunkFlusher struct {
	chunks chan *buffer.Chunk
	done   chan struct{}
}

func (f *chunkFlusher) Flush(ctx context.Context, c *buffer.Chunk) error {
	select {
	case f.chunks <- c:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fileChunk appends the records of f to a file buffer in a directory of
// its own and returns the chunk it flushes, and the buffer's spool/
// directory (see buffer.Spool).
func fileChunk(t *testing.T, f format.Frames) (*buffer.Chunk, string) {
	t.Helper()
	cfg := buffer.DefaultConfig("file")
	cfg.Path = t.TempDir()
	fl := &chunkFlusher{chunks: make(chan *buffer.Chunk), done: make(chan struct{})}
	r := buffertest.Start(t, cfg, fl, "s3")
	t.Cleanup(func() { close(fl.done) }) // before the buffer stops
	for {
		tag, entries, err := f.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		r.Append(tag, entries)
	}
	r.FlushNow()
	select {
	case c := <-fl.chunks:
		return c, filepath.Join(cfg.Path, "spool")
	case <-time.After(time.Minute):
		t.Fatal("the buffer flushed no chunk within a minute")
		return nil, ""
	}
}

// openIn returns the files this process has open in dir. Spool files have
// no name: /proc/self/fd shows them as DIR/#INODE (deleted). Without
// /proc/self/fd (not Linux) it returns none; TestSpoolClosed, which needs
// it, skips there.
func openIn(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var open []string
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			open = append(open, target)
		}
	}
	return open
}

// needProcFD skips a test that sees spool files through /proc/self/fd.
func needProcFD(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skipf("spool files have no name; they are seen through /proc/self/fd, which is not here (%v)", err)
	}
}

// checkNoSpool fails the test if a spool file is open or left in dir.
func checkNoSpool(t *testing.T, dir, when string) {
	t.Helper()
	if open := openIn(t, dir); len(open) != 0 {
		t.Errorf("%s: spool files still open: %q", when, open)
	}
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("%s: %s left in %s", when, e.Name(), dir)
	}
}

// writeHook calls fn with the bytes written so far after each write.
type writeHook struct {
	w  io.Writer
	n  int64
	fn func(n int64)
}

func (h *writeHook) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.n += int64(n)
	h.fn(h.n)
	return n, err
}

// TestSpoolClosed: the spool of a file chunk is one unnamed file while an
// attempt encodes, and it is closed when the attempt ends, whatever the
// way: a PutObject or a multipart upload, stored or failed, cancelled, or
// redone with the count of records (one spool per attempt).
func TestSpoolClosed(t *testing.T) {
	needProcFD(t)
	const n = 60000 // about 12 MB of JSON: three parts
	for _, tc := range []struct {
		name      string
		n         int
		multipart bool
		deep      bool                                        // a record the encoder rejects: a second attempt
		fail      func(r *http.Request) bool                  // requests answered 500
		cancelAt  int64                                       // cancel the flush once this much is written
		check     func(t *testing.T, err error, attempts int) // the flush's outcome
	}{
		{name: "put", n: 1000, check: wantStored},
		{name: "multipart", n: n, multipart: true, check: wantStored},
		{name: "put fails", n: 1000, fail: func(r *http.Request) bool { return r.Method == http.MethodPut }, check: wantTransient},
		{name: "part fails", n: n, multipart: true, check: wantTransient,
			fail: func(r *http.Request) bool { return r.URL.Query().Get("partNumber") == "2" }},
		{name: "complete fails", n: n, multipart: true, check: wantTransient,
			fail: func(r *http.Request) bool { return r.Method == http.MethodPost && r.URL.Query().Has("uploadId") }},
		{name: "cancelled", n: n, multipart: true, cancelAt: 7 << 20, check: wantTransient},
		{name: "recount", n: n, multipart: true, deep: true, check: func(t *testing.T, err error, attempts int) {
			if rs, ok := buffer.RejectedRecords(err); !ok || len(rs) != 1 {
				t.Errorf("err = %v, want the rejected record", err)
			}
			if attempts != 2 {
				t.Errorf("%d attempts, want 2 (the second with the count)", attempts)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := startFake(t)
			if tc.fail != nil {
				fake.wrap = func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
					if tc.fail(r) {
						s3Error(w, http.StatusInternalServerError, "InternalError")
						return true
					}
					return false
				}
			}
			o := newOutput(t, testConfig(fake.URL, func(c *Config) {
				c.StoreAs = "json"
				if tc.multipart {
					multipartConfig(c)
				}
			}))
			var frames format.Frames = newGen(tc.n, 7)
			if tc.deep {
				frames = &thenFrames{frames, &sliceFrames{tags: []string{"app.web"}, entries: [][]byte{deepEntry()}}}
			}
			c, dir := fileChunk(t, frames)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			attempts := 0
			err := o.put(ctx, c, func(w io.Writer) (format.Stats, error) {
				attempts++
				if tc.cancelAt > 0 {
					w = &writeHook{w: w, fn: func(n int64) {
						if n >= tc.cancelAt {
							cancel()
						}
					}}
				}
				stats, err := o.enc.EncodeChunk(w, c)
				if open := openIn(t, dir); len(open) != 1 {
					t.Errorf("attempt %d: %d spool files open while it encodes, want 1: %q", attempts, len(open), open)
				}
				return stats, err
			})
			tc.check(t, err, attempts)
			checkNoSpool(t, dir, "after the flush")
			if ups := listUploadsIfAny(t, testClient(t, o), o.Key(c)); len(ups) != 0 {
				t.Errorf("uploads left: %q", ups)
			}
		})
	}
}

func wantStored(t *testing.T, err error, attempts int) {
	t.Helper()
	if err != nil || attempts != 1 {
		t.Errorf("err = %v after %d attempts, want nil after 1", err, attempts)
	}
}

func wantTransient(t *testing.T, err error, _ int) {
	t.Helper()
	if err == nil || buffer.IsPermanent(err) {
		t.Errorf("err = %v, want a transient error", err)
	}
}

// listUploadsIfAny lists the uploads open at key; gofakes3 answers
// NoSuchUpload to a listing where none was ever made.
func listUploadsIfAny(t *testing.T, cl *s3.Client, key string) []string {
	t.Helper()
	ids, err := uploadIDs(cl, key)
	if errorCode(err) == "NoSuchUpload" {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestMinIOPartRetryFromSpool: a part whose request fails (a connection
// reset mid-body, a 503) is sent again by the SDK, from the spool: the
// encoder ran once, MinIO got part 2 twice and checked the second's
// Content-MD5, and the object is the encoded bytes, with S3's multipart
// ETag of them. For a memory and a file chunk.
func TestMinIOPartRetryFromSpool(t *testing.T) {
	srv := minio.Start(t)
	srv.MakeBucket(t, bucket)
	cl := srv.Client()
	const n = minioRecords // about 20 MB of JSON: four parts, the second sent while encoding goes on
	for i, tc := range []struct {
		name  string
		file  bool
		fault faultproxy.Fault
	}{
		{"memory reset mid-body", false, faultproxy.ResetRequest(1 << 20)},
		{"file reset mid-body", true, faultproxy.ResetRequest(1 << 20)},
		{"file 503", true, faultproxy.S3ServiceUnavailable()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := faultproxy.Start(srv.Endpoint, faultproxy.Options{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			cfg := testConfig(p.URL(), multipartConfig)
			cfg.AWSKeyID, cfg.AWSSecKey, cfg.S3Region = srv.AccessKey, srv.SecretKey, srv.Region
			o := newOutput(t, cfg)
			part2 := faultproxy.Match{Method: http.MethodPut, Query: []string{"uploadId"},
				Func: func(r *http.Request) bool { return r.URL.Query().Get("partNumber") == "2" }}
			rule := p.Add(faultproxy.Rule{Match: part2, Times: 1, Fault: tc.fault})

			want := encoded(t, o, newGen(n, 3))
			var c *buffer.Chunk
			var dir string
			if tc.file {
				c, dir = fileChunk(t, newGen(n, 3))
			} else {
				c = testChunk(strings.Repeat(string("0123456789"[i]), 32), n)
			}
			encodes := 0
			err = o.put(context.Background(), c, func(w io.Writer) (format.Stats, error) {
				encodes++
				if tc.file {
					return o.enc.EncodeChunk(w, c)
				}
				return o.enc.Encode(w, newGen(n, 3))
			})
			if err != nil {
				t.Fatal(err)
			}
			if encodes != 1 {
				t.Errorf("encoded %d times, want once", encodes)
			}
			if rule.Applied() != 1 {
				t.Fatalf("fault applied %d times, want once", rule.Applied())
			}
			if got := p.Count(part2); got != 2 {
				t.Errorf("part 2 sent %d times, want 2 (the fault, the SDK's retry)", got)
			}
			body, out := getObject(t, cl, o.Key(c))
			if !bytes.Equal(body, want) {
				t.Fatalf("object of %d bytes differs from the %d encoded", len(body), len(want))
			}
			if etag, w := strings.Trim(aws.ToString(out.ETag), `"`), partsETag(want, MinPartSize); etag != w || !strings.HasSuffix(etag, "-4") {
				t.Errorf("etag %s, want %s (four parts)", etag, w)
			}
			if ups := listUploads(t, cl, o.Key(c)); len(ups) != 0 {
				t.Errorf("uploads left: %q", ups)
			}
			if tc.file {
				checkNoSpool(t, dir, "after the flush")
			}
		})
	}
}

// blobFrames serves n records, each with a blob of size random bytes (a
// window of a random pool): output that does not shrink, made cheaply.
type blobFrames struct {
	n, size int
	done    int
	pool    []byte
	buf     []byte
	rec     []byte
}

func newBlobFrames(n, size int) *blobFrames {
	pool := make([]byte, 1<<20+size)
	rand.NewChaCha8([32]byte{1}).Read(pool)
	return &blobFrames{n: n, size: size, pool: pool}
}

func (b *blobFrames) Rewind() { b.done = 0 }

func (b *blobFrames) Next() (string, []byte, error) {
	if b.done >= b.n {
		return "", nil, io.EOF
	}
	b.buf = b.buf[:0]
	for i := 0; i < 16 && b.done < b.n; i++ {
		off := b.done * 7919 % (len(b.pool) - b.size)
		b.rec = msgp.AppendMapHeader(b.rec[:0], 2)
		b.rec = msgp.AppendString(b.rec, "seq")
		b.rec = msgp.AppendInt(b.rec, b.done)
		b.rec = msgp.AppendString(b.rec, "blob")
		b.rec = msgp.AppendBytes(b.rec, b.pool[off:off+b.size])
		b.buf = event.AppendEntry(b.buf, event.AppendEventTime(nil, 1795341845, int64(b.done)), b.rec)
		b.done++
	}
	return "app.web", b.buf, nil
}

// partSums is an io.Writer that keeps the MD5 of each part of size.
type partSums struct {
	size int64
	h    hash.Hash
	n    int64
	sums [][md5.Size]byte
}

func (p *partSums) Write(b []byte) (int, error) {
	total := len(b)
	for len(b) > 0 {
		if p.h == nil {
			p.h, p.n = md5.New(), 0
		}
		k := min(int64(len(b)), p.size-p.n)
		p.h.Write(b[:k])
		p.n += k
		b = b[k:]
		if p.n == p.size {
			p.end()
		}
	}
	return total, nil
}

func (p *partSums) end() {
	if p.h != nil {
		var s [md5.Size]byte
		p.sums = append(p.sums, [md5.Size]byte(p.h.Sum(s[:0])))
		p.h = nil
	}
}

// heapBytes is the heap's live and not yet swept objects (HeapAlloc),
// read without stopping the world.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestMinIOSpoolMemory uploads a file chunk that encodes to about 106 MiB
// that does not compress, in parts of 5 MiB 8 at a time (22 parts), and of
// 16 MiB 8 at a time (7 parts), and samples the heap every 256 KiB the
// encoder writes (so while parts are in flight): it grows by a few MiB
// either way, not by (multipart_concurrency+1) * part_size (45 MiB, 144
// MiB), let alone by the object. The GC runs at 25% growth during the
// test, so what is sampled is close to what is live.
func TestMinIOSpoolMemory(t *testing.T) {
	const (
		records = 1700
		blob    = 64 << 10
		bound   = 24 << 20 // generous: a few MiB are expected
	)
	srv := minio.Start(t)
	srv.MakeBucket(t, bucket)
	cl := srv.Client()
	frames := newBlobFrames(records, blob)
	for _, tc := range []struct {
		partSize    int64
		concurrency int
	}{
		{MinPartSize, 8},
		{16 << 20, 8},
	} {
		t.Run(fmt.Sprintf("part_size %dm concurrency %d", tc.partSize>>20, tc.concurrency), func(t *testing.T) {
			cfg := testConfig(srv.Endpoint, func(c *Config) {
				c.StoreAs = "txt" // no compression
				c.Format.Type = "msgpack"
				c.PartSize = tc.partSize
				c.MultipartThreshold = tc.partSize
				c.MultipartConcurrency = tc.concurrency
			})
			cfg.AWSKeyID, cfg.AWSSecKey, cfg.S3Region = srv.AccessKey, srv.SecretKey, srv.Region
			o := newOutput(t, cfg)
			// The chunk's records are small (its count is what matters);
			// the encoder is given as many big ones.
			c, dir := fileChunk(t, newGen(records, 1))

			defer debug.SetGCPercent(debug.SetGCPercent(25))
			frames.Rewind()
			frames.Next() // its frame buffer, before the baseline
			runtime.GC()
			base := heapBytes()
			peak := base
			encodes := 0
			err := o.put(context.Background(), c, func(w io.Writer) (format.Stats, error) {
				encodes++
				frames.Rewind()
				next := int64(0)
				return o.enc.Encode(&writeHook{w: w, fn: func(n int64) {
					if n >= next {
						peak = max(peak, heapBytes())
						next = n + 256<<10
					}
				}}, frames)
			})
			peak = max(peak, heapBytes())
			if err != nil {
				t.Fatal(err)
			}
			if encodes != 1 {
				t.Errorf("encoded %d times, want once", encodes)
			}
			grown := peak - min(peak, base)
			head, err := cl.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.Key(c))})
			if err != nil {
				t.Fatal(err)
			}
			size := aws.ToInt64(head.ContentLength)
			t.Logf("uploaded %.1f MiB in parts of %d MiB, %d at a time: the heap grew by %.1f MiB over %.1f MiB (etag %s)",
				float64(size)/(1<<20), tc.partSize>>20, tc.concurrency, float64(grown)/(1<<20), float64(base)/(1<<20), aws.ToString(head.ETag))
			if size < 100<<20 {
				t.Fatalf("object of %d bytes, want over 100 MiB", size)
			}
			if grown > bound {
				t.Errorf("the heap grew by %.1f MiB during the upload, want at most %d MiB, whatever part_size and multipart_concurrency",
					float64(grown)/(1<<20), bound>>20)
			}
			// The object is what the encoder writes, part by part.
			sums := &partSums{size: tc.partSize}
			frames.Rewind()
			if _, err := o.enc.Encode(sums, frames); err != nil {
				t.Fatal(err)
			}
			sums.end()
			if etag := strings.Trim(aws.ToString(head.ETag), `"`); etag != multipartETag(sums.sums) {
				t.Errorf("etag %s, want %s", etag, multipartETag(sums.sums))
			}
			checkNoSpool(t, dir, "after the flush")
		})
	}
}
