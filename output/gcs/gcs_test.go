package gcs

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/buffertest"
	"github.com/barge-dev/barge/output/objkey"
)

func TestPutStoreAs(t *testing.T) {
	srv := startServer(t, false)
	for _, tt := range []struct {
		storeAs, format string
		transcoding     bool
		compress, ext   string
		ctype, encoding string
	}{
		{storeAs: "gzip", compress: "gzip", ext: "gz", ctype: "application/gzip"},
		{storeAs: "gzip", transcoding: true, compress: "gzip", ext: "gz", ctype: "application/x-ndjson", encoding: "gzip"},
		{storeAs: "zstd", compress: "zstd", ext: "zst", ctype: "application/zstd"},
		{storeAs: "json", compress: "none", ext: "json", ctype: "application/x-ndjson"},
		{storeAs: "txt", compress: "none", ext: "json", ctype: "application/x-ndjson"},
		{storeAs: "text", format: "ltsv", compress: "none", ext: "ltsv", ctype: "text/plain"},
	} {
		name := tt.storeAs + "-" + tt.format
		if tt.transcoding {
			name += "-transcoding"
		}
		t.Run(name, func(t *testing.T) {
			o := newOutput(t, func(c *Config) {
				c.StoreAs, c.Transcoding = tt.storeAs, tt.transcoding
				c.Path = "logs/" + name + "/${tag}/%Y/"
				if tt.format != "" {
					c.Format.Type = tt.format
				}
				c.Inject.TagKey = "tag"
				c.StorageClass = "nearline"
				c.ObjectMetadata = []ObjectMetadata{{Key: "team", Value: "payments"}, {Key: "env", Value: "prod"}}
			})
			f := &frames{tags: []string{"app.web", "app.web"}, entries: [][]byte{entries(0, 3000, 0), entries(3000, 2000, 0)}}
			key, err := putFrames(context.Background(), o, vars(), f)
			if err != nil {
				t.Fatal(err)
			}
			if want := "logs/" + name + "/app.web/2026/2026112210_" + chunkID + "." + tt.ext; key != want {
				t.Fatalf("key %s, want %s", key, want)
			}
			data, attrs := srv.object(t, key)
			if attrs.ContentType != tt.ctype || attrs.ContentEncoding != tt.encoding {
				t.Errorf("content type %q encoding %q, want %q %q", attrs.ContentType, attrs.ContentEncoding, tt.ctype, tt.encoding)
			}
			if attrs.StorageClass != "NEARLINE" {
				t.Errorf("storage class %q", attrs.StorageClass)
			}
			for k, v := range map[string]string{"team": "payments", "env": "prod", objkey.MetaChunkID: chunkID, objkey.MetaTag: "app.web"} {
				if attrs.Metadata[k] != v {
					t.Errorf("metadata %s = %q, want %q (all: %v)", k, attrs.Metadata[k], v, attrs.Metadata)
				}
			}
			if c := crc32.Checksum(data, castagnoli); attrs.CRC32C != c || attrs.Size != int64(len(data)) {
				t.Errorf("stored crc32c %08x size %d, content has %08x %d", attrs.CRC32C, attrs.Size, c, len(data))
			}
			if tt.format == "ltsv" {
				if n := bytes.Count(data, []byte("\n")); n != 5000 || !bytes.Contains(data, []byte("seq:4999\t")) {
					t.Errorf("ltsv: %d lines", n)
				}
				return
			}
			recs := decodeLines(t, data, tt.compress)
			checkSeq(t, recs, 5000)
			if recs[0]["tag"] != "app.web" {
				t.Errorf("tag not injected: %v", recs[0])
			}
		})
	}
}

// TestFlushWithMemoryBuffer runs the output behind a real buffer: object
// names and the chunk metadata the loader reads.
func TestFlushWithMemoryBuffer(t *testing.T) {
	srv := startServer(t, false)
	o := newOutput(t, func(c *Config) { c.Path = "b/${tag}/%Y/"; c.StoreAs = "zstd" })
	bcfg := buffer.DefaultConfig("memory")
	bcfg.ChunkKeys = []string{"tag", "time"}
	bcfg.TimeKey = time.Hour
	if err := o.cfg.CheckChunkKeys(bcfg.ChunkKeys); err != nil {
		t.Fatal(err)
	}
	buf := buffertest.Start(t, bcfg, o, "gcs")
	for i, tag := range []string{"a.b", "c.d", "a.b"} {
		buf.Append(tag, entries(i*100, 100, 0))
	}
	buf.Finish(30 * time.Second)
	keys := srv.keys(t)
	total := 0
	for _, k := range keys {
		data, attrs := srv.object(t, k)
		n := len(decodeLines(t, data, "zstd"))
		total += n
		m := attrs.Metadata
		if m[objkey.MetaRecords] != strconv.Itoa(n) || m[objkey.MetaHost] != "node-1" ||
			m[objkey.MetaVersion] != "test" || m[objkey.MetaCompress] != "zstd" || m[objkey.MetaFormat] != "json" ||
			m[objkey.MetaTimeKey] == "" || !strings.Contains(k, "/"+m[objkey.MetaTag]+"/") || !strings.Contains(k, m[objkey.MetaChunkID]) {
			t.Errorf("%s: metadata %v (%d records)", k, m, n)
		}
	}
	if total != 300 || len(keys) < 2 {
		t.Errorf("%d records in %v, want 300 in at least 2 objects", total, keys)
	}
}

func TestCreateOnly(t *testing.T) {
	for _, large := range []bool{false, true} {
		name := map[bool]string{false: "single", true: "resumable"}[large]
		n, pad := 1000, 0
		if large {
			n, pad = 8000, 200 // about 1.7 MB of JSON: seven 256 KiB requests
		}
		t.Run(name+"/same chunk twice", func(t *testing.T) {
			srv := startServer(t, false)
			o := newOutput(t, func(c *Config) { c.StoreAs = "json"; c.ChunkSize = 256 << 10 })
			key, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, n, pad)))
			if err != nil {
				t.Fatal(err)
			}
			_, first := srv.object(t, key)
			for range 2 {
				if _, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, n, pad))); err != nil {
					t.Fatalf("retried flush: %v", err)
				}
			}
			data, again := srv.object(t, key)
			if keys := srv.keys(t); len(keys) != 1 {
				t.Errorf("objects %v, want one", keys)
			}
			if again.Generation != first.Generation {
				t.Errorf("object rewritten: generation %d then %d", first.Generation, again.Generation)
			}
			checkSeq(t, decodeLines(t, data, "none"), n)
		})
		t.Run(name+"/different object", func(t *testing.T) {
			srv := startServer(t, false)
			o := newOutput(t, func(c *Config) { c.StoreAs = "json"; c.ChunkSize = 256 << 10 })
			key := o.Key(vars())
			w := srv.read.Bucket(bucketName).Object(key).NewWriter(context.Background())
			w.Metadata = map[string]string{objkey.MetaChunkID: "ffffffffffffffffffffffffffffffff"}
			io.WriteString(w, "someone else's object\n")
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			_, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, n, pad)))
			if !buffer.IsPermanent(err) || !errors.Is(err, ErrObjectExists) || !strings.Contains(err.Error(), "gs://"+bucketName+"/"+key) {
				t.Fatalf("err = %v, want permanent ErrObjectExists naming gs://%s/%s", err, bucketName, key)
			}
			data, attrs := srv.object(t, key)
			if string(data) != "someone else's object\n" || attrs.Generation != w.Attrs().Generation {
				t.Errorf("object changed: %q", data)
			}
		})
	}
	t.Run("same id other bytes", func(t *testing.T) {
		srv := startServer(t, false)
		o := newOutput(t, func(c *Config) { c.StoreAs = "json" })
		key, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, 10, 0)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = putFrames(context.Background(), o, vars(), oneFrame(entries(0, 11, 0)))
		if !buffer.IsPermanent(err) || !errors.Is(err, ErrObjectExists) {
			t.Fatalf("err = %v, want permanent ErrObjectExists", err)
		}
		data, _ := srv.object(t, key)
		checkSeq(t, decodeLines(t, data, "none"), 10)
	})
}

func TestBucketDoesNotExist(t *testing.T) {
	startServer(t, false)
	for _, n := range []int{10, 8000} {
		o := newOutput(t, func(c *Config) { c.Bucket = "no-such-bucket"; c.StoreAs = "json"; c.ChunkSize = 256 << 10 })
		_, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, n, 200)))
		if !buffer.IsPermanent(err) || !strings.Contains(err.Error(), `bucket "no-such-bucket" does not exist`) || !strings.Contains(err.Error(), "gs://no-such-bucket/logs/") {
			t.Errorf("%d records: err = %v, want permanent naming the bucket", n, err)
		}
	}
}

func TestConcurrentFlushes(t *testing.T) {
	srv := startServer(t, false)
	o := newOutput(t, func(c *Config) { c.StoreAs = "gzip"; c.ChunkSize = 256 << 10 })
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			v := vars()
			v.ID = strings.Repeat(string(rune('a'+i)), 32)
			_, err := putFrames(context.Background(), o, v, oneFrame(entries(0, 500*(i+1)*(i%2*4+1), 200)))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if keys := srv.keys(t); len(keys) != 8 {
		t.Errorf("objects %v", keys)
	}
	if h := o.UploadTime(); h.Count() != 8 || h.Sum() <= 0 {
		t.Errorf("upload durations: %d, sum %v; want 8 uploads timed", h.Count(), h.Sum())
	}
}

func TestNewDoesNoIO(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	o, err := New(Config{}, Options{})
	if err == nil {
		t.Fatal("New accepted an empty config")
	}
	cfg := DefaultConfig()
	cfg.Bucket = "b"
	cfg.Keyfile = "/nonexistent/key.json"
	before := runtime.NumGoroutine()
	o, err = New(cfg, Options{})
	if err != nil {
		t.Fatalf("New read the keyfile: %v", err)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("New started %d goroutines", n-before)
	}
	// The first Flush reads it: an unusable keyfile is permanent.
	_, err = putFrames(context.Background(), o, vars(), oneFrame(entries(0, 1, 0)))
	if !buffer.IsPermanent(err) || !strings.Contains(err.Error(), "'keyfile'") {
		t.Errorf("err = %v, want a permanent keyfile error", err)
	}
	for range 2 {
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, 1, 0))); !errors.Is(err, errClosed) {
		t.Errorf("flush after close: %v", err)
	}
}

func TestCloseAfterFlush(t *testing.T) {
	startServer(t, false)
	o := newOutput(t, nil)
	if _, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, 1, 0))); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestEncryptionKey writes with a customer-supplied key: the emulator does
// not encrypt, but the request must be accepted and the object readable.
func TestEncryptionKey(t *testing.T) {
	srv := startServer(t, false)
	o := newOutput(t, func(c *Config) {
		c.StoreAs = "json"
		c.EncryptionKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes
		c.ACL = "project_private"
	})
	key, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, 10, 0)))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := srv.object(t, key)
	checkSeq(t, decodeLines(t, data, "none"), 10)
	if _, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, 10, 0))); err != nil {
		t.Fatalf("retried flush: %v", err)
	}
}

func TestKeyfile(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	dir := t.TempDir()
	for _, tt := range []struct{ content, want string }{
		{`not json`, "is not a credentials JSON file"},
		{`{"type":"api_key"}`, `has type "api_key"`},
	} {
		path := dir + "/key.json"
		if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		o := newOutput(t, func(c *Config) { c.Keyfile = path })
		_, err := putFrames(context.Background(), o, vars(), oneFrame(entries(0, 1, 0)))
		if !buffer.IsPermanent(err) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "gs://"+bucketName+"/") {
			t.Errorf("%s: err = %v, want permanent %q", tt.content, err, tt.want)
		}
	}
	// A service account file is taken as such; with the emulator set, no
	// credentials are used at all.
	o := newOutput(t, func(c *Config) { c.Keyfile = dir + "/missing.json" })
	t.Setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:1")
	opts, err := o.clientOptions()
	if err != nil || len(opts) != 2 {
		t.Errorf("with the emulator: %d options, %v", len(opts), err)
	}
}
