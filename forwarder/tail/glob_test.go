package tail

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestMatchPath(t *testing.T) {
	cases := []struct {
		pattern, path string
		want          bool
	}{
		{"/var/log/*.log", "/var/log/a.log", true},
		{"/var/log/*.log", "/var/log/sub/a.log", false},
		{"/var/log/*.log", "/var/log/.hidden.log", false},
		{"/var/log/.*.log", "/var/log/.hidden.log", true},
		{"/var/log/**/*.log", "/var/log/a.log", true},
		{"/var/log/**/*.log", "/var/log/x/y/a.log", true},
		{"/var/log/**/*.log", "/var/log/.git/a.log", false},
		{"/var/log/**.log", "/var/log/x/a.log", false}, // "**" not a whole component: "*"
		{"/var/log/**.log", "/var/log/a.log", true},
		{"/var/log/app-?.log", "/var/log/app-1.log", true},
		{"/var/log/app-[0-9].log", "/var/log/app-7.log", true},
		{"/var/log/app-[!0-9].log", "/var/log/app-7.log", false},
		{"/var/log/app-[!0-9].log", "/var/log/app-x.log", true},
		{"/var/log/app-[^0-9].log", "/var/log/app-x.log", true},
		{`/var/log/a\*.log`, "/var/log/a*.log", true},
		{`/var/log/a\*.log`, "/var/log/ab.log", false},
		{"var/*/x", "var/a/x", true},
		{"var/*/x", "/var/a/x", false},
		{"/var//log/*", "/var/log/a", true},
	}
	for _, tc := range cases {
		t.Run(tc.pattern+" "+tc.path, func(t *testing.T) {
			if got := matchPath(tc.pattern, tc.path); got != tc.want {
				t.Errorf("matchPath = %v, want %v", got, tc.want)
			}
		})
	}
}

// tree makes files (and directories, for names ending in "/") under dir.
func tree(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(dir, n)
		if strings.HasSuffix(n, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		put(t, p, n+"\n")
	}
}

func TestGlob(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, "a.log", "b.txt", ".hidden.log", "sub/c.log", "sub/deep/d.log", ".git/e.log", "empty/", "x-1.log", "x-y.log")
	if err := os.Symlink(filepath.Join(dir, "sub"), filepath.Join(dir, "linked")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(dir, "sub", "loop")); err != nil { // a loop for "**"
		t.Fatal(err)
	}
	cases := []struct {
		pattern string
		want    []string
	}{
		{"*.log", []string{"a.log", "x-1.log", "x-y.log"}},
		{"**/*.log", []string{"a.log", "sub/c.log", "sub/deep/d.log", "x-1.log", "x-y.log"}},
		{"*/c.log", []string{"linked/c.log", "sub/c.log"}}, // links followed but by "**"
		{"linked/**/*.log", []string{"linked/c.log", "linked/deep/d.log"}},
		{"x-[!0-9].log", []string{"x-y.log"}},
		{".*", []string{".git", ".hidden.log"}},
		{"sub/deep/d.log", []string{"sub/deep/d.log"}},
		{"missing/*.log", nil},
		{"a.log/*", nil}, // not a directory
	}
	var errs []string
	g := &globber{readDir: os.ReadDir, lstat: os.Lstat, onErr: func(p string, err error) { errs = append(errs, p) }}
	for _, tc := range cases {
		t.Run(tc.pattern, func(t *testing.T) {
			var want []string
			for _, w := range tc.want {
				want = append(want, dir+"/"+w)
			}
			if got := g.glob(dir + "/" + tc.pattern); !reflect.DeepEqual(got, want) {
				t.Errorf("glob = %q\nwant   %q", got, want)
			}
		})
	}
	if errs != nil {
		t.Errorf("errors: %q", errs)
	}
	t.Run("relative", func(t *testing.T) {
		t.Chdir(dir)
		if got := g.glob("sub/*.log"); !reflect.DeepEqual(got, []string{"sub/c.log"}) {
			t.Errorf("glob = %q", got)
		}
		if got := g.glob("*.txt"); !reflect.DeepEqual(got, []string{"b.txt"}) {
			t.Errorf("glob = %q", got)
		}
	})
	t.Run("unreadable directory", func(t *testing.T) {
		denied := errors.New("permission denied")
		var bad []string
		g := &globber{
			readDir: func(d string) ([]fs.DirEntry, error) {
				if strings.HasSuffix(d, "/sub") {
					return nil, denied
				}
				return os.ReadDir(d)
			},
			lstat: os.Lstat,
			onErr: func(p string, err error) { bad = append(bad, p) },
		}
		if got := g.glob(dir + "/**/*.log"); len(got) != 3 || !reflect.DeepEqual(bad, []string{dir + "/sub"}) {
			t.Errorf("glob = %q, errors at %q", got, bad)
		}
	})
}
