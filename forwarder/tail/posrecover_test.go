package tail

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestRecovery damages the pos_file's versions as crashes and disks do,
// and reopens.
func TestRecovery(t *testing.T) {
	v := func(gen uint64, off int64) []byte {
		return encodePositions(gen, 0, map[string]Entry{"/a": entry("/a", off, "aaaa")})
	}
	torn := func(b []byte) []byte { return b[:len(b)/2] }
	two := encodePositions(5, 0, map[string]Entry{"/a": entry("/a", 50, "aaaa"), "/b": entry("/b", 7, "b")})
	oldTime, newTime := time.Now().Add(-time.Hour), time.Now()
	cases := []struct {
		name         string
		main         []byte // nil: absent
		tmp, prev    []byte
		mainOlder    bool  // main's mtime before tmp's
		wantOff      int64 // -1: no entry
		wantFrom     string
		wantAside    int
		wantLog      string
		wantNoTmp    bool
		wantSalvaged int
	}{
		{name: "whole", main: v(5, 50), wantOff: 50, wantFrom: ""},
		{name: "torn, previous whole", main: torn(v(5, 50)), prev: v(4, 40), wantOff: 40, wantFrom: ".prev", wantAside: 1, wantLog: "moved aside"},
		{name: "bit flip", main: []byte(strings.Replace(string(v(5, 50)), "0032", "0033", 1)), prev: v(4, 40), wantOff: 40, wantFrom: ".prev", wantAside: 1},
		{name: "temporary whole and newer", main: v(5, 50), tmp: v(6, 60), wantOff: 60, wantFrom: ".tmp", wantNoTmp: true},
		{name: "temporary torn", main: v(5, 50), tmp: torn(v(6, 60)), wantOff: 50, wantLog: "torn temporary", wantNoTmp: true},
		{name: "temporary whole, older", main: v(5, 50), tmp: v(4, 40), wantOff: 50, wantNoTmp: true},
		{name: "empty after a power loss", main: []byte{}, prev: v(4, 40), wantOff: 40, wantFrom: ".prev", wantAside: 1},
		{name: "missing, previous whole", prev: v(4, 40), wantOff: 40, wantFrom: ".prev"},
		{name: "previous damaged", main: v(5, 50), prev: torn(v(4, 40)), wantOff: 50, wantAside: 1},
		{name: "nothing whole: salvage", main: two[:len(two)-10], wantOff: 50, wantAside: 1, wantLog: "salvaged", wantSalvaged: 2},
		{name: "fluentd, older temporary", main: []byte("/a\t0000000000000064\t00000000000003eb\n"), tmp: v(6, 60), mainOlder: false, wantOff: 100, wantNoTmp: true},
		{name: "fluentd, converting crashed", main: []byte("/a\t0000000000000064\t00000000000003eb\n"), tmp: v(6, 60), mainOlder: true, wantOff: 60, wantFrom: ".tmp", wantNoTmp: true},
		{name: "fluentd empty", main: []byte{}, wantOff: -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPosEnv(t)
			for _, f := range []struct {
				suffix string
				b      []byte
			}{{"", tc.main}, {".tmp", tc.tmp}, {".prev", tc.prev}} {
				if f.b != nil {
					p.write(f.suffix, f.b)
				}
			}
			if tc.tmp != nil && tc.main != nil {
				mt, tt := newTime, oldTime
				if tc.mainOlder {
					mt, tt = oldTime, newTime
				}
				setMtime(t, p.path, mt)
				setMtime(t, p.path+".tmp", tt)
			}
			s, rec := p.open()
			e, ok := s.Get("/a")
			switch {
			case tc.wantOff < 0 && ok, tc.wantOff >= 0 && (!ok || e.Offset != tc.wantOff):
				t.Fatalf("entry %+v %v, want offset %d", e, ok, tc.wantOff)
			case tc.wantFrom != "" && rec.From != p.path+tc.wantFrom:
				t.Errorf("from %q, want %q", rec.From, p.path+tc.wantFrom)
			case len(rec.MovedAside) != tc.wantAside || rec.Salvaged != tc.wantSalvaged:
				t.Errorf("recovery %+v", rec)
			case tc.wantLog != "" && p.logs.Count(tc.wantLog) == 0:
				t.Errorf("no log %q:\n%s", tc.wantLog, p.logs)
			case tc.wantNoTmp && p.exists(".tmp"):
				t.Error(".tmp left behind")
			}
			for _, a := range rec.MovedAside {
				if !strings.Contains(a, ".corrupt-20250301T120000") || p.logs.Count("moved aside", a) != 1 {
					t.Errorf("moved aside to %q; logs:\n%s", a, p.logs)
				}
				if _, err := os.Stat(a); err != nil {
					t.Error(err)
				}
			}
			b, _ := os.ReadFile(p.path)
			if pf, err := decodePositions(b); err != nil || !pf.barge {
				t.Fatalf("pos_file not whole after recovery: %v", err)
			}
			// and again: the recovered file reopens as it is
			s2, rec2 := p.open()
			if !reflect.DeepEqual(s2.Entries(), s.Entries()) || rec2.From != p.path || len(rec2.MovedAside) != 0 {
				t.Fatalf("reopened: %+v", rec2)
			}
		})
	}
}

func TestRecoveryFailures(t *testing.T) {
	dir := t.TempDir()
	put(t, filepath.Join(dir, "file"), "")
	if _, _, err := OpenFile(filepath.Join(dir, "file", "tail.pos"), FileOptions{}); err == nil {
		t.Error("a pos_file under a regular file opened")
	}
	p := newPosEnv(t)
	if err := os.MkdirAll(p.path, 0o755); err != nil { // a directory where the pos_file goes
		t.Fatal(err)
	}
	if _, _, err := OpenFile(p.path, FileOptions{}); err == nil || !strings.Contains(err.Error(), "pos_file") {
		t.Errorf("a directory as pos_file: %v", err)
	}
}
