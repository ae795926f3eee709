package files

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleEntries() map[string]*entry {
	return map[string]*entry{
		"/data/a.csv":           {state: stateShipped, size: 1234, mtime: 1700000000123456789, hash: [32]byte{1, 2, 3}, records: 20, offset: 1234},
		"/data/b c\n\"q\".json": {state: stateReading, size: 99, mtime: 1700000100e9, records: 1000, offset: 51234, seq: 77},
		"/data/seq= x.csv":      {state: stateReading, size: 5, mtime: 1, records: 1, offset: 3},
		"/data/\xff.json":       {state: stateFailed, size: 12, mtime: -1},
	}
}

func TestLedgerRoundTrip(t *testing.T) {
	in := sampleEntries()
	b := encodeLedger(42, in)
	gen, out, err := decodeLedger(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if gen != 42 || !reflect.DeepEqual(in, out) {
		t.Fatalf("gen %d, entries %v", gen, out)
	}
	if !bytes.Equal(encodeLedger(gen, out), b) {
		t.Fatal("encoding is not stable")
	}
	want := `shipped size=1234 mtime=1700000000.123456789 sha256=0102030000000000000000000000000000000000000000000000000000000000 records=20 offset=1234 path="/data/a.csv"`
	if !strings.Contains(string(b), want+"\n") {
		t.Errorf("no line %s in\n%s", want, b)
	}
}

func TestLedgerDamage(t *testing.T) {
	good := encodeLedger(7, sampleEntries())
	cases := map[string][]byte{
		"empty":        {},
		"torn":         good[:len(good)/2],
		"no end line":  good[:bytes.LastIndex(good, []byte("end "))],
		"bit flip":     flip(good, 60),
		"not a ledger": []byte("hello\nend entries=0 crc32c=00000000\n"),
	}
	for name, b := range cases {
		if _, _, err := decodeLedger(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x04
	return c
}

func writeLedger(t *testing.T, path string, gen uint64, entries map[string]*entry) {
	t.Helper()
	if err := os.WriteFile(path, encodeLedger(gen, entries), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLedgerRecovery(t *testing.T) {
	v1 := map[string]*entry{"/a": {state: stateShipped, size: 1, mtime: 1}}
	v2 := map[string]*entry{"/a": {state: stateShipped, size: 1, mtime: 1}, "/b": {state: stateReading, records: 5}}
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name    string
		setup   func(pos string)
		want    map[string]*entry
		damaged int
		aside   []string // suffixes of files moved aside
		log     string
	}{
		{"none", func(string) {}, map[string]*entry{}, 0, nil, ""},
		{"good", func(p string) { writeLedger(t, p, 2, v2); writeLedger(t, p+".prev", 1, v1) }, v2, 0, nil, ""},
		{"torn file, previous version", func(p string) {
			writeLedger(t, p+".prev", 1, v1)
			os.WriteFile(p, encodeLedger(2, v2)[:30], 0o644)
		}, v1, 1, []string{".corrupt-"}, "pos_file is damaged; moved aside"},
		{"crash before the rename: the temporary file", func(p string) {
			writeLedger(t, p, 1, v1)
			writeLedger(t, p+".tmp", 2, v2)
		}, v2, 0, nil, "pos_file recovered from another version"},
		{"crash between the renames", func(p string) {
			writeLedger(t, p+".prev", 1, v1)
			writeLedger(t, p+".tmp", 2, v2)
		}, v2, 0, nil, ""},
		{"torn temporary file", func(p string) {
			writeLedger(t, p, 1, v1)
			os.WriteFile(p+".tmp", encodeLedger(2, v2)[:40], 0o644)
		}, v1, 1, nil, "removing a torn temporary pos_file"},
		{"everything damaged", func(p string) {
			os.WriteFile(p, []byte("garbage"), 0o644)
			os.WriteFile(p+".prev", flip(encodeLedger(1, v1), 50), 0o644)
		}, map[string]*entry{}, 2, []string{".corrupt-", ".prev.corrupt-"}, "no valid pos_file version"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pos := filepath.Join(dir, "files.pos")
			tc.setup(pos)
			lb := &logBuf{}
			l, rec, err := loadLedger(pos, false, now, slog.New(slog.NewTextHandler(lb, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(l.entries, tc.want) || rec.damaged != tc.damaged {
				t.Fatalf("entries %v damaged %d", l.entries, rec.damaged)
			}
			if tc.log != "" {
				lb.Has(t, tc.log)
			}
			for _, s := range tc.aside {
				m, _ := filepath.Glob(pos + s + "*")
				if len(m) != 1 {
					t.Errorf("nothing moved aside to %s*: %v", s, m)
				}
			}
			if len(tc.aside) > 0 {
				lb.Has(t, "path="+pos)
			}
			if _, err := os.Stat(pos + ".tmp"); err == nil {
				t.Error("temporary file left")
			}
			// what is on disk now reads back the same
			if rec.damaged > 0 || tc.name != "none" && tc.name != "good" {
				l2, rec2, err := loadLedger(pos, false, now, slog.New(slog.NewTextHandler(lb, nil)))
				if err != nil || rec2.damaged != 0 || !reflect.DeepEqual(l2.entries, tc.want) {
					t.Fatalf("reloaded: %v %v %v", l2.entries, rec2, err)
				}
			}
		})
	}
}

func TestLedgerSaveKeepsPrevious(t *testing.T) {
	pos := filepath.Join(t.TempDir(), "files.pos")
	l := &ledger{path: pos, entries: map[string]*entry{"/a": {state: stateReading}}}
	if err := l.save(); err != nil {
		t.Fatal(err)
	}
	l.entries["/a"].state = stateShipped
	if err := l.save(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]state{pos: stateShipped, pos + ".prev": stateReading} {
		b, _ := os.ReadFile(name)
		gen, e, err := decodeLedger(b)
		if err != nil || e["/a"].state != want {
			t.Errorf("%s: gen %d %v %v", name, gen, e, err)
		}
	}
}

// TestInputRecoversTornLedger damages the pos_file of a real run: the
// previous version is used, so at most the last file is shipped again.
func TestInputRecoversTornLedger(t *testing.T) {
	e := newEnv(t)
	e.write("a.ndjson", ndjsonLines(1, 1), t0)
	e.write("b.ndjson", ndjsonLines(2, 2), t0.Add(time.Minute))
	cfg := e.config("ndjson")
	in, err := New(cfg, newSink(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Listen(); err != nil {
		t.Fatal(err)
	}
	in.scan(t.Context())
	in.Close()
	b, _ := os.ReadFile(e.pos)
	os.WriteFile(e.pos, b[:len(b)-5], 0o644) // torn
	sink := newSink()
	in2, err := New(cfg, sink, Options{Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := in2.Listen(); err != nil {
		t.Fatal(err)
	}
	in2.scan(t.Context())
	in2.Close()
	if got := sink.values(t, "n"); len(got) > 1 {
		t.Fatalf("shipped again %v", got)
	}
	if st := in2.Stats(); st.LedgerDamaged != 1 {
		t.Errorf("stats %+v", st)
	}
	e.logs.Has(t, "pos_file is damaged; moved aside", "path="+e.pos)
}

// writeJournal writes a journal of gen holding changes, then tail.
func writeJournal(t *testing.T, name string, gen uint64, tail string, changes ...change) {
	t.Helper()
	b := fmt.Appendf(nil, "%s gen=%d\n", journalMagic, gen)
	for _, c := range changes {
		b = appendChange(b, c.path, c.e)
	}
	if err := os.WriteFile(name, append(b, tail...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestJournalRecovery loads what a crash leaves at each point of the
// ledger's writes, and damaged journals: the state is the newest one
// written, or an older one (files shipped again), never a newer one.
func TestJournalRecovery(t *testing.T) {
	v1 := map[string]*entry{"/a": {state: stateShipped, size: 1, mtime: 1}}
	b1 := &entry{state: stateReading, size: 9, records: 1000, offset: 10}
	b2 := &entry{state: stateReading, size: 9, records: 2000, offset: 20}
	b3 := &entry{state: stateShipped, size: 9, records: 2500, offset: 25}
	changes := []change{{"/b", b1}, {"/a", nil}, {"/b", b2}}
	after := map[string]*entry{"/b": b2}        // v1 and the changes
	later := map[string]*entry{"/b": b3}        // a later snapshot
	line := string(appendChange(nil, "/c", b3)) // a valid line
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name    string
		setup   func(pos string)
		want    map[string]*entry
		changes int
		log     string
	}{
		{"journal replayed", func(p string) {
			writeLedger(t, p, 1, v1)
			writeJournal(t, p+".journal", 1, "", changes...)
		}, after, 3, ""},
		{"torn last line", func(p string) {
			writeLedger(t, p, 1, v1)
			writeJournal(t, p+".journal", 1, line[:30], changes...)
		}, after, 3, "pos_file journal ends with a torn or damaged line"},
		{"damaged line", func(p string) {
			writeLedger(t, p, 1, v1)
			writeJournal(t, p+".journal", 1, strings.Replace(line, "/c", "/d", 1)+line, changes...)
		}, after, 3, "pos_file journal ends with a torn or damaged line"},
		{"zeros after a power loss", func(p string) {
			writeLedger(t, p, 1, v1)
			writeJournal(t, p+".journal", 1, "\x00\x00\x00\x00", changes...)
		}, after, 3, ""},
		{"torn header", func(p string) {
			writeLedger(t, p, 1, v1)
			os.WriteFile(p+".journal", []byte("barge-files-jou"), 0o644)
		}, v1, 0, ""},
		{"crash before the snapshot's renames", func(p string) {
			writeLedger(t, p, 1, v1)
			writeJournal(t, p+".journal", 1, "", changes...)
			writeLedger(t, p+".tmp", 2, after)
		}, after, 0, "pos_file recovered from another version"},
		{"crash between the renames", func(p string) {
			writeLedger(t, p+".prev", 1, v1)
			writeJournal(t, p+".journal", 1, "", changes...)
			writeLedger(t, p+".tmp", 2, later)
		}, later, 0, ""},
		{"crash before the journal is moved aside", func(p string) {
			writeLedger(t, p+".prev", 1, v1)
			writeLedger(t, p, 2, later)
			writeJournal(t, p+".journal", 1, "", changes...)
		}, later, 0, ""},
		{"crash before the new journal", func(p string) {
			writeLedger(t, p+".prev", 1, v1)
			writeLedger(t, p, 2, later)
			writeJournal(t, p+".journal.prev", 1, "", changes...)
		}, later, 0, ""},
		{"damaged snapshot: the previous one and both journals", func(p string) {
			writeLedger(t, p+".prev", 1, v1)
			os.WriteFile(p, flip(encodeLedger(2, after), 40), 0o644)
			writeJournal(t, p+".journal.prev", 1, "", changes...)
			writeJournal(t, p+".journal", 2, "", change{"/b", b3})
		}, later, 4, "pos_file is damaged; moved aside"},
		{"leftover journal without a pos_file", func(p string) {
			writeJournal(t, p+".journal", 5, "", change{"/b", b3})
		}, map[string]*entry{}, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pos := filepath.Join(t.TempDir(), "files.pos")
			tc.setup(pos)
			lb := &logBuf{}
			l, rec, err := loadLedger(pos, false, now, slog.New(slog.NewTextHandler(lb, nil)))
			if err != nil {
				t.Fatal(err)
			}
			l.closeJournal()
			if !reflect.DeepEqual(l.entries, tc.want) || rec.changes != tc.changes {
				t.Fatalf("entries %v, %d changes replayed", l.entries, rec.changes)
			}
			if tc.log != "" {
				lb.Has(t, tc.log)
			}
			// the new snapshot holds it all, and its journal nothing
			l2, rec2, err := loadLedger(pos, false, now, slog.New(slog.NewTextHandler(lb, nil)))
			if err != nil || rec2.damaged != 0 || rec2.changes != 0 || !reflect.DeepEqual(l2.entries, tc.want) {
				t.Fatalf("reloaded: %v %+v %v", l2.entries, rec2, err)
			}
			l2.closeJournal()
		})
	}
}

// TestJournalNotes writes changes through the journal, and compacts it
// once it outgrows the snapshot.
func TestJournalNotes(t *testing.T) {
	pos := filepath.Join(t.TempDir(), "files.pos")
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	l, _, err := loadLedger(pos, true, now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.closeJournal()
	gen := l.gen
	e := &entry{state: stateReading}
	l.entries["/a"] = e
	for i := 1; i <= 10; i++ {
		e.records = int64(i)
		if err := l.note("/a"); err != nil {
			t.Fatal(err)
		}
	}
	delete(l.entries, "/a")
	l.entries["/b"] = &entry{state: stateFailed}
	for _, p := range []string{"/a", "/b"} {
		if err := l.note(p); err != nil {
			t.Fatal(err)
		}
	}
	if l.gen != gen || l.jlines != 12 {
		t.Fatalf("gen %d (was %d), %d lines", l.gen, gen, l.jlines)
	}
	b, _ := os.ReadFile(pos + ".journal")
	g, changes, torn, err := decodeJournal(b)
	if err != nil || g != gen || torn != 0 || len(changes) != 12 || changes[9].e.records != 10 || changes[10].e != nil {
		t.Fatalf("journal gen %d, %d changes, torn %d: %v", g, len(changes), torn, err)
	}
	// a long journal is compacted
	l.fsync = false // thousands of lines
	for l.gen == gen {
		if err := l.note("/b"); err != nil {
			t.Fatal(err)
		}
	}
	if l.jlines != 0 || l.jsize > 64 {
		t.Fatalf("after compaction: %d lines, %d bytes", l.jlines, l.jsize)
	}
	b, _ = os.ReadFile(pos)
	if _, entries, err := decodeLedger(b); err != nil || !reflect.DeepEqual(entries, l.entries) {
		t.Fatalf("snapshot %v %v", entries, err)
	}
}
