package files

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// In these tests Run goes on in a synctest bubble: synctest.Wait returns
// once a scan is over and Run waits for the next one, and time.Sleep
// moves the bubble's clock to it.

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func TestShipsEachFileOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.write("a.ndjson", ndjsonLines(1, 3), t0)
		e.write("b.ndjson", ndjsonLines(4, 5), t0.Add(time.Minute))
		sink := newSink()
		cfg := e.config("ndjson")
		cfg.Tag = "onprem.*"
		r := e.start(cfg, sink, nil)
		synctest.Wait()
		if got := sink.values(t, "n"); !slices.Equal(got, []string{"1", "2", "3", "4", "5"}) {
			t.Fatalf("records %v", got)
		}
		if tag := sink.records(t)[0].tag; tag != "onprem."+strings.ReplaceAll(strings.TrimPrefix(e.in, "/"), "/", ".")+".a.ndjson" {
			t.Errorf("tag %q", tag)
		}
		time.Sleep(cfg.RefreshInterval)
		synctest.Wait()
		if n := sink.count(t); n != 5 {
			t.Fatalf("%d records after a second scan, want 5", n)
		}
		st := r.in.Stats()
		if st.Files != 2 || st.Records != 5 || st.Scans != 2 || st.Failed != 0 {
			t.Errorf("stats %+v", st)
		}
		r.stop()
		for p, en := range e.ledger() {
			if en.state != stateShipped {
				t.Errorf("%s: %s", p, en.state)
			}
		}
	})
}

func TestRestartShipsNothingAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.write("a.csv", "x,y\n1,2\n3,4\n", t0)
		e.write("b.json", `[{"k":1},{"k":2}]`, t0)
		sink := newSink()
		r := e.start(e.config("csv"), sink, nil)
		synctest.Wait()
		r.stop()
		if n := sink.count(t); n != 2 {
			t.Fatalf("%d records, want 2 (b.json is not csv: failed)", n)
		}
		sink2 := newSink()
		r2 := e.start(e.config("csv"), sink2, nil)
		synctest.Wait()
		r2.stop()
		if n := sink2.count(t); n != 0 {
			t.Fatalf("restart shipped %d records again", n)
		}
		if st := r2.in.Stats(); st.Failed != 0 {
			t.Errorf("the failed file was retried: %+v", st)
		}
	})
}

// TestResume stops a transfer after its first acknowledged batch (the sink
// fails from then on) and resumes it with a new Input: the rest, and only
// the rest, is shipped.
func TestResume(t *testing.T) {
	csvBody := func(from, to int) string {
		var b strings.Builder
		for i := from; i <= to; i++ {
			b.WriteString(strings.Repeat("x", i%7) + "," + itoa(i) + "\n")
		}
		return b.String()
	}
	jsonDoc := func(n int) string {
		var parts []string
		for i := 1; i <= n; i++ {
			parts = append(parts, `{"n":`+itoa(i)+`}`)
		}
		return `{"task":[` + strings.Join(parts, ",") + `]}`
	}
	cases := []struct {
		name, file, typ, body string
		seek                  bool
	}{
		{"ndjson", "a.ndjson", "ndjson", ndjsonLines(1, 2500), true},
		{"csv", "a.csv", "csv", "pad,n\n" + csvBody(1, 2500), true},
		{"gzip ndjson", "a.ndjson", "ndjson", gz(ndjsonLines(1, 2500)), false},
		{"json", "a.json", "json", jsonDoc(2500), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t)
				e.write(tc.file, tc.body, t0)
				cfg := e.config(tc.typ)
				if tc.typ == "json" {
					cfg.Parse.JSONPath = "$.task"
				}
				sink := newSink()
				sink.okLeft = 1
				r := e.start(cfg, sink, nil)
				synctest.Wait() // retrying the second batch
				r.stop()
				if n := sink.count(t); n != 1000 {
					t.Fatalf("first run: %d records, want 1000", n)
				}
				en := e.ledger()[filepath.Join(e.in, tc.file)]
				if en == nil || en.state != stateReading || en.records != 1000 || tc.seek && en.offset == 0 {
					t.Fatalf("ledger after the first run: %+v", en)
				}
				sink2 := newSink()
				r2 := e.start(cfg, sink2, nil)
				synctest.Wait()
				r2.stop()
				got := sink2.values(t, "n")
				if len(got) != 1500 || got[0] != "1001" || got[1499] != "2500" {
					t.Fatalf("resumed: %d records, from %v", len(got), got[:min(3, len(got))])
				}
				if en := e.ledger()[filepath.Join(e.in, tc.file)]; en.state != stateShipped || en.records != 2500 {
					t.Fatalf("ledger after the second run: %+v", en)
				}
			})
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestTouchIsNotShippedAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := e.write("a.ndjson", ndjsonLines(1, 2), t0)
		sink := newSink()
		cfg := e.config("ndjson")
		r := e.start(cfg, sink, nil)
		synctest.Wait()
		t1 := t0.Add(time.Hour)
		if err := os.Chtimes(p, t1, t1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(cfg.RefreshInterval)
		synctest.Wait()
		if n := sink.count(t); n != 2 {
			t.Fatalf("touched file shipped again: %d records", n)
		}
		if st := r.in.Stats(); st.Unchanged != 1 || st.Files != 1 {
			t.Errorf("stats %+v", st)
		}
		if en := e.ledger()[p]; en.mtime != t1.UnixNano() || en.state != stateShipped {
			t.Errorf("ledger %+v, want mtime %d", en, t1.UnixNano())
		}
		// then a real change ships the new version
		e.write("a.ndjson", ndjsonLines(1, 3), t1.Add(time.Hour))
		time.Sleep(cfg.RefreshInterval)
		synctest.Wait()
		if got := sink.values(t, "n"); !slices.Equal(got, []string{"1", "2", "1", "2", "3"}) {
			t.Fatalf("records %v", got)
		}
		// same size and mtime, other bytes (a rewrite within the mtime's
		// resolution) is not noticed without a size or mtime change: the
		// ledger is not asked to hash every file at every scan
	})
}

func TestSettleTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := e.write("a.ndjson", ndjsonLines(1, 1), t0)
		sink := newSink()
		cfg := e.config("ndjson")
		cfg.SettleTime = 5 * time.Second
		r := e.start(cfg, sink, nil)
		synctest.Wait()
		if n := sink.count(t); n != 0 {
			t.Fatalf("shipped before settling: %d", n)
		}
		time.Sleep(3 * time.Second)
		// still being written
		if err := os.WriteFile(p, []byte(ndjsonLines(1, 2)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, t0.Add(time.Second), t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second) // the first settle deadline: seen changed
		synctest.Wait()
		if n := sink.count(t); n != 0 {
			t.Fatalf("shipped while changing: %d", n)
		}
		if st := r.in.Stats(); st.Unsettled != 1 || st.Scans != 2 {
			t.Errorf("stats %+v", st)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n := sink.count(t); n != 2 {
			t.Fatalf("settled file: %d records, want 2", n)
		}
	})
}

func TestOrderAndNames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.write("c.ndjson", `{"f":"c"}`, t0)
		e.write("a.ndjson", `{"f":"a"}`, t0.Add(2*time.Minute))
		e.write("b.ndjson", `{"f":"b"}`, t0.Add(time.Minute))
		sink := newSink()
		cfg := e.config("ndjson")
		e.start(cfg, sink, nil)
		synctest.Wait()
		if got := sink.values(t, "f"); !slices.Equal(got, []string{"c", "b", "a"}) {
			t.Fatalf("order %v, want oldest mtime first", got)
		}
		// a name sorting before every shipped one is still shipped
		e.write("0.ndjson", `{"f":"0"}`, t0.Add(-time.Hour))
		time.Sleep(cfg.RefreshInterval)
		synctest.Wait()
		if got := sink.values(t, "f"); !slices.Equal(got, []string{"c", "b", "a", "0"}) {
			t.Fatalf("records %v", got)
		}
	})
}

const tasksDoc = `{"sys": [["Processes: 543 total", "3 running"]], "task": [{"PID": "7931", "COMMAND": "com.docker.hyper", "CPU": "0.0", "#TH": "23", "MEM": "1495M"}, {"PID": "4729", "COMMAND": "VirtualBoxVM", "CPU": "1.2", "#TH": "31", "MEM": "812M"}]}`

func TestJSONPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := e.write("top.json", tasksDoc, t0)
		cfg := e.config("json")
		cfg.Parse.JSONPath = "$.task"
		cfg.PathKey = "file"
		cfg.Parse.Types = map[string]string{"PID": "integer", "CPU": "float"}
		sink := newSink()
		e.start(cfg, sink, nil)
		synctest.Wait()
		got := sink.records(t)
		if len(got) != 2 {
			t.Fatalf("%d records", len(got))
		}
		want := []map[string]any{
			{"PID": int64(7931), "COMMAND": "com.docker.hyper", "CPU": 0.0, "#TH": "23", "MEM": "1495M", "file": p},
			{"PID": int64(4729), "COMMAND": "VirtualBoxVM", "CPU": 1.2, "#TH": "31", "MEM": "812M", "file": p},
		}
		for i, w := range want {
			if !equalMaps(got[i].r, w) {
				t.Errorf("record %d: %v, want %v", i, got[i].r, w)
			}
			if got[i].sec != time.Now().Unix() {
				t.Errorf("record time %d, want the time of shipping %d", got[i].sec, time.Now().Unix())
			}
		}
	})
}

func equalMaps(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestAppendRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.write("a.ndjson", ndjsonLines(1, 3), t0)
		sink := newSink()
		sink.failNext = 3
		start := time.Now()
		var took time.Duration
		sink.onAppend = func() { took = time.Since(start) }
		r := e.start(e.config("ndjson"), sink, nil)
		synctest.Wait()
		if n := sink.count(t); n != 0 {
			t.Fatalf("%d records before the retries", n)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := sink.values(t, "n"); !slices.Equal(got, []string{"1", "2", "3"}) {
			t.Fatalf("records %v", got)
		}
		if took != 7*time.Second { // 1s + 2s + 4s of backoff
			t.Errorf("appended after %v, want 7s", took)
		}
		if st := r.in.Stats(); st.AppendErrors != 3 || st.Records != 3 {
			t.Errorf("stats %+v", st)
		}
		e.logs.Has(t, "append failed; retrying", "attempt=3", "err=\"sink: disk full\"")
	})
}

func TestBlockingSinkStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := e.write("a.ndjson", ndjsonLines(1, 3), t0)
		sink := newSink()
		sink.block = true
		r := e.start(e.config("ndjson"), sink, nil)
		synctest.Wait()
		r.stop() // returns although Append blocks
		if b, err := os.ReadFile(e.pos); err == nil {
			_, entries, _ := decodeLedger(b)
			if en := entries[p]; en != nil && en.records != 0 {
				t.Fatalf("ledger moved past an unacknowledged batch: %+v", en)
			}
		}
	})
}

func TestSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// the bubble's clock starts at 2000-01-01 00:00 UTC
		e := newEnv(t)
		e.write("a.ndjson", ndjsonLines(1, 2), t0)
		cfg := e.config("ndjson")
		cfg.Schedule = "CRON_TZ=UTC 0 2 * * *"
		cfg.SettleTime = 5 * time.Second
		sink := newSink()
		r := e.start(cfg, sink, nil)
		synctest.Wait()
		if st := r.in.Stats(); st.Scans != 0 || sink.count(t) != 0 {
			t.Fatalf("scanned before the schedule: %+v", st)
		}
		time.Sleep(2 * time.Hour) // 02:00: seen, settling
		synctest.Wait()
		if n := sink.count(t); n != 0 {
			t.Fatalf("shipped before settling: %d", n)
		}
		time.Sleep(5 * time.Second) // the run goes on until it settled
		synctest.Wait()
		recs := sink.records(t)
		if len(recs) != 2 || time.Unix(recs[0].sec, 0).UTC().Format("15:04:05") != "02:00:05" {
			t.Fatalf("records %+v", recs)
		}
		e.write("b.ndjson", ndjsonLines(3, 3), t0)
		time.Sleep(time.Hour) // no scan between runs
		synctest.Wait()
		if st := r.in.Stats(); st.Scans != 2 {
			t.Fatalf("scans %d, want 2", st.Scans)
		}
		time.Sleep(23 * time.Hour)
		synctest.Wait()
		if n := sink.count(t); n != 3 {
			t.Fatalf("next day: %d records", n)
		}
	})
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	cfg := e.config("ndjson")
	in, err := New(cfg, newSink(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(e.pos)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("New did I/O")
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if err := in.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
	if err := in.Listen(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Listen after Close: %v", err)
	}

	synctest.Test(t, func(t *testing.T) {
		in, err := New(cfg, newSink(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := in.Listen(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- in.Run(ctx) }()
		synctest.Wait()
		if err := in.Run(ctx); !errors.Is(err, ErrRunning) {
			t.Fatalf("second Run: %v", err)
		}
		if err := in.Close(); err != nil { // stops Run
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		cancel()
	})
	if _, err := New(Config{}, newSink(), Options{}); err == nil {
		t.Fatal("New accepted an empty config")
	}
	if _, err := New(cfg, nil, Options{}); err == nil {
		t.Fatal("New accepted a nil sink")
	}
}

func TestOwnFilesNotShipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.write("a.ndjson", ndjsonLines(1, 1), t0)
		e.write("skip.ndjson", ndjsonLines(2, 2), t0)
		cfg := e.config("ndjson")
		cfg.Path = []string{filepath.Join(e.dir, "*", "*"), filepath.Join(e.in, "*")} // also matches state/ and failed/
		cfg.ExcludePath = []string{filepath.Join(e.in, "skip*")}
		cfg.ErrorDir = filepath.Join(e.dir, "failed")
		os.MkdirAll(cfg.ErrorDir, 0o755)
		os.WriteFile(filepath.Join(cfg.ErrorDir, "x.ndjson"), []byte(ndjsonLines(9, 9)), 0o644)
		sink := newSink()
		e.start(cfg, sink, nil)
		synctest.Wait()
		time.Sleep(cfg.RefreshInterval)
		synctest.Wait()
		if got := sink.values(t, "n"); !slices.Equal(got, []string{"1"}) {
			t.Fatalf("records %v", got)
		}
	})
}
