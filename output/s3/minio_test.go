package s3

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/zstd"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/output/internal/minio"
	"github.com/barge-dev/barge/output/objkey"
)

// The tests below run against a real MinIO: the proof that create-only
// writes (If-None-Match: * on PutObject and CompleteMultipartUpload) and
// multipart uploads behave as S3's do. gofakes3 does not enforce
// If-None-Match on CompleteMultipartUpload.

func startMinIO(t *testing.T, mod func(*Config)) (*Output, *s3.Client) {
	t.Helper()
	srv := minio.Start(t)
	srv.MakeBucket(t, bucket)
	cfg := testConfig(srv.Endpoint, mod)
	cfg.AWSKeyID, cfg.AWSSecKey, cfg.S3Region = srv.AccessKey, srv.SecretKey, srv.Region
	return newOutput(t, cfg), srv.Client()
}

func multipartConfig(c *Config) {
	c.StoreAs = "json"
	c.PartSize = MinPartSize
	c.MultipartThreshold = MinPartSize
}

// minioRecords is about 20 MB of JSON: four parts of 5 MiB.
const minioRecords = 120000

func TestMinIOCreateOnly(t *testing.T) {
	o, cl := startMinIO(t, nil)
	c := testChunk(chunkID, 1000)
	if err := flushFrames(context.Background(), o, c, newGen(1000, 1)); err != nil {
		t.Fatal(err)
	}
	body, first := getObject(t, cl, o.Key(c))
	checkSeqs(t, jsonSeqs(t, decode(t, o.Key(c), body)), 1000)
	if got := strings.Trim(aws.ToString(first.ETag), `"`); got != md5hex(body) {
		t.Errorf("etag %s, want %s", got, md5hex(body))
	}
	// The retry of a flush whose answer was lost finds its own object.
	if err := flushFrames(context.Background(), o, c, newGen(1000, 1)); err != nil {
		t.Fatalf("second flush: %v", err)
	}
	if keys := listKeys(t, cl); len(keys) != 1 {
		t.Fatalf("keys %q, want one", keys)
	}
	_, second := getObject(t, cl, o.Key(c))
	if !aws.ToTime(second.LastModified).Equal(aws.ToTime(first.LastModified)) || aws.ToString(second.ETag) != aws.ToString(first.ETag) {
		t.Errorf("object rewritten: %v %s, was %v %s", second.LastModified, aws.ToString(second.ETag), first.LastModified, aws.ToString(first.ETag))
	}
}

func TestMinIOOtherObjectAtKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		n    int
	}{
		{"single", nil, 1000},
		{"multipart", multipartConfig, minioRecords / 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, cl := startMinIO(t, tc.mod)
			c := testChunk(chunkID, tc.n)
			key := o.Key(c)
			if _, err := cl.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
				Body: strings.NewReader("not yours"), Metadata: map[string]string{"barge-chunk-id": "ffffffffffffffffffffffffffffffff"}}); err != nil {
				t.Fatal(err)
			}
			err := flushFrames(context.Background(), o, c, newGen(tc.n, 1))
			if !buffer.IsPermanent(err) || !strings.Contains(err.Error(), "s3://"+bucket+"/"+key+": another object is at the key") {
				t.Fatalf("err = %v, want permanent naming the object", err)
			}
			if body, _ := getObject(t, cl, key); string(body) != "not yours" {
				t.Errorf("object overwritten: %.40q", body)
			}
			if ups := listUploads(t, cl, key); len(ups) != 0 {
				t.Errorf("uploads left: %q", ups)
			}
		})
	}
}

func TestMinIOMultipart(t *testing.T) {
	o, cl := startMinIO(t, multipartConfig)
	want := encoded(t, o, newGen(minioRecords, 3))
	c := testChunk(chunkID, minioRecords)
	if err := flushFrames(context.Background(), o, c, newGen(minioRecords, 3)); err != nil {
		t.Fatal(err)
	}
	body, out := getObject(t, cl, o.Key(c))
	if !bytes.Equal(body, want) {
		t.Fatalf("object of %d bytes differs from the %d encoded", len(body), len(want))
	}
	etag := strings.Trim(aws.ToString(out.ETag), `"`)
	if w := partsETag(want, MinPartSize); etag != w || !strings.HasSuffix(etag, "-4") {
		t.Errorf("etag %s, want %s (four parts)", etag, w)
	}
	if ups := listUploads(t, cl, o.Key(c)); len(ups) != 0 {
		t.Errorf("uploads left: %q", ups)
	}
	// A retry uploads again, CompleteMultipartUpload answers 412, and the
	// object found is this chunk's: done, nothing left behind.
	if err := flushFrames(context.Background(), o, c, newGen(minioRecords, 3)); err != nil {
		t.Fatalf("second flush: %v", err)
	}
	if ups := listUploads(t, cl, o.Key(c)); len(ups) != 0 {
		t.Errorf("uploads left after the second flush: %q", ups)
	}
	if _, out2 := getObject(t, cl, o.Key(c)); aws.ToString(out2.ETag) != aws.ToString(out.ETag) {
		t.Errorf("object rewritten")
	}
}

func TestMinIOInterruptedMultipart(t *testing.T) {
	o, cl := startMinIO(t, multipartConfig)
	c := testChunk(chunkID, minioRecords)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gen := newGen(minioRecords, 3)
	gen.after, gen.afterBytes = cancel, 14<<20 // after the first parts went out
	err := flushFrames(ctx, o, c, gen)
	if err == nil || buffer.IsPermanent(err) || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("err = %v, want the cancellation", err)
	}
	if ups := listUploads(t, cl, o.Key(c)); len(ups) != 0 {
		t.Errorf("uploads left after the interrupted flush: %q", ups)
	}
	if keys := listKeys(t, cl); len(keys) != 0 {
		t.Errorf("objects %q after an interrupted flush", keys)
	}
	if err := flushFrames(context.Background(), o, c, newGen(minioRecords, 3)); err != nil {
		t.Fatalf("next attempt: %v", err)
	}
	body, _ := getObject(t, cl, o.Key(c))
	checkSeqs(t, jsonSeqs(t, body), minioRecords)
}

func TestMinIOAbandonedUpload(t *testing.T) {
	o, cl := startMinIO(t, multipartConfig)
	c := testChunk(chunkID, minioRecords)
	key := o.Key(c)
	ctx := context.Background()
	// A crash left an upload with one part at the chunk's key.
	up, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(make([]byte, MinPartSize))}); err != nil {
		t.Fatal(err)
	}
	if ups := listUploads(t, cl, key); len(ups) != 1 {
		t.Fatalf("uploads before: %q", ups)
	}
	if err := flushFrames(ctx, o, c, newGen(minioRecords, 3)); err != nil {
		t.Fatal(err)
	}
	if ups := listUploads(t, cl, key); len(ups) != 0 {
		t.Errorf("uploads left: %q", ups)
	}
	body, _ := getObject(t, cl, key)
	checkSeqs(t, jsonSeqs(t, body), minioRecords)
}

// cycleFrames replays pre-generated frames until total bytes of entries
// were served: a large chunk without the generator's cost.
type cycleFrames struct {
	frames  [][]byte
	i       int
	served  int64
	total   int64
	records int
	per     int
}

func (f *cycleFrames) Rewind() { f.i, f.served, f.records = 0, 0, 0 }

func (f *cycleFrames) Next() (string, []byte, error) {
	if f.served >= f.total {
		return "", nil, io.EOF
	}
	b := f.frames[f.i%len(f.frames)]
	f.i++
	f.served += int64(len(b))
	f.records += f.per
	return "app.web", b, nil
}

// TestMinIOLargeChunk flushes a 256 MiB chunk (msgpack; 32 MiB with -race)
// with the default settings (zstd, 16 MiB parts above 32 MiB) and logs the
// throughput and the peak heap during the flush.
func TestMinIOLargeChunk(t *testing.T) {
	o, cl := startMinIO(t, func(c *Config) { c.StoreAs = "zstd" })
	total := int64(256 << 20)
	if raceEnabled {
		total = 32 << 20
	}
	gen := newGen(1<<30, 11)
	src := &cycleFrames{total: total, per: 500}
	for range 64 { // about 5 MB of distinct records
		_, b, _ := gen.Next()
		src.frames = append(src.frames, bytes.Clone(b))
	}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var (
		peak uint64
		wg   sync.WaitGroup
		done = make(chan struct{})
	)
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	for { // count the records, as a chunk knows them
		if _, _, err := src.Next(); err != nil {
			break
		}
	}
	c := testChunk(chunkID, src.records)
	src.Rewind()
	start := time.Now()
	err := flushFrames(context.Background(), o, c, src)
	elapsed := time.Since(start)
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	head, err := cl.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.Key(c))})
	if err != nil {
		t.Fatal(err)
	}
	size := aws.ToInt64(head.ContentLength)
	t.Logf("flushed %d MiB of msgpack (%d records) as %.1f MiB zstd in %v: %.0f MB/s of input; peak heap %.1f MiB over a %.1f MiB baseline (etag %s)",
		total>>20, src.records, float64(size)/(1<<20), elapsed.Round(time.Millisecond), float64(src.served)/elapsed.Seconds()/1e6,
		float64(peak-min(peak, base.HeapAlloc))/(1<<20), float64(base.HeapAlloc)/(1<<20), aws.ToString(head.ETag))
	if grown := peak - min(peak, base.HeapAlloc); grown > 96<<20 {
		t.Errorf("heap grew by %d MiB during the flush, want it bounded by about (multipart_concurrency+1)*part_size", grown>>20)
	}
	// Every record arrived.
	out, err := cl.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.Key(c))})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	zr, err := zstd.NewReader(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	lines := 0
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		lines++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if lines != src.records {
		t.Errorf("%d lines, want %d", lines, src.records)
	}
}

// TestMinIOHostileMetadata: the longest tag an input accepts, in UTF-8,
// and chunk key values with newlines and kilobytes of text, on a store
// that enforces S3's 2 KiB of user metadata: the object is stored (one
// PutObject, and a multipart upload), its metadata decodes.
func TestMinIOHostileMetadata(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		n    int
	}{
		{"put", nil, 100},
		{"multipart", multipartConfig, minioRecords / 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, cl := startMinIO(t, func(c *Config) {
				c.Path = "logs/${tag}/${region}/"
				if tc.mod != nil {
					tc.mod(c)
				}
			})
			o.hostname = strings.Repeat("ホ", 100)
			c := testChunk(chunkID, tc.n)
			c.Tag = strings.Repeat("日", event.MaxTagLen/3)
			c.Keys = map[string]string{"region": "eu\n" + strings.Repeat("🙂", 1000), "team": strings.Repeat("\"", 800)}
			if err := flushFrames(context.Background(), o, c, newGen(tc.n, 1)); err != nil {
				t.Fatal(err)
			}
			out, err := cl.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.Key(c))})
			if err != nil {
				t.Fatal(err)
			}
			var dec mime.WordDecoder
			tag, err := dec.DecodeHeader(metaValue(out.Metadata, objkey.MetaTag))
			if err != nil || !strings.HasPrefix(tag, "日日日") || len(tag) > objkey.MaxMetaTagLen {
				t.Errorf("tag metadata %q: %v", tag, err)
			}
			var keys map[string]string
			if err := json.Unmarshal([]byte(metaValue(out.Metadata, objkey.MetaKeys)), &keys); err != nil || !strings.HasPrefix(keys["region"], "eu\n🙂") {
				t.Errorf("keys metadata %q: %v", metaValue(out.Metadata, objkey.MetaKeys), err)
			}
			if got := metaValue(out.Metadata, objkey.MetaRecords); got != strconv.Itoa(tc.n) {
				t.Errorf("records metadata %q", got)
			}
		})
	}
}
