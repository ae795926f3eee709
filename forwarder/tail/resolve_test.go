package tail

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

var resolveNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// resolver builds a Resolver of dir with edit applied to its config.
func resolver(t *testing.T, dir string, logs *logBuf, edit func(*Config)) *Resolver {
	t.Helper()
	c := validConfig()
	c.Path = dir + "/*.log"
	edit(&c)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err := NewResolver(&c, logs.Logger())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func paths(dir string, fs []File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, strings.TrimPrefix(f.Path, dir+"/"))
	}
	return out
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, "a.log", "b.log", "c.gz", "d.zip", "app?.log", "appX.log",
		"20250301/today.log", "20250228/yesterday.log", "sub/", "sub/deep.log", "old.log", "static-old.log")
	old := resolveNow.Add(-48 * time.Hour)
	setMtime(t, filepath.Join(dir, "old.log"), old)
	setMtime(t, filepath.Join(dir, "static-old.log"), old)
	for _, n := range []string{"a.log", "b.log", "app?.log", "appX.log", "sub/deep.log", "20250301/today.log"} {
		setMtime(t, filepath.Join(dir, n), resolveNow.Add(-time.Minute))
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.log"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "a.log"), filepath.Join(dir, "link-a.log")); err != nil {
		t.Fatal(err)
	}
	recent := []string{"a.log", "app?.log", "appX.log", "b.log", "link-a.log", "old.log", "static-old.log"}
	cases := []struct {
		name      string
		edit      func(*Config)
		following string
		want      []string
		stats     ResolveStats
	}{
		{"glob", func(c *Config) {}, "", recent, ResolveStats{Skipped: 1}},
		{"strftime", func(c *Config) { c.Path = dir + "/%Y%m%d/*.log" }, "", []string{"20250301/today.log"}, ResolveStats{}},
		{"path_timezone", func(c *Config) { c.Path, c.PathTimezone = dir+"/%Y%m%d/*.log", "-13:00" }, "", []string{"20250228/yesterday.log"}, ResolveStats{}},
		{"several, repeated", func(c *Config) { c.Path = dir + "/a.log," + dir + "/*.log , " + dir + "/sub/*.log" }, "",
			append(slicesClone(recent), "sub/deep.log"), ResolveStats{Skipped: 1}},
		{"recursive", func(c *Config) { c.Path = dir + "/**/*.log" }, "",
			append(append([]string{"20250228/yesterday.log", "20250301/today.log"}, recent...), "sub/deep.log"), ResolveStats{Skipped: 1}},
		{"exclude", func(c *Config) {
			c.Path = dir + "/*"
			c.ExcludePath = []string{dir + "/*.gz", "*.zip", dir + "/%Y%m%d", dir + "/b.log"}
		}, "", []string{"a.log", "app?.log", "appX.log", "link-a.log", "old.log", "static-old.log"}, ResolveStats{Excluded: 4, Skipped: 1}},
		{"static with ?", func(c *Config) { c.Path = dir + "/app?.log" }, "", []string{"app?.log"}, ResolveStats{}},
		{"extended glob", func(c *Config) { c.Path, c.GlobPolicy = dir+"/app?.log", "extended" }, "", []string{"app?.log", "appX.log"}, ResolveStats{}},
		{"static missing", func(c *Config) { c.Path = dir + "/later.log" }, "", nil, ResolveStats{}},
		{"static link", func(c *Config) { c.Path = dir + "/link-a.log" }, "", []string{"link-a.log"}, ResolveStats{}},
		{"limit_recently_modified", func(c *Config) {
			// a glob's old file goes, though followed; a path without
			// wildcards stays, though a glob matches it too (as Fluentd)
			c.Path, c.LimitRecentlyModified = dir+"/*.log,"+dir+"/static-old.log", time.Hour
		}, "old.log", []string{"a.log", "app?.log", "appX.log", "b.log", "link-a.log", "static-old.log"}, ResolveStats{Old: 1, Skipped: 1}},
		{"ignore_older", func(c *Config) {
			// an old file goes, unless followed
			c.Path, c.IgnoreOlder = dir+"/*.log,"+dir+"/static-old.log", time.Hour
		}, "old.log", recent[:len(recent)-1], ResolveStats{Old: 1, Skipped: 1}},
		{"follow_inodes", func(c *Config) { c.FollowInodes = true }, "",
			[]string{"a.log", "app?.log", "appX.log", "b.log", "old.log", "static-old.log"}, ResolveStats{Skipped: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logBuf{}
			r := resolver(t, dir, logs, tc.edit)
			got := r.Resolve(resolveNow, func(p string) bool { return p == dir+"/"+tc.following })
			if !reflect.DeepEqual(paths(dir, got), tc.want) {
				t.Errorf("Resolve = %q\nwant      %q", paths(dir, got), tc.want)
			}
			tc.stats.Runs = 1
			if r.Stats() != tc.stats {
				t.Errorf("stats %+v, want %+v", r.Stats(), tc.stats)
			}
			if logs.String() != "" {
				t.Errorf("logs:\n%s", logs)
			}
		})
	}
	t.Run("stat", func(t *testing.T) {
		r := resolver(t, dir, &logBuf{}, func(c *Config) { c.Path = dir + "/link-a.log" })
		f := r.Resolve(resolveNow, nil)[0]
		fi, _ := os.Stat(filepath.Join(dir, "a.log"))
		dev, ino, _ := fileID(fi)
		if f.Dev != dev || f.Ino != ino || f.Size != fi.Size() || !f.ModTime.Equal(fi.ModTime()) {
			t.Errorf("File %+v, target %d %d %d", f, dev, ino, fi.Size())
		}
	})
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// TestResolveProblems: files that cannot be stat'ed or opened are left
// out, counted and logged, never stopping the others.
func TestResolveProblems(t *testing.T) {
	dir := t.TempDir()
	tree(t, dir, "a.log", "denied.log", "sub/x.log")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "dangling.log")); err != nil {
		t.Fatal(err)
	}
	denied := &fs.PathError{Op: "open", Path: dir + "/denied.log", Err: syscall.EACCES}
	for _, quiet := range []bool{false, true} {
		t.Run(map[bool]string{false: "repeated", true: "ignore_repeated_permission_error"}[quiet], func(t *testing.T) {
			logs := &logBuf{}
			r := resolver(t, dir, logs, func(c *Config) {
				c.Path = dir + "/*.log," + dir + "/sub/*.log"
				c.IgnoreRepeatedPermissionError = quiet
			})
			deny := true
			r.open = func(p string) error {
				if deny && strings.HasSuffix(p, "denied.log") {
					return denied
				}
				return openCheck(p)
			}
			r.readDir = func(d string) ([]fs.DirEntry, error) {
				if strings.HasSuffix(d, "/sub") {
					return nil, &fs.PathError{Op: "open", Path: d, Err: syscall.EACCES}
				}
				return os.ReadDir(d)
			}
			for range 3 {
				if got := paths(dir, r.Resolve(resolveNow, nil)); !reflect.DeepEqual(got, []string{"a.log"}) {
					t.Fatalf("Resolve = %q", got)
				}
			}
			want := 3
			if quiet {
				want = 1
			}
			if n := logs.Count("level=WARN", "unreadable", "path="+dir+"/denied.log"); n != want {
				t.Errorf("denied.log logged %d times, want %d:\n%s", n, want, logs)
			}
			if n := logs.Count("level=WARN", "path="+dir+"/sub "); n != want {
				t.Errorf("sub logged %d times, want %d:\n%s", n, want, logs)
			}
			if n := logs.Count("level=DEBUG", "vanished", "path="+dir+"/dangling.log"); n != 1 {
				t.Errorf("dangling link logged %d times, want 1:\n%s", n, logs)
			}
			if s := r.Stats(); s.Unreadable != 6 || s.Vanished != 3 {
				t.Errorf("stats %+v", s)
			}
			// readable again, then denied again: logged again
			deny = false
			if got := paths(dir, r.Resolve(resolveNow, nil)); !reflect.DeepEqual(got, []string{"a.log", "denied.log"}) {
				t.Fatalf("Resolve = %q", got)
			}
			deny = true
			r.Resolve(resolveNow, nil)
			if n := logs.Count("unreadable", "path="+dir+"/denied.log"); n != want+1 {
				t.Errorf("denied.log logged %d times after it came back, want %d", n, want+1)
			}
			// followed files are not opened to check them
			if got := paths(dir, r.Resolve(resolveNow, func(p string) bool { return strings.HasSuffix(p, "denied.log") })); len(got) != 2 {
				t.Errorf("followed file left out: %q", got)
			}
		})
	}
}

// TestResolvePermissions uses real permission bits.
func TestResolvePermissions(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root, whom permission bits do not stop; TestResolveProblems covers this with injected errors")
	}
	dir := t.TempDir()
	tree(t, dir, "a.log", "denied.log")
	if err := os.Chmod(filepath.Join(dir, "denied.log"), 0); err != nil {
		t.Fatal(err)
	}
	logs := &logBuf{}
	r := resolver(t, dir, logs, func(c *Config) {})
	if got := paths(dir, r.Resolve(resolveNow, nil)); !reflect.DeepEqual(got, []string{"a.log"}) || logs.Count("denied.log") != 1 {
		t.Errorf("Resolve = %q\n%s", got, logs)
	}
}
