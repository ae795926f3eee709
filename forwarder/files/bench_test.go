package files

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// discard is a Sink that drops what it is given.
type discard struct{}

func (discard) Append(context.Context, string, []byte) error { return nil }

// benchReader returns a reader of p's type whose batches go through
// Input.append to a discarding sink: the path of a real transfer, without
// the pos_file write.
func benchReader(b testing.TB, p ParseConfig) (*fileReader, *batch) {
	cfg := DefaultConfig()
	cfg.Path, cfg.Tag, cfg.PosFile, cfg.PathKey = []string{"/x/*"}, "t", "/x/pos", "file"
	cfg.Parse = p
	in, err := New(cfg, discard{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	bt := &batch{maxRecords: in.batchRecords, maxBytes: in.batchBytes}
	bt.commit = func(buf []byte, n int, at cursor) error {
		return in.append(context.Background(), "t", buf, n, "/data/export/2024-05-01.csv", &entry{})
	}
	return newFileReader(in.fmt, cfg.PathKey, "/data/export/2024-05-01.csv", time.Unix(defaultSec, 0), bt), bt
}

// benchData repeats rows of realistic width up to about size bytes.
func benchData(size int, row func(i int) string) []byte {
	var buf bytes.Buffer
	for i := 0; buf.Len() < size; i++ {
		buf.WriteString(row(i))
	}
	return buf.Bytes()
}

// ndjsonRow and csvRow are the rows of the benchmarks, of realistic width;
// csvHead names csvRow's columns.
func ndjsonRow(i int) string {
	return fmt.Sprintf(`{"time":"2024-05-01T12:00:%02dZ","host":"web-%d","level":"info","status":%d,"latency_ms":%d.%d,"path":"/api/v1/items/%d","ua":"Mozilla/5.0 (X11; Linux x86_64)","tags":["a","b"],"ok":true}`+"\n",
		i%60, i%17, 200+i%5, i%1000, i%10, i)
}

const csvHead = "time,host,level,status,latency_ms,path,ua,ok\n"

func csvRow(i int) string {
	return fmt.Sprintf("2024-05-01T12:00:%02dZ,web-%d,info,%d,%d.%d,/api/v1/items/%d,\"Mozilla/5.0 (X11, Linux x86_64)\",true\n",
		i%60, i%17, 200+i%5, i%1000, i%10, i)
}

func BenchmarkNDJSON(b *testing.B) {
	data := benchData(32<<20, ndjsonRow)
	r, bt := benchReader(b, parseConfig("ndjson"))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := r.ndjson(bytes.NewReader(data), cursor{}, 0); err != nil {
			b.Fatal(err)
		}
		if err := bt.flush(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCSV(b *testing.B) {
	data := append([]byte(csvHead), benchData(32<<20, csvRow)...)
	r, bt := benchReader(b, parseConfig("csv"))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := r.csv(bytes.NewReader(data), cursor{}, 0, nil); err != nil {
			b.Fatal(err)
		}
		if err := bt.flush(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransfer ships a generated file of 64 MiB the whole way: the
// scan, the hash, the reader, the batches appended to a discarding sink
// and the pos_file's writes, with a new pos_file each time.
func BenchmarkTransfer(b *testing.B) {
	for _, typ := range []string{"ndjson", "csv"} {
		b.Run(typ, func(b *testing.B) {
			dir := b.TempDir()
			data := benchData(64<<20, ndjsonRow)
			if typ == "csv" {
				data = append([]byte(csvHead), benchData(64<<20, csvRow)...)
			}
			path := filepath.Join(dir, "export."+typ)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				b.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.Path, cfg.Tag, cfg.PathKey, cfg.SettleTime = []string{path}, "t", "file", 0
			cfg.Parse.Type = typ
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				cfg.PosFile = filepath.Join(dir, "state", strconv.Itoa(i), "files.pos")
				in, err := New(cfg, discard{}, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if err := in.Listen(); err != nil {
					b.Fatal(err)
				}
				in.scan(b.Context())
				in.Close()
				if st := in.Stats(); st.Files != 1 || st.Failed != 0 {
					b.Fatalf("stats %+v", st)
				}
			}
		})
	}
}

// BenchmarkCSVTyped converts two columns, as "types" does.
func BenchmarkCSVTyped(b *testing.B) {
	data := benchData(32<<20, func(i int) string {
		if i == 0 {
			return "host,status,latency_ms,path\n"
		}
		return fmt.Sprintf("web-%d,%d,%d.%d,/api/v1/items/%d\n", i%17, 200+i%5, i%1000, i%10, i)
	})
	p := parseConfig("csv")
	p.Types = map[string]string{"status": "integer", "latency_ms": "float"}
	r, bt := benchReader(b, p)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := r.csv(bytes.NewReader(data), cursor{}, 0, nil); err != nil {
			b.Fatal(err)
		}
		if err := bt.flush(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMemoryBounded streams 256 MiB of ndjson and of csv through the
// readers (generated, not held): the heap stays far below the input.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("streams 512 MiB, and the race detector's shadow memory would swamp the heap figure: run it without -short and -race (go test -run TestMemoryBounded ./forwarder/files)")
	}
	for _, typ := range []string{"ndjson", "csv"} {
		t.Run(typ, func(t *testing.T) {
			line := `{"host":"web-1","level":"info","status":200,"path":"/api/v1/items/12345","ok":true}` + "\n"
			head := ""
			if typ == "csv" {
				head, line = "host,level,status,path,ok\n", "web-1,info,200,/api/v1/items/12345,true\n"
			}
			const size = 256 << 20
			src := io.MultiReader(strings.NewReader(head), &repeatReader{line: line, left: size})
			r, bt := benchReader(t, parseConfig(typ))
			var peak uint64
			bt.commit = func(buf []byte, n int, at cursor) error {
				if at.records%100000 < int64(n) {
					peak = max(peak, heapInUse())
				}
				return nil
			}
			var err error
			if typ == "csv" {
				err = r.csv(src, cursor{}, 0, nil)
			} else {
				err = r.ndjson(src, cursor{}, 0)
			}
			if err != nil {
				t.Fatal(err)
			}
			if peak > 64<<20 {
				t.Fatalf("heap in use %d MiB for a %d MiB input", peak>>20, size>>20)
			}
		})
	}
}

type repeatReader struct {
	line string
	left int
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.left > 0 {
		c := copy(p[n:], r.line[r.off:])
		n += c
		r.left -= c
		r.off = (r.off + c) % len(r.line)
	}
	return n, nil
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
