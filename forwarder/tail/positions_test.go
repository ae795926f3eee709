package tail

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fluentdLine is Fluentd's PositionFile::POSITION_FILE_ENTRY_REGEX.
var fluentdLine = regexp.MustCompile(`^([^\t]+)\t([0-9a-fA-F]+)\t([0-9a-fA-F]+)`)

func entry(path string, off int64, content string) Entry {
	return Entry{Path: path, Offset: off, ID: stored(Identity{Dev: 0x803, Ino: uint64(len(path)) + 1000, FP: NewFingerprint([]byte(content))})}
}

func sampleEntries() map[string]Entry {
	m := map[string]Entry{}
	for _, e := range []Entry{
		entry("/var/log/app.log", 1234, strings.Repeat("x", 2000)),
		entry("/var/log/short.log", 3, "ab\n"),
		entry("/var/log/with\ttab.log", 7, "tab"),
		entry(`"quoted".log`, 0, ""),
		{Path: "/var/log/from-fluentd.log", Offset: 99, ID: Identity{Ino: 42}},
	} {
		m[e.Path] = e
	}
	return m
}

// TestPositionsFormat pins the line format and checks that Fluentd's
// loader reads every line barge writes (but the trailer).
func TestPositionsFormat(t *testing.T) {
	e := entry("/var/log/app.log", 1234, strings.Repeat("x", 2000))
	line := string(appendEntryLine(nil, e))
	want := "/var/log/app.log\t00000000000004d2\t00000000000003f8\tdev=0000000000000803\tfp=1024:"
	if !strings.HasPrefix(line, want) || !regexp.MustCompile(`fp=1024:[0-9a-f]{32}\tcrc=[0-9a-f]{8}\n$`).MatchString(line) {
		t.Fatalf("line %q", line)
	}
	b := encodePositions(7, 0, sampleEntries())
	lines := strings.SplitAfter(string(b), "\n")
	lines = lines[:len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		m := fluentdLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("Fluentd does not read %q", l)
		}
		pos, _ := strconv.ParseUint(m[2], 16, 64)
		ino, _ := strconv.ParseUint(m[3], 16, 64)
		path := m[1]
		if strings.HasPrefix(path, `"`) {
			path, _ = strconv.Unquote(path)
		}
		if e, ok := sampleEntries()[path]; !ok || int64(pos) != e.Offset || ino != e.ID.Ino {
			t.Errorf("Fluentd reads %q %d %d from %q", path, pos, ino, l)
		}
	}
	if tr := lines[len(lines)-1]; fluentdLine.MatchString(tr) || !strings.HasPrefix(tr, "# barge-tail-positions 1 gen=7 entries=5 crc32c=") {
		t.Errorf("trailer %q", tr)
	}
	pf, err := decodePositions(b)
	if err != nil || !pf.barge || pf.gen != 7 || !reflect.DeepEqual(pf.entries, sampleEntries()) {
		t.Fatalf("round trip: %v %+v", err, pf)
	}
	empty := encodePositions(1, 0, nil)
	if pf, err := decodePositions(empty); err != nil || !pf.barge || len(pf.entries) != 0 {
		t.Fatalf("empty: %q %v", empty, err)
	}
}

func TestDecodeDamage(t *testing.T) {
	good := encodePositions(3, 0, sampleEntries())
	cases := []struct {
		name string
		b    []byte
	}{
		{"torn", good[:len(good)-30]},
		{"no trailer", good[:strings.LastIndex(string(good), "#")]},
		{"no final newline", good[:len(good)-1]},
		{"bit flipped", []byte(strings.Replace(string(good), "00000000000004d2", "00000000000004d3", 1))},
		{"line dropped", []byte(strings.Replace(string(good), string(appendEntryLine(nil, sampleEntries()["/var/log/app.log"])), "", 1))},
		{"trailer alone torn", []byte("# barge-tail-positions 1 gen=1 entr")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if pf, err := decodePositions(tc.b); err == nil {
				t.Fatalf("damage not detected: %+v", pf)
			}
		})
	}
	if got := salvage(good[:len(good)-60]); len(got) != 4 {
		t.Errorf("salvaged %d entries from a torn file, want the 4 whole lines", len(got))
	}
}

// posEnv is a pos_file in a test's directory.
type posEnv struct {
	t    *testing.T
	path string
	logs *logBuf
	now  time.Time
}

func newPosEnv(t *testing.T) *posEnv {
	return &posEnv{t: t, path: filepath.Join(t.TempDir(), "state", "tail.pos"), logs: &logBuf{},
		now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (p *posEnv) open() (*FileStore, Recovery) {
	p.t.Helper()
	s, rec, err := OpenFile(p.path, FileOptions{Logger: p.logs.Logger(), Now: func() time.Time { return p.now }})
	if err != nil {
		p.t.Fatal(err)
	}
	return s, rec
}

func (p *posEnv) write(suffix string, b []byte) {
	p.t.Helper()
	if err := os.MkdirAll(filepath.Dir(p.path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	put(p.t, p.path+suffix, string(b))
}

func (p *posEnv) exists(suffix string) bool {
	_, err := os.Stat(p.path + suffix)
	return err == nil
}

func ino(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	_, i, _ := fileID(fi)
	return i
}

func TestStore(t *testing.T) {
	p := newPosEnv(t)
	s, rec := p.open()
	if rec.From != "" || len(s.Entries()) != 0 || !p.exists("") {
		t.Fatalf("first open: %+v, pos_file written: %v", rec, p.exists(""))
	}
	for _, e := range sampleEntries() {
		if err := s.Set(e); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []Entry{{Offset: 1}, {Path: "/a", Offset: -1}, {Path: "/a\x00b"}, {Path: "/a", ID: Identity{FP: Fingerprint{Len: 2000}}}} {
		if err := s.Set(bad); err == nil {
			t.Errorf("Set(%+v) accepted", bad)
		}
	}
	s.Delete("/var/log/short.log")
	s.Delete("/never")
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	before := ino(t, p.path)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if ino(t, p.path) != before {
		t.Error("a Sync without changes wrote the pos_file")
	}
	if e, ok := s.Get("/var/log/app.log"); !ok || e.Offset != 1234 {
		t.Errorf("Get = %+v %v", e, ok)
	}
	want := sampleEntries()
	delete(want, "/var/log/short.log")
	s2, rec := p.open()
	got := map[string]Entry{}
	for _, e := range s2.Entries() {
		got[e.Path] = e
	}
	if !reflect.DeepEqual(got, want) || rec.From != p.path || rec.Fluentd || len(rec.MovedAside) > 0 {
		t.Fatalf("reopened: %+v\n%+v", rec, got)
	}
	paths := s2.Entries()
	for i := 1; i < len(paths); i++ {
		if paths[i-1].Path >= paths[i].Path {
			t.Errorf("Entries not sorted: %v", paths)
		}
	}
	if n := Compact(s2, func(e Entry) bool { return strings.HasPrefix(e.Path, "/var/log/a") }); n != 3 || len(s2.Entries()) != 1 {
		t.Errorf("Compact removed %d, left %d", n, len(s2.Entries()))
	}

	mem, rec, err := OpenFile("", FileOptions{})
	if err != nil || mem.Set(entry("/a", 1, "a")) != nil || mem.Sync() != nil || len(mem.Entries()) != 1 || rec.From != "" {
		t.Fatalf("memory store: %v", err)
	}
}

func TestStoreFsync(t *testing.T) {
	p := newPosEnv(t)
	s, _, err := OpenFile(p.path, FileOptions{Fsync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(entry("/a", 5, "abcde")); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p.path)
	pf, err := decodePositions(b)
	if err != nil || pf.entries["/a"].Offset != 5 || pf.gen != 2 {
		t.Fatalf("%v %+v", err, pf)
	}
	b, _ = os.ReadFile(p.path + ".prev")
	if pf, err := decodePositions(b); err != nil || pf.gen != 1 || len(pf.entries) != 0 {
		t.Fatalf(".prev is not the version before: %v %+v", err, pf)
	}
}

// TestFluentdImport reads a pos_file Fluentd wrote.
func TestFluentdImport(t *testing.T) {
	p := newPosEnv(t)
	fluentd := strings.Join([]string{
		"/var/log/a.log\t00000000000001f4\t0000000000083f11",
		"/var/log/old.log\t0000000000000010\t00083f12", // Fluentd 0.10: 8-digit inodes
		"/var/log/gone.log\tffffffffffffffff\t0000000000083f13",
		"/var/log/new.log\t0000000000000000\t0000000000000000",
		"/var/log/a.log\t0000000000000258\t0000000000083f11", // repeated: the last wins
		"garbage line",
		"/var/log/torn.log\t00000000000000", // torn: no inode, no newline
	}, "\n")
	p.write("", []byte(fluentd))
	s, rec := p.open()
	got := map[string]Entry{}
	for _, e := range s.Entries() {
		got[e.Path] = e
	}
	want := map[string]Entry{
		"/var/log/a.log":   {Path: "/var/log/a.log", Offset: 0x258, ID: Identity{Ino: 0x83f11}},
		"/var/log/old.log": {Path: "/var/log/old.log", Offset: 0x10, ID: Identity{Ino: 0x83f12}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("entries %+v", got)
	}
	if !rec.Fluentd || rec.Unwatched != 2 || rec.Repeated != 1 || rec.BadLines != 2 || len(rec.MovedAside) != 1 {
		t.Fatalf("recovery %+v", rec)
	}
	if kept, _ := os.ReadFile(rec.MovedAside[0]); string(kept) != fluentd {
		t.Errorf("the damaged file kept aside holds %q", kept)
	}
	if p.logs.Count("lines do not parse", p.path, "[6 7]") != 1 {
		t.Errorf("bad lines not reported:\n%s", p.logs)
	}
	b, _ := os.ReadFile(p.path)
	if pf, err := decodePositions(b); err != nil || !pf.barge || !reflect.DeepEqual(pf.entries, want) {
		t.Fatalf("not rewritten in barge's format: %v\n%s", err, b)
	}
}
