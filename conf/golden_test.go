package conf

import (
	"os"
	"path/filepath"
	"testing"
)

// TestGolden parses the sample configs under testdata/ and compares the
// tree (with every element's file and line) with NAME.golden. Run
// "go test ./conf -run TestGolden -update" to rewrite the golden files.
func TestGolden(t *testing.T) {
	t.Setenv("BARGE_TEST_HOSTNAME", "host-1")
	for _, name := range []string{"fluentd.conf"} {
		t.Run(name, func(t *testing.T) {
			root, err := ParseFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			got := dump(root)
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
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
		params[i] = &Param{Key: p.Key, Value: p.Value}
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
