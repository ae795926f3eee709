package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/objkey"
)

// deepEntry is an entry whose record nests one level deeper than
// event.MaxDepth: the encoder rejects it.
func deepEntry() []byte {
	b := append([]byte{0x92, 0x01, 0x81, 0xa1, 'k'}, bytes.Repeat([]byte{0x91}, event.MaxDepth)...)
	return append(b, 0xc0)
}

// thenFrames serves the frames of each source in turn.
type thenFrames []format.Frames

func (t *thenFrames) Next() (string, []byte, error) {
	for len(*t) > 0 {
		tag, b, err := (*t)[0].Next()
		if !errors.Is(err, io.EOF) {
			return tag, b, err
		}
		*t = (*t)[1:]
	}
	return "", nil, io.EOF
}

// countRequests counts the requests of fake whose method is m and whose
// query has q.
func countRequests(fake *fakeS3, m, q string) *atomic.Int32 {
	var n atomic.Int32
	fake.wrap = func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		if r.Method == m && (q == "" || r.URL.Query().Has(q)) {
			n.Add(1)
		}
		return false
	}
	return &n
}

// TestRejectedRecords: the object holds the records the encoder wrote,
// barge-records counts them, and Flush returns the others with
// buffer.Rejected; with one PutObject as with a multipart upload, whose
// metadata went out before the reject was found.
func TestRejectedRecords(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mod       func(*Config)
		n         int
		creations int32 // CreateMultipartUpload requests
	}{
		{"put", nil, 1000, 0},
		{"multipart", multipartConfig, 60000, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := startFake(t)
			creates := countRequests(fake, http.MethodPost, "uploads")
			o := newOutput(t, testConfig(fake.URL, func(c *Config) {
				c.StoreAs = "json"
				if tc.mod != nil {
					tc.mod(c)
				}
			}))
			c := testChunk(chunkID, tc.n+1)
			frames := &thenFrames{newGen(tc.n, 7), &sliceFrames{tags: []string{"app.web"}, entries: [][]byte{deepEntry()}}}
			err := flushFrames(context.Background(), o, c, frames)
			rs, ok := buffer.RejectedRecords(err)
			if !ok || len(rs) != 1 || !bytes.Equal(rs[0].Entry, deepEntry()) || buffer.IsPermanent(err) {
				t.Fatalf("err = %v, want buffer.Rejected of the deep record", err)
			}
			cl := testClient(t, o)
			body, out := getObject(t, cl, o.Key(c))
			checkSeqs(t, jsonSeqs(t, body), tc.n)
			if got := metaValue(out.Metadata, objkey.MetaRecords); got != strconv.Itoa(tc.n) {
				t.Errorf("%s = %s, want %d: the records in the object", objkey.MetaRecords, got, tc.n)
			}
			if got := creates.Load(); got != tc.creations {
				t.Errorf("%d multipart uploads created, want %d", got, tc.creations)
			}
			if tc.creations == 0 {
				return // gofakes3 answers NoSuchUpload to a listing where none was ever made
			}
			if ups := listUploads(t, cl, o.Key(c)); len(ups) != 0 {
				t.Errorf("uploads left: %q", ups)
			}
		})
	}
}

// TestAllRejected: a chunk of nothing but rejected records uploads nothing
// and is a permanent error naming the object.
func TestAllRejected(t *testing.T) {
	fake := startFake(t)
	puts := countRequests(fake, http.MethodPut, "")
	o := newOutput(t, testConfig(fake.URL, nil))
	c := testChunk(chunkID, 2)
	err := flushFrames(context.Background(), o, c, &sliceFrames{tags: []string{"a"}, entries: [][]byte{append(deepEntry(), deepEntry()...)}})
	if !buffer.IsPermanent(err) || !errors.Is(err, format.ErrAllRejected) || !strings.Contains(err.Error(), "s3://"+bucket+"/"+o.Key(c)) {
		t.Fatalf("err = %v, want permanent ErrAllRejected naming the object", err)
	}
	if n := puts.Load(); n != 0 {
		t.Errorf("%d PUT requests, want none", n)
	}
}

// TestKeyTooLong: a key past S3's 1024 bytes is a permanent error naming
// it, before any request.
func TestKeyTooLong(t *testing.T) {
	fake := startFake(t)
	var requests atomic.Int32
	fake.wrap = func(http.ResponseWriter, *http.Request, http.Handler) bool { requests.Add(1); return false }
	o := newOutput(t, testConfig(fake.URL, func(c *Config) { c.Path = strings.Repeat("${tag}/", 6) }))
	c := testChunk(chunkID, 10)
	c.Tag = strings.Repeat("t", 256)
	err := flushFrames(context.Background(), o, c, newGen(10, 1))
	if !buffer.IsPermanent(err) || !errors.Is(err, objkey.ErrObjectKey) || !strings.Contains(err.Error(), "s3://"+bucket+"/"+o.Key(c)[:100]) {
		t.Fatalf("err = %v, want permanent naming the key", err)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}

// TestHostileTagAndKeys: a tag and chunk key values with slashes,
// newlines, bytes that are not UTF-8 and lengths past every limit still
// upload, under a clean key, with metadata that decodes.
func TestHostileTagAndKeys(t *testing.T) {
	fake := startFake(t)
	o := newOutput(t, testConfig(fake.URL, func(c *Config) { c.Path = "logs/${tag}/${region}/" }))
	c := testChunk(chunkID, 10)
	c.Tag = "../" + strings.Repeat("日本", 200)
	c.Keys = map[string]string{"region": "eu\n/..\xff" + strings.Repeat("x", 3000)}
	if err := flushFrames(context.Background(), o, c, newGen(10, 1)); err != nil {
		t.Fatal(err)
	}
	key := o.Key(c)
	parts := strings.Split(key, "/")
	if len(parts) != 4 || parts[0] != "logs" || len(parts[1]) > objkey.MaxValueLen || !strings.HasPrefix(parts[2], "eu__.._x") {
		t.Fatalf("key %q", key)
	}
	out, err := testClient(t, o).HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	var dec mime.WordDecoder
	tag, err := dec.DecodeHeader(metaValue(out.Metadata, objkey.MetaTag))
	if err != nil || !strings.HasPrefix(tag, "../日本日本") || len(tag) > objkey.MaxMetaTagLen {
		t.Errorf("tag metadata %q: %v", tag, err)
	}
	if k := metaValue(out.Metadata, objkey.MetaKeys); !strings.HasPrefix(k, `{"region":"eu\n/..\ufffdxxx`) || len(k) > objkey.MaxMetaKeysLen {
		t.Errorf("keys metadata %q", k)
	}
}

// TestMetadataFitsS3: with the longest values every source may give, the
// user metadata stays within S3's 2 KiB, counted as MinIO counts it (each
// header's name, x-amz-meta- included, and value).
func TestMetadataFitsS3(t *testing.T) {
	o := newOutput(t, testConfig("http://127.0.0.1:1", nil))
	o.hostname = strings.Repeat("ホ", 200)
	o.version = strings.Repeat("\x01é", 200)
	keys := map[string]string{}
	for _, k := range []string{"region", "namespace", "pod", "container", "app", "team"} {
		keys[k] = strings.Repeat("🙂\n", 500)
	}
	c := testChunk(chunkID, 1<<40)
	c.Tag, c.Keys = strings.Repeat("日", event.MaxTagLen/3), keys
	size := 0
	for k, v := range o.metadata(c) {
		size += len("X-Amz-Meta-"+k) + len(v)
		if !printableASCII(v) {
			t.Errorf("%s = %q is not printable ASCII", k, v)
		}
	}
	if size > 2048 {
		t.Errorf("user metadata of %d bytes, more than S3's 2048", size)
	}
	t.Logf("worst-case user metadata: %d bytes", size)
}
