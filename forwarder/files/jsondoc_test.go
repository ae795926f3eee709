package files

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"testing/synctest"
	"time"

	"github.com/barge-dev/barge/buffer/event"
)

// TestJSONDocumentMemory ships a JSON document of 63 MiB, an array of
// small records under $.task as examples/onprem-bigquery.conf reads it:
// both passes over the file on disk, as ship reads it, and the batches
// through Input.append to a sink that counts and drops them. The live
// heap stays far below the document, where holding it decoded took 10 to
// 20 times its size. It is measured with a collection forced from the
// shipping goroutine itself (every MiB read, every 16th batch), so that
// no garbage allocated during a concurrent collection inflates it.
func TestJSONDocumentMemory(t *testing.T) {
	size := 63 << 20
	if raceEnabled || testing.Short() {
		size = 6 << 20
		t.Logf("a document of %d MiB under -race or -short (63 MiB otherwise): the race detector makes a record 10 times slower", size>>20)
	}
	path := filepath.Join(t.TempDir(), "export.json")
	n := writeTasks(t, path, size)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	probe := &heapProbe{}
	sink := &probeSink{probe: probe}
	cfg := DefaultConfig()
	cfg.Path, cfg.Tag, cfg.PosFile = []string{path}, "onprem.top", filepath.Join(t.TempDir(), "export.pos")
	cfg.Parse.JSONPath = "$.task"
	in, err := New(cfg, sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := &batch{buf: make([]byte, 0, in.batchBytes+in.batchBytes/8), maxRecords: in.batchRecords, maxBytes: in.batchBytes}
	b.commit = func(buf []byte, n int, at cursor) error {
		return in.append(t.Context(), cfg.Tag, buf, n, path, &entry{})
	}
	r := newFileReader(in.fmt, "", path, time.Now(), b)

	defer debug.SetGCPercent(debug.SetGCPercent(100))
	probe.sample()
	err = r.jsonDocFrom(func() (io.Reader, error) {
		return bufio.NewReaderSize(&probeReader{r: io.NewSectionReader(f, 0, math.MaxInt64), probe: probe}, 256<<10), nil
	})
	if err == nil {
		err = b.flush()
	}
	if err != nil {
		t.Fatal(err)
	}
	if sink.records != int64(n) {
		t.Fatalf("%d records of %d", sink.records, n)
	}
	t.Logf("%d MiB document, %d records: live heap at most %.1f MiB over %d samples",
		size>>20, n, float64(probe.peak)/(1<<20), probe.samples)
	if probe.peak > 16<<20 {
		t.Fatalf("live heap up to %d MiB shipping a document of %d MiB", probe.peak>>20, size>>20)
	}
	if least := 2 * size >> 20; probe.samples < least {
		t.Fatalf("%d samples, want %d at least (a MiB read of each pass)", probe.samples, least)
	}
}

// writeTasks writes a document of about size bytes shaped as the
// example's, {"sys": [...], "task": [records]}, and returns its records.
func writeTasks(t *testing.T, path string, size int) int {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString(`{"sys": [["Processes: 543 total", "3 running"]], "task": [`)
	n := 0
	for written := 0; written < size; n++ {
		if n > 0 {
			w.WriteString(",\n")
		}
		m, _ := fmt.Fprintf(w, `{"PID": "%d", "COMMAND": "com.docker.hyper", "CPU": "%d.%d", "#TH": "23", "MEM": "1495M"}`, 1000+n, n%8, n%10)
		written += m + 2
	}
	w.WriteString("]}\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return n
}

// heapProbe keeps the largest live heap found by collections it forces.
// It is called from the shipping goroutine only.
type heapProbe struct {
	peak    uint64
	samples int
}

func (p *heapProbe) sample() {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	p.peak = max(p.peak, s[0].Value.Uint64())
	p.samples++
}

// probeReader samples the heap every MiB read.
type probeReader struct {
	r     io.Reader
	probe *heapProbe
	n     int
}

func (p *probeReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if p.n += n; p.n >= 1<<20 {
		p.n -= 1 << 20
		p.probe.sample()
	}
	return n, err
}

// probeSink counts the records it drops, and samples the heap every 16th
// batch.
type probeSink struct {
	probe   *heapProbe
	batches int
	records int64
}

func (s *probeSink) Append(_ context.Context, _ string, entries []byte) error {
	n, _, _, err := event.Count(entries)
	s.records += int64(n)
	if s.batches++; s.batches%16 == 0 {
		s.probe.sample()
	}
	return err
}

// TestJSONDocumentChanged: a document that differs between the passes
// (written to while shipped) is a read error, retried at the next scan;
// no more records are emitted than were checked, none past the
// difference.
func TestJSONDocumentChanged(t *testing.T) {
	three := `{"task":[{"a":1},{"a":2},{"a":3}]}`
	deep := strings.Repeat(`{"a":`, event.MaxDepth+1) + "1" + strings.Repeat("}", event.MaxDepth+1)
	cases := []struct {
		name, first, second string
		emitted             int
	}{
		{"fewer records", three, `{"task":[{"a":1},{"a":2}]}`, 2},
		{"more records", three, `{"task":[{"a":1},{"a":2},{"a":3},{"a":4}]}`, 3},
		{"not an object", three, `{"task":[{"a":1},7,{"a":3}]}`, 1},
		{"bad record", three, `{"task":[{"a":1},` + deep + `,{"a":3}]}`, 1},
		{"bad last record", three, `{"task":[{"a":1},{"a":2},` + deep + `]}`, 2},
		{"bad object", `{"task":{"a":1}}`, `{"task":` + deep + `}`, 0},
		{"not JSON", three, `{"task":[{"a":1},{"a":2}}`, 2},
		{"truncated", three, `{"task":[{"a":1}`, 1},
		{"shorter than the path", three, `{"ta`, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := parseConfig("json")
			p.JSONPath = "$.task"
			f, err := newFormat(&p, "")
			if err != nil {
				t.Fatal(err)
			}
			c := &collect{}
			r := newFileReader(f, "", "/in/x.json", time.Unix(defaultSec, 0), c)
			pass := 0
			err = r.jsonDocFrom(func() (io.Reader, error) {
				if pass++; pass == 1 {
					return strings.NewReader(tc.first), nil
				}
				return strings.NewReader(tc.second), nil
			})
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Path != "/in/x.json" || !strings.Contains(err.Error(), "document changed while shipped") {
				t.Fatalf("error %v, want a read error of /in/x.json", err)
			}
			if len(c.recs) != tc.emitted {
				t.Fatalf("%d records emitted, want %d", len(c.recs), tc.emitted)
			}
		})
	}
}

// TestJSONDocumentReaders: a reader that cannot seek is held whole, and
// gives the records a seekable one gives; a read error is returned as it
// is, before any syntax error.
func TestJSONDocumentReaders(t *testing.T) {
	p := parseConfig("json")
	p.JSONPath = "$.task"
	streamed, err := readAll(t, p, "", tasksDoc)
	if err != nil || len(streamed.recs) != 2 {
		t.Fatalf("streamed: %v %v", streamed.recs, err)
	}
	f, err := newFormat(&p, "")
	if err != nil {
		t.Fatal(err)
	}
	whole := &collect{}
	r := newFileReader(f, "", "/in/x", time.Unix(defaultSec, 0), whole)
	if err := r.jsonDoc(io.MultiReader(strings.NewReader(tasksDoc))); err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(streamed.raw, whole.raw, bytes.Equal) {
		t.Fatalf("whole %v, streamed %v", whole.recs, streamed.recs)
	}
	errRead := errors.New("disk on fire")
	for _, stream := range []bool{false, true} {
		r := newFileReader(f, "", "/in/x", time.Unix(defaultSec, 0), &collect{})
		in := io.MultiReader(strings.NewReader(`{"task":[{"a":1},x`), iotest.ErrReader(errRead))
		if stream {
			err = r.jsonDocFrom(func() (io.Reader, error) { return in, nil })
		} else {
			err = r.jsonWhole(in)
		}
		if err != errRead {
			t.Fatalf("stream %v: error %v, want %v", stream, err, errRead)
		}
	}
}

// TestJSONDocumentShipped ships documents the whole way, read twice from
// the open file: plain and gzip-compressed (one of two members), larger
// than the read buffers, and a bad one.
func TestJSONDocumentShipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		var big strings.Builder
		big.WriteString(`{"sys":[],"task":[`)
		for i := range 4000 {
			if i > 0 {
				big.WriteString(",\n")
			}
			fmt.Fprintf(&big, `{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", 80))
		}
		big.WriteString("]}")
		small := `{"sys":[],"task":[{"n":1},{"n":2},{"n":3}]}`
		e.write("a.json", big.String(), t0)
		e.write("b.json", gz(big.String()), t0.Add(time.Second))
		e.write("c.json", gz(small[:20])+gz(small[20:]), t0.Add(2*time.Second))
		e.write("d.json", gz(`{"task":[{"n":4},7]}`), t0.Add(3*time.Second))
		cfg := e.config("json")
		cfg.Parse.JSONPath = "$.task"
		sink := newSink()
		e.start(cfg, sink, nil)
		synctest.Wait()
		got := sink.values(t, "n")
		if len(got) != 8003 || got[0] != "0" || got[3999] != "3999" || got[4000] != "0" || !slices.Equal(got[8000:], []string{"1", "2", "3"}) {
			t.Fatalf("%d records", len(got))
		}
		led := e.ledger()
		for name, want := range map[string]state{"a.json": stateShipped, "b.json": stateShipped, "c.json": stateShipped, "d.json": stateFailed} {
			if en := led[filepath.Join(e.in, name)]; en == nil || en.state != want {
				t.Errorf("%s: %+v, want %v", name, en, want)
			}
		}
		e.logs.Has(t, "bad file", "record 2: is a number, want an object")
	})
}

// BenchmarkJSONDocument reads a document of 16 MiB under $.task, streamed
// and held whole, its batches through Input.append to a discarding sink.
func BenchmarkJSONDocument(b *testing.B) {
	var doc bytes.Buffer
	doc.WriteString(`{"sys": [["Processes: 543 total", "3 running"]], "task": [`)
	for i := 0; doc.Len() < 16<<20; i++ {
		if i > 0 {
			doc.WriteString(",\n")
		}
		fmt.Fprintf(&doc, `{"PID": "%d", "COMMAND": "com.docker.hyper", "CPU": "%d.%d", "#TH": "23", "MEM": "1495M"}`, 1000+i, i%8, i%10)
	}
	doc.WriteString("]}")
	p := parseConfig("json")
	p.JSONPath = "$.task"
	for _, stream := range []bool{true, false} {
		b.Run(map[bool]string{true: "streamed", false: "whole"}[stream], func(b *testing.B) {
			r, bt := benchReader(b, p)
			b.SetBytes(int64(doc.Len()))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if stream {
					err = r.jsonDoc(bytes.NewReader(doc.Bytes()))
				} else {
					err = r.jsonWhole(bytes.NewReader(doc.Bytes()))
				}
				if err == nil {
					err = bt.flush()
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
