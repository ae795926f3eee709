package gcs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/buffertest"
	"github.com/barge-dev/barge/output/objkey"
)

const fluentKeyFormat = "%{path}%{time_slice}_%{index}.%{file_extension}"

// hooked runs a hook around the output's Flush, per chunk and attempt.
type hooked struct {
	o     *Output
	mu    sync.Mutex
	calls map[string]int
	hook  func(attempt int, c *buffer.Chunk, flush func() error) error
}

func (h *hooked) Flush(ctx context.Context, c *buffer.Chunk) error {
	h.mu.Lock()
	if h.calls == nil {
		h.calls = map[string]int{}
	}
	h.calls[c.ID]++
	n := h.calls[c.ID]
	h.mu.Unlock()
	return h.hook(n, c, func() error { return h.o.Flush(ctx, c) })
}

func indexBuffer(t *testing.T, out buffer.Flusher) *buffertest.Running {
	bcfg := buffer.DefaultConfig("memory")
	bcfg.ChunkKeys = []string{"tag", "time"}
	bcfg.TimeKey = time.Hour
	bcfg.TimeKeyUseUTC = true
	bcfg.ChunkLimitRecords = 50
	bcfg.FlushThreadCount = 4
	bcfg.RetryWait = 10 * time.Millisecond
	return buffertest.Start(t, bcfg, out, "gcs")
}

// putOther stores another chunk's object at key.
func (s *server) putOther(t *testing.T, key string) {
	t.Helper()
	w := s.read.Bucket(bucketName).Object(key).NewWriter(context.Background())
	w.Metadata = map[string]string{objkey.MetaChunkID: "ffffffffffffffffffffffffffffffff"}
	io.WriteString(w, "someone else's object\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// indexKeys returns the objects of the test prefix and the records of
// barge's.
func indexKeys(t *testing.T, srv *server, slice string) ([]string, int) {
	t.Helper()
	var keys []string
	records := 0
	for _, k := range srv.keys(t) {
		keys = append(keys, k)
		if data, attrs := srv.object(t, k); attrs.Metadata[objkey.MetaChunkID] != "ffffffffffffffffffffffffffffffff" {
			records += len(decodeLines(t, data, "none"))
		}
	}
	slices.Sort(keys)
	return keys, records
}

func wantKeys(n int, slice string) []string {
	var keys []string
	for i := range n {
		keys = append(keys, fmt.Sprintf("logs/app/%s_%d.json", slice, i))
	}
	slices.Sort(keys)
	return keys
}

// TestIndexNextFree: chunks flushed at once on a prefix that has objects
// get the next free indexes, each its own; a flush whose answer was lost
// finds its own object at its recorded key on the retry.
func TestIndexNextFree(t *testing.T) {
	srv := startServer(t, true)
	o := newOutput(t, func(c *Config) { c.ObjectKeyFormat = fluentKeyFormat; c.StoreAs = "json" })
	slice := time.Unix(1795341845, 0).UTC().Format("2006010215")
	srv.putOther(t, "logs/app/"+slice+"_0.json")
	srv.putOther(t, "logs/app/"+slice+"_2.json")
	h := &hooked{o: o, hook: func(attempt int, c *buffer.Chunk, flush func() error) error {
		err := flush()
		if attempt == 1 && err == nil {
			return errors.New("answer lost")
		}
		return err
	}}
	buf := indexBuffer(t, h)
	for i := range 6 {
		buf.Append("app", entries(i*50, 50, 0))
	}
	buf.Finish(30 * time.Second)
	keys, records := indexKeys(t, srv, slice)
	if want := wantKeys(8, slice); !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	if records != 300 {
		t.Errorf("%d records, want 300", records)
	}
	// One listing per chunk, at its first attempt.
	if n := srv.reqs.count("GET", "/storage/v1/b/"+bucketName+"/o?", "prefix="); n != 6 {
		t.Errorf("%d listings, want 6", n)
	}
}

// TestIndexTaken: another writer stores an object at the key a chunk
// recorded; the create-only write finds it, leaves it alone, and the chunk
// takes the next index, recorded.
func TestIndexTaken(t *testing.T) {
	for _, large := range []bool{false, true} {
		t.Run(map[bool]string{false: "single", true: "resumable"}[large], func(t *testing.T) {
			srv := startServer(t, false)
			o := newOutput(t, func(c *Config) { c.ObjectKeyFormat = fluentKeyFormat; c.StoreAs = "json"; c.ChunkSize = 256 << 10 })
			slice := time.Unix(1795341845, 0).UTC().Format("2006010215")
			n, pad := 50, 0
			if large {
				n, pad = 8000, 200
			}
			var recorded string
			h := &hooked{o: o, hook: func(attempt int, c *buffer.Chunk, flush func() error) error {
				if attempt == 1 {
					// Chosen and recorded, then the upload failed and
					// another writer took the key.
					key, err := o.chooseKey(context.Background(), c, objkey.Vars(c, o.hostname, o.enc.FileExtension()), "")
					if err != nil {
						return err
					}
					srv.putOther(t, key)
					return errors.New("upload failed")
				}
				err := flush()
				recorded = o.names.Recorded(c)
				return err
			}}
			bcfg := buffer.DefaultConfig("memory")
			bcfg.ChunkKeys = []string{"tag", "time"}
			bcfg.TimeKey = time.Hour
			bcfg.TimeKeyUseUTC = true
			bcfg.RetryWait = 10 * time.Millisecond
			buf := buffertest.Start(t, bcfg, h, "gcs")
			buf.Append("app", entries(0, n, pad))
			buf.Finish(30 * time.Second)
			keys, records := indexKeys(t, srv, slice)
			if want := wantKeys(2, slice); !slices.Equal(keys, want) || records != n {
				t.Errorf("keys %q with %d records, want %q with %d", keys, records, want, n)
			}
			if !strings.HasSuffix(recorded, "_1.json") {
				t.Errorf("recorded %q, want index 1", recorded)
			}
			if data, _ := srv.object(t, "logs/app/"+slice+"_0.json"); string(data) != "someone else's object\n" {
				t.Errorf("the other object changed: %q", data)
			}
		})
	}
}
