package s3

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/barge-dev/barge/output/objkey"
)

const fluentKeyFormat = "%{path}%{time_slice}_%{index}.%{file_extension}"

func indexConfig(c *Config) { c.S3ObjectKeyFormat = fluentKeyFormat }

// putOther stores an object of another chunk at key.
func putOther(t testing.TB, cl *s3.Client, key string) {
	t.Helper()
	if _, err := cl.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: strings.NewReader("not yours"), Metadata: map[string]string{objkey.MetaChunkID: "ffffffffffffffffffffffffffffffff"}}); err != nil {
		t.Fatal(err)
	}
}

// TestIndexOneListing: the index is found with one ListObjectsV2, not a
// HEAD per index as fluent-plugin-s3 does, and is chosen once: a retry
// neither lists nor writes a second object.
func TestIndexOneListing(t *testing.T) {
	fake := startFake(t)
	var mu sync.Mutex
	var lists, heads int
	fake.wrap = func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2":
			lists++
		case r.Method == http.MethodHead:
			heads++
		}
		return false
	}
	o := newOutput(t, testConfig(fake.URL, indexConfig))
	cl := testClient(t, o)
	for i := range 20 {
		putOther(t, cl, fmt.Sprintf("logs/app.web/2026112210_%d.gz", i))
	}
	c := testChunk(chunkID, 100)
	if err := flushFrames(context.Background(), o, c, newGen(100, 1)); err != nil {
		t.Fatal(err)
	}
	const want = "logs/app.web/2026112210_20.gz"
	if o.Key(c) != want {
		t.Fatalf("key %q, want %q", o.Key(c), want)
	}
	body, _ := getObject(t, cl, want)
	checkSeqs(t, jsonSeqs(t, decode(t, want, body)), 100)
	mu.Lock()
	if lists != 1 || heads != 0 {
		t.Errorf("%d listings and %d HEADs, want 1 and 0", lists, heads)
	}
	mu.Unlock()
	// The retry of a flush whose answer was lost: same key, its own object.
	if err := flushFrames(context.Background(), o, c, newGen(100, 1)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	n := lists
	mu.Unlock()
	if keys := listKeys(t, cl); len(keys) != 21 || n != 1 {
		t.Errorf("%d objects after %d listings, want 21 after 1", len(keys), n)
	}
}

// TestMinIOIndex: chunks flushed at once on a prefix that has objects
// get the next free indexes, each its own.
func TestMinIOIndex(t *testing.T) {
	o, cl := startMinIO(t, indexConfig)
	putOther(t, cl, "logs/app.web/2026112210_0.gz")
	putOther(t, cl, "logs/app.web/2026112210_2.gz")
	const chunks = 6
	var wg sync.WaitGroup
	for i := range chunks {
		wg.Go(func() {
			c := testChunk(fmt.Sprintf("%032x", i+1), 100)
			if err := flushFrames(context.Background(), o, c, newGen(100, uint64(i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	keys := listKeys(t, cl)
	slices.Sort(keys)
	var want []string
	for i := range chunks + 2 {
		want = append(want, fmt.Sprintf("logs/app.web/2026112210_%d.gz", i))
	}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
}

// TestMinIOIndexTaken: another writer stores an object at the key a chunk
// recorded; the create-only write finds it, leaves it alone, and the chunk
// takes the next index, recorded before its upload.
func TestMinIOIndexTaken(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		n    int
	}{
		{"single", func(c *Config) { indexConfig(c); c.StoreAs = "json" }, 1000},
		{"multipart", func(c *Config) { indexConfig(c); multipartConfig(c) }, minioRecords / 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, cl := startMinIO(t, tc.mod)
			c := testChunk(chunkID, tc.n)
			// The first attempt chose and recorded index 0, then failed.
			key, err := o.chooseKey(context.Background(), cl, c, objkey.Vars(c, o.hostname, o.enc.FileExtension()), "")
			if err != nil || !strings.HasSuffix(key, "_0.json") {
				t.Fatalf("key %q, %v", key, err)
			}
			putOther(t, cl, key)
			if err := flushFrames(context.Background(), o, c, newGen(tc.n, 1)); err != nil {
				t.Fatal(err)
			}
			next := strings.TrimSuffix(key, "_0.json") + "_1.json"
			if o.Key(c) != next {
				t.Errorf("recorded key %q, want %q", o.Key(c), next)
			}
			if body, _ := getObject(t, cl, key); string(body) != "not yours" {
				t.Errorf("the other object was overwritten: %.40q", body)
			}
			body, _ := getObject(t, cl, next)
			checkSeqs(t, jsonSeqs(t, body), tc.n)
			for _, k := range []string{key, next} {
				if ups := listUploads(t, cl, k); len(ups) != 0 {
					t.Errorf("uploads left at %s: %q", k, ups)
				}
			}
		})
	}
}
