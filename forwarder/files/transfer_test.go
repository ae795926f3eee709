package files

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

func TestAfterTransfer(t *testing.T) {
	for _, mode := range []string{"delete", "move_to"} {
		t.Run(mode, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t)
				p := e.write("a.ndjson", ndjsonLines(1, 2), t0)
				e.write("done", "a name taken in move_to", time.Time{})
				done := filepath.Join(e.dir, "done")
				os.MkdirAll(done, 0o755)
				os.WriteFile(filepath.Join(done, "a.ndjson"), []byte("older"), 0o644)
				cfg := e.config("ndjson")
				cfg.Path = []string{filepath.Join(e.in, "*.ndjson")}
				cfg.AfterTransfer = "delete"
				if mode == "move_to" {
					cfg.AfterTransfer = "move_to " + done
				}
				// once the batch is appended, the pos_file cannot be
				// rewritten (its .prev name is a directory that is not
				// empty): the shipped mark is not durable, the file stays
				blocker := e.pos + ".prev"
				sink := newSink()
				sink.onAppend = func() {
					if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o755); err != nil {
						t.Error(err)
					}
				}
				r := e.start(cfg, sink, nil)
				synctest.Wait()
				if n := sink.count(t); n != 2 {
					t.Fatalf("%d records", n)
				}
				if _, err := os.Stat(p); err != nil {
					t.Fatalf("file acted on before the mark was durable: %v", err)
				}
				if st := r.in.Stats(); st.LedgerErrors == 0 {
					t.Errorf("stats %+v", st)
				}
				os.RemoveAll(blocker)
				time.Sleep(cfg.RefreshInterval)
				synctest.Wait()
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("file still there after the mark: %v", err)
				}
				if mode == "move_to" {
					b, err := os.ReadFile(filepath.Join(done, "a.ndjson.1"))
					if err != nil || string(b) != ndjsonLines(1, 2) {
						t.Fatalf("moved file: %q %v", b, err)
					}
					if b, _ := os.ReadFile(filepath.Join(done, "a.ndjson")); string(b) != "older" {
						t.Fatal("move overwrote a file")
					}
				}
				if n := sink.count(t); n != 2 {
					t.Fatalf("%d records", n)
				}
				if len(e.ledger()) != 0 {
					t.Errorf("ledger keeps %v", e.ledger())
				}
			})
		})
	}
}

func TestBadFiles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		bad := filepath.Join(e.dir, "failed")
		files := map[string]struct{ content, log string }{
			"bad.json":     {"{\n\"a\": [1,\n2,,]}", "bad.json:3: invalid JSON"},
			"nothing.json": {`{"other":[]}`, "nothing.json: json_path $.task selected nothing"},
			"scalar.json":  {`{"task":[{"a":1},"x"]}`, "scalar.json: record 2: is a string, want an object"},
			"gzip.json":    {"\x1f\x8b\x08garbage", "gzip.json: gzip:"},
			"trunc.json":   {gz(`{"task":[{"a":1}]}`)[:20], "trunc.json:"},
		}
		i := 0
		for name, f := range files {
			e.write(name, f.content, t0.Add(time.Duration(i)*time.Second))
			i++
		}
		e.write("good.json", `{"task":[{"a":1},{"a":2}]}`, t0.Add(time.Hour))
		cfg := e.config("json")
		cfg.Parse.JSONPath = "$.task"
		cfg.ErrorDir = bad
		sink := newSink()
		r := e.start(cfg, sink, nil)
		synctest.Wait()
		if got := sink.values(t, "a"); !slices.Equal(got, []string{"1", "2"}) {
			t.Fatalf("records %v", got)
		}
		for name, f := range files {
			e.logs.Has(t, "bad file", f.log)
			if _, err := os.Stat(filepath.Join(bad, name)); err != nil {
				t.Errorf("%s not in error_dir: %v", name, err)
			}
		}
		if st := r.in.Stats(); st.Failed != int64(len(files)) || st.Files != 1 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestBadLinesShipWhatParsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := e.write("a.csv", "k,v\n1,a\n2,b\n3,c,extra\n4,d\n", t0)
		e.write("b.csv", "k,v\n5,e\n", t0.Add(time.Second))
		sink := newSink()
		cfg := e.config("csv")
		r := e.start(cfg, sink, nil)
		synctest.Wait()
		if got := sink.values(t, "k"); !slices.Equal(got, []string{"1", "2", "5"}) {
			t.Fatalf("records %v", got)
		}
		e.logs.Has(t, "bad file", p+":4: wrong number of fields", "records=2")
		en := e.ledger()[p]
		if en.state != stateFailed || en.records != 2 {
			t.Fatalf("ledger %+v", en)
		}
		// no error_dir: left in place, not retried until it changes
		time.Sleep(cfg.RefreshInterval)
		synctest.Wait()
		if st := r.in.Stats(); st.Failed != 1 || sink.count(t) != 3 {
			t.Fatalf("retried: %+v", st)
		}
		e.write("a.csv", "k,v\n1,a\n2,b\n3,c\n4,d\n", t0.Add(time.Hour))
		time.Sleep(cfg.RefreshInterval)
		synctest.Wait()
		if got := sink.values(t, "k"); !slices.Equal(got, []string{"1", "2", "5", "1", "2", "3", "4"}) {
			t.Fatalf("corrected file: records %v", got)
		}
	})
}

func TestGzipByMagic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.write("packed.csv", gz("k\nzipped\n"), t0)
		e.write("plain.csv.gz", "k\nplain\n", t0.Add(time.Second))
		e.write("two-members.csv", gz("k\nm1\n")+gz("m2\n"), t0.Add(2*time.Second))
		sink := newSink()
		e.start(e.config("csv"), sink, nil)
		synctest.Wait()
		if got := sink.values(t, "k"); !slices.Equal(got, []string{"zipped", "plain", "m1", "m2"}) {
			t.Fatalf("records %v", got)
		}
	})
}

// TestChangedWhileShipped: a file appended to while it is shipped is not
// deleted by after_transfer; its new version is shipped, then deleted.
func TestChangedWhileShipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		p := e.write("a.ndjson", ndjsonLines(1, 2), t0)
		cfg := e.config("ndjson")
		cfg.AfterTransfer = "delete"
		sink := newSink()
		once := false
		sink.onAppend = func() {
			if !once {
				once = true
				e.write("a.ndjson", ndjsonLines(1, 3), t0.Add(time.Minute))
			}
		}
		e.start(cfg, sink, nil)
		synctest.Wait()
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("deleted with content never shipped: %v", err)
		}
		e.logs.Has(t, "file changed while shipped", "path="+p)
		time.Sleep(cfg.RefreshInterval)
		synctest.Wait()
		if got := sink.values(t, "n"); !slices.Equal(got, []string{"1", "2", "1", "2", "3"}) {
			t.Fatalf("records %v", got)
		}
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("new version shipped but not deleted: %v", err)
		}
	})
}

// TestResumeChangedFile: a half-read file whose content changed before the
// restart is a new version, shipped whole.
func TestResumeChangedFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		e.write("a.ndjson", ndjsonLines(1, 1500), t0)
		cfg := e.config("ndjson")
		sink := newSink()
		sink.okLeft = 1
		r := e.start(cfg, sink, nil)
		synctest.Wait()
		r.stop()
		e.write("a.ndjson", ndjsonLines(2001, 2010), t0.Add(time.Minute))
		sink2 := newSink()
		r2 := e.start(cfg, sink2, nil)
		synctest.Wait()
		r2.stop()
		if got := sink2.values(t, "n"); len(got) != 10 || got[0] != "2001" {
			t.Fatalf("records %v", got)
		}
	})
}
