package conf

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestGolden parses the sample configs under testdata/ and compares the
// tree (with every element's file and line) with NAME.golden. Run
// "go test ./conf -run TestGolden -update" to rewrite the golden files.
func TestGolden(t *testing.T) {
	t.Setenv("BARGE_TEST_HOSTNAME", "host-1")
	t.Setenv("BARGE_TEST_BIND", "127.0.0.1")
	t.Setenv("BARGE_TEST_SHARED_KEY", "from-env")
	t.Setenv("BARGE_TEST_EMPTY", "")
	t.Setenv("BARGE_TEST_FLUSH", "5s")
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"fluentd.conf", "embedded.conf"} {
		t.Run(name, func(t *testing.T) {
			root, err := ParseFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			got := strings.ReplaceAll(dump(root), strconv.Quote(host), `"HOSTNAME"`)
			golden(t, name, got)
			// String renders the tree back; parsing that gives the same tree.
			again, err := Parse("again.conf", []byte(root.String()))
			if err != nil {
				t.Fatalf("reparse String(): %v\n%s", err, root)
			}
			if a, b := shape(again), shape(root); a != b {
				t.Errorf("String() does not round-trip:\n%s\nvs\n%s", a, b)
			}
		})
	}
}

// shape is dump without positions.
func shape(s *Section) string {
	c := *s
	strip(&c)
	return dump(&c)
}

func strip(s *Section) {
	params := make([]*Param, len(s.Params))
	for i, p := range s.Params {
		params[i] = &Param{Key: p.Key, Value: p.Value, UseDefault: p.UseDefault, UseNil: p.UseNil}
	}
	s.Params = params
	secs := make([]*Section, len(s.Sections))
	for i, c := range s.Sections {
		cc := *c
		cc.File, cc.Line = "", 0
		strip(&cc)
		secs[i] = &cc
	}
	s.Sections = secs
}

// TestGoldenErrors parses a file with many problems and compares every
// message, in order, with NAME.golden: the parse goes on after each.
func TestGoldenErrors(t *testing.T) {
	for _, name := range []string{"errors.conf"} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseFile(filepath.Join("testdata", name))
			if err == nil {
				t.Fatal("ParseFile succeeded")
			}
			golden(t, name, err.Error()+"\n")
		})
	}
}

// golden compares got with testdata/NAME.golden, first rewriting it with
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
