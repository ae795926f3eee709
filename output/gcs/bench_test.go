package gcs

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/buffer/event"
)

// logWords make messages that compress like real logs, not like one
// repeated record.
var logWords = strings.Fields(`request user session cache miss hit upstream timeout retry
connection pool database query slow handler order payment invoice account login token
expired queue worker job started finished failed backend service region node pod latency`)

// logBlock returns about size bytes of entries of ~200-byte access-log
// records drawn from seed.
func logBlock(seed uint64, size int) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	var b []byte
	for i := 0; len(b) < size; i++ {
		var msg strings.Builder
		msg.WriteString("GET /api/v1/" + logWords[rng.IntN(len(logWords))] + "/" + strconv.Itoa(rng.IntN(1e6)))
		for range 12 {
			msg.WriteString(" " + logWords[rng.IntN(len(logWords))])
		}
		rec := msgp.AppendMapHeader(nil, 5)
		rec = msgp.AppendString(rec, "level")
		rec = msgp.AppendString(rec, []string{"info", "info", "warn", "error"}[rng.IntN(4)])
		rec = msgp.AppendString(rec, "host")
		rec = msgp.AppendString(rec, "web-"+strconv.Itoa(rng.IntN(64)))
		rec = msgp.AppendString(rec, "status")
		rec = msgp.AppendInt(rec, []int{200, 200, 200, 404, 500}[rng.IntN(5)])
		rec = msgp.AppendString(rec, "request_id")
		rec = msgp.AppendString(rec, strconv.FormatUint(rng.Uint64(), 16))
		rec = msgp.AppendString(rec, "msg")
		rec = msgp.AppendString(rec, msg.String())
		b = event.AppendEntry(b, event.AppendEventTime(nil, 1795341845, int64(i)), rec)
	}
	return b
}

// cycleFrames serves total bytes of entries by cycling through blocks
// (16 distinct 1 MiB blocks: further apart than zstd's window).
type cycleFrames struct {
	blocks [][]byte
	left   int64
	i      int
}

func (c *cycleFrames) Next() (string, []byte, error) {
	if c.left <= 0 {
		return "", nil, io.EOF
	}
	b := c.blocks[c.i%len(c.blocks)]
	c.i++
	c.left -= int64(len(b))
	return "app.web", b, nil
}

// BenchmarkFlush256MiB flushes a 256 MiB chunk (msgpack input) as one
// zstd object into fake-gcs-server in this process, with the default
// 16 MiB chunk_size, and reports input MB/s and the process's peak heap
// above the baseline (the fake server's copy of the object included).
// It goes through put, which spools in memory (as a memory chunk does):
// the peak includes the encoded object. TestUploadMemory measures the
// upload of a file chunk, spooled in a file.
//
//	go test -run '^$' -bench Flush256MiB -benchtime 1x ./output/gcs/
func BenchmarkFlush256MiB(b *testing.B) {
	for _, storeAs := range []string{"zstd", "gzip"} {
		b.Run(storeAs, func(b *testing.B) { benchFlush(b, storeAs, false) })
	}
	// Against a server that keeps nothing: the output's own memory.
	b.Run("zstd-discard", func(b *testing.B) { benchFlush(b, "zstd", true) })
}

func benchFlush(b *testing.B, storeAs string, discard bool) {
	{
		{
			var srv *server
			if discard {
				srv = startDiscard(b)
			} else {
				srv = startServer(b, false)
			}
			o := newOutput(b, func(c *Config) { c.StoreAs = storeAs })
			var blocks [][]byte
			for i := range 16 {
				blocks = append(blocks, logBlock(uint64(i), 1<<20))
			}
			const total = 256 << 20
			var peak, base uint64
			for i := 0; b.Loop(); i++ {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				base = ms.HeapAlloc
				stop := make(chan struct{})
				var wg sync.WaitGroup
				wg.Go(func() {
					t := time.NewTicker(5 * time.Millisecond)
					defer t.Stop()
					for {
						var ms runtime.MemStats
						runtime.ReadMemStats(&ms)
						peak = max(peak, ms.HeapAlloc-min(ms.HeapAlloc, base))
						select {
						case <-stop:
							return
						case <-t.C:
						}
					}
				})
				v := vars()
				v.ID = strings.Repeat(strconv.Itoa(i%10), 32)
				start := time.Now()
				key, err := putFrames(context.Background(), o, v, &cycleFrames{blocks: blocks, left: total})
				el := time.Since(start)
				close(stop)
				wg.Wait()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(total)/1e6/el.Seconds(), "inMB/s")
				if srv.fake != nil {
					_, attrs := srv.object(b, key)
					b.ReportMetric(float64(attrs.Size)/(1<<20), "objMiB")
					srv.read.Bucket(bucketName).Object(key).Delete(context.Background())
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peakHeapMiB")
		}
	}
}

// startDiscard starts a server that speaks just enough of the JSON API's
// resumable upload to take an object and keep only its size and CRC32C.
func startDiscard(b *testing.B) *server {
	var mu sync.Mutex
	type upload struct {
		name string
		crc  uint32
		size int64
	}
	uploads := map[string]*upload{}
	n := 0
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		defer mu.Unlock()
		if q.Get("upload_id") == "" { // start
			io.Copy(io.Discard, r.Body)
			n++
			id := strconv.Itoa(n)
			uploads[id] = &upload{name: q.Get("name")}
			w.Header().Set("Location", "http://"+r.Host+r.URL.Path+"?uploadType=resumable&upload_id="+id)
			w.Write([]byte("{}"))
			return
		}
		u := uploads[q.Get("upload_id")]
		buf := make([]byte, 64<<10)
		for {
			k, err := r.Body.Read(buf)
			u.crc = crc32.Update(u.crc, castagnoli, buf[:k])
			u.size += int64(k)
			if err != nil {
				break
			}
		}
		if strings.HasSuffix(r.Header.Get("Content-Range"), "/*") {
			w.Header().Set("X-Http-Status-Code-Override", "308")
			w.Header().Set("Range", fmt.Sprintf("bytes=0-%d", u.size-1))
			return
		}
		var c [4]byte
		binary.BigEndian.PutUint32(c[:], u.crc)
		fmt.Fprintf(w, `{"bucket":%q,"name":%q,"size":"%d","crc32c":%q,"generation":"1"}`,
			bucketName, u.name, u.size, base64.StdEncoding.EncodeToString(c[:]))
	}))
	b.Cleanup(hs.Close)
	b.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(hs.URL, "http://"))
	return &server{}
}
