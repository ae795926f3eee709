package gcs

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/output/format"
)

// TestLargeResumable streams a multi-MB chunk through 256 KiB resumable
// requests and checks the stored bytes and their CRC32C.
func TestLargeResumable(t *testing.T) {
	for _, storeAs := range []string{"json", "zstd"} {
		t.Run(storeAs, func(t *testing.T) {
			srv := startServer(t, true)
			o := newOutput(t, func(c *Config) { c.StoreAs = storeAs; c.ChunkSize = 256 << 10 })
			const n = 20000 // about 4.5 MB of JSON
			f := &frames{tags: []string{"app.web", "app.web"}, entries: [][]byte{entries(0, n/2, 200), entries(n/2, n/2, 200)}}
			key, err := putFrames(context.Background(), o, vars(), f)
			if err != nil {
				t.Fatal(err)
			}
			data, attrs := srv.object(t, key)
			if storeAs == "json" && len(data) < 4<<20 {
				t.Fatalf("object of %d bytes, want several MB", len(data))
			}
			if c := crc32.Checksum(data, castagnoli); attrs.CRC32C != c || attrs.Size != int64(len(data)) {
				t.Errorf("stored crc32c %08x size %d, content %08x %d", attrs.CRC32C, attrs.Size, c, len(data))
			}
			checkSeq(t, decodeLines(t, data, map[string]string{"json": "none"}[storeAs]+map[string]string{"zstd": "zstd"}[storeAs]), n)
			starts := srv.reqs.count("POST", "uploadType=resumable", "ifGenerationMatch=0")
			chunks := srv.reqs.count("upload_id=")
			if starts != 1 || chunks < 2 || chunks < len(data)/(256<<10) {
				t.Errorf("%d resumable uploads with %d requests for %d bytes; log %v", starts, chunks, len(data), srv.reqs.reqs)
			}
			// The last request carries the whole object's CRC32C, for GCS
			// to check (fake-gcs-server does not).
			var c [4]byte
			binary.BigEndian.PutUint32(c[:], attrs.CRC32C)
			if want := "crc32c=" + base64.StdEncoding.EncodeToString(c[:]); !slices.Equal(srv.reqs.hashes, []string{want}) {
				t.Errorf("X-Goog-Hash headers %v, want one %s", srv.reqs.hashes, want)
			}
			if srv.reqs.count("uploadType=multipart") != 0 {
				t.Error("a single-request upload was made")
			}
		})
	}
	t.Run("small is one request", func(t *testing.T) {
		srv := startServer(t, true)
		o := newOutput(t, func(c *Config) { c.StoreAs = "json"; c.ChunkSize = 256 << 10 })
		if _, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, 100, 0))); err != nil {
			t.Fatal(err)
		}
		if n := srv.reqs.count("POST", "uploadType=multipart"); n != 1 || len(srv.reqs.reqs) != 1 {
			t.Errorf("requests %v, want one multipart upload", srv.reqs.reqs)
		}
	})
}

// TestChecksumMismatch proves that a CRC32C that does not match the data
// fails the flush with a retryable error and leaves no object.
func TestChecksumMismatch(t *testing.T) {
	for _, tt := range []struct {
		name string
		n    int
	}{{"single", 100}, {"resumable", 8000}} {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, false)
			o := newOutput(t, func(c *Config) { c.StoreAs = "json"; c.ChunkSize = 256 << 10 })
			o.testCRC = func(c uint32) uint32 { return c ^ 1 }
			_, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, tt.n, 200)))
			if err == nil || buffer.IsPermanent(err) {
				t.Fatalf("err = %v, want a retryable error", err)
			}
			if keys := srv.keys(t); len(keys) != 0 {
				t.Fatalf("objects left: %v", keys)
			}
			o.testCRC = nil
			if _, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, tt.n, 200))); err != nil {
				t.Fatalf("retry: %v", err)
			}
		})
	}
}

// TestMalformedChunkIsPermanent: a chunk of nothing but malformed records
// finalizes no object, in one request as in a resumable upload.
func TestMalformedChunkIsPermanent(t *testing.T) {
	srv := startServer(t, false)
	for _, n := range []int{2, 8000} { // in the buffer; after a resumable upload started
		o := newOutput(t, func(c *Config) { c.StoreAs = "json"; c.ChunkSize = 256 << 10 })
		var bad []byte
		for range n {
			bad = append(bad, 0x92, 0xa1, 'x', 0x81, 0xa1, 'k', 0xa1, 'v')
		}
		_, err := putFrames(context.Background(), o, vars(), oneFrame(bad))
		if !buffer.IsPermanent(err) || !errors.Is(err, format.ErrAllRejected) || !errors.Is(err, event.ErrEntry) && !strings.Contains(err.Error(), "time is") {
			t.Fatalf("err = %v, want permanent ErrAllRejected", err)
		}
		if keys := srv.keys(t); len(keys) != 0 {
			t.Fatalf("%d records: object finalized: %v", n, keys)
		}
	}
}

func TestCanceled(t *testing.T) {
	srv := startServer(t, false)
	o := newOutput(t, func(c *Config) { c.StoreAs = "json"; c.ChunkSize = 256 << 10 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := putFrames(ctx, o, vars(), oneFrame(entries(0, 1, 0))); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	// Canceled in the middle of a resumable upload: nothing is finalized.
	ctx, cancel = context.WithCancel(context.Background())
	f := &cancelFrames{cancel: cancel, left: 10}
	if _, err := putFrames(ctx, o, vars(), f); !errors.Is(err, context.Canceled) || buffer.IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
	if keys := srv.keys(t); len(keys) != 0 {
		t.Fatalf("objects: %v", keys)
	}
}

// cancelFrames cancels its context after the first frames.
type cancelFrames struct {
	cancel func()
	left   int
}

func (c *cancelFrames) Next() (string, []byte, error) {
	c.left--
	if c.left == 0 {
		c.cancel()
	}
	return "app.web", entries(c.left*1000, 1000, 200), nil
}

// TestPreconditionAtStart covers a server that refuses the resumable
// session at once (real GCS checks ifGenerationMatch there too): the rest
// of the chunk is only hashed and compared with the object at the key.
func TestPreconditionAtStart(t *testing.T) {
	srv := startServer(t, true)
	o := newOutput(t, func(c *Config) { c.StoreAs = "json"; c.ChunkSize = 256 << 10 })
	key, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, 8000, 200)))
	if err != nil {
		t.Fatal(err)
	}
	refuse := func(r *http.Request) int {
		if r.Method == "POST" && strings.Contains(r.URL.RawQuery, "ifGenerationMatch=0") {
			return http.StatusPreconditionFailed
		}
		return 0
	}
	srv.fail.Store(&refuse)
	before := srv.reqs.count("upload_id=")
	if _, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, 8000, 200))); err != nil {
		t.Fatalf("same chunk: %v", err)
	}
	_, err = putFrames(context.Background(), o, vars(), oneFrame(entries(1, 8000, 200)))
	if !errors.Is(err, ErrObjectExists) || !buffer.IsPermanent(err) {
		t.Fatalf("other chunk: %v", err)
	}
	if n := srv.reqs.count("upload_id="); n != before {
		t.Errorf("%d chunk requests after the refusal", n-before)
	}
	data, _ := srv.object(t, key)
	checkSeq(t, decodeLines(t, data, "none"), 8000)
}

// TestTransientErrors: 503 and 429 are retried by the client a bounded
// number of times, then returned as retryable; 403 is permanent at once.
func TestTransientErrors(t *testing.T) {
	for _, tt := range []struct {
		code      int
		n         int // records: 100 single request, 8000 resumable
		permanent bool
		attempts  int
	}{
		{503, 100, false, 3}, {429, 100, false, 3}, {503, 8000, false, 3}, {403, 100, true, 1}, {403, 8000, true, 1}, {401, 100, true, 1},
	} {
		t.Run(fmt.Sprintf("%d-%d", tt.code, tt.n), func(t *testing.T) {
			srv := startServer(t, true)
			o := newOutput(t, func(c *Config) { c.StoreAs = "json"; c.ChunkSize = 256 << 10 })
			var tries atomic.Int32
			fail := func(r *http.Request) int {
				if strings.Contains(r.URL.RawQuery, "ifGenerationMatch=0") {
					tries.Add(1)
					return tt.code
				}
				return 0
			}
			srv.fail.Store(&fail)
			_, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, tt.n, 200)))
			if err == nil || buffer.IsPermanent(err) != tt.permanent || !strings.Contains(err.Error(), "gs://"+bucketName+"/logs/") {
				t.Fatalf("err = %v, want permanent=%v naming the object", err, tt.permanent)
			}
			if n := int(tries.Load()); n != tt.attempts {
				t.Errorf("%d attempts, want %d", n, tt.attempts)
			}
			srv.fail.Store(nil)
			if _, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, tt.n, 200))); err != nil {
				t.Fatalf("after the fault: %v", err)
			}
		})
	}
}

// TestSessionLost: a 404 once a resumable upload is under way is a lost
// session, not a missing bucket: retryable.
func TestSessionLost(t *testing.T) {
	srv := startServer(t, true)
	o := newOutput(t, func(c *Config) { c.StoreAs = "json"; c.ChunkSize = 256 << 10 })
	var chunks atomic.Int32
	fail := func(r *http.Request) int {
		if strings.Contains(r.URL.RawQuery, "upload_id=") && chunks.Add(1) == 3 {
			return http.StatusNotFound
		}
		return 0
	}
	srv.fail.Store(&fail)
	_, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, 8000, 200)))
	if err == nil || buffer.IsPermanent(err) || !strings.Contains(err.Error(), "session lost") {
		t.Fatalf("err = %v, want a retryable lost session", err)
	}
	if keys := srv.keys(t); len(keys) != 0 {
		t.Fatalf("objects: %v", keys)
	}
	if _, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, 8000, 200))); err != nil {
		t.Fatal(err)
	}
}

// TestResumableChunkRetried: a 503 on one request of a resumable upload is
// retried by the client from its chunk buffer; the object is whole.
func TestResumableChunkRetried(t *testing.T) {
	srv := startServer(t, true)
	o := newOutput(t, func(c *Config) { c.StoreAs = "json"; c.ChunkSize = 256 << 10 })
	var chunks atomic.Int32
	fail := func(r *http.Request) int {
		if n := chunks.Add(1); strings.Contains(r.URL.RawQuery, "upload_id=") && (n == 3 || n == 5) {
			return http.StatusServiceUnavailable
		}
		return 0
	}
	srv.fail.Store(&fail)
	key, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, 8000, 200)))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := srv.object(t, key)
	checkSeq(t, decodeLines(t, data, "none"), 8000)
}
