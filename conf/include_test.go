package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles creates files (path -> contents) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInclude(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string // dump with "D" standing for the temp dir
	}{
		{
			name: "glob sorted relative",
			files: map[string]string{
				"main.conf":     "a 1\n@include conf.d/*.conf\nz 9\n",
				"conf.d/b.conf": "<match b>\n</match>\nb 2\n",
				"conf.d/a.conf": "a2 1\n<source>\n  @type forward\n</source>\n",
				"conf.d/c.txt":  "not included\n",
			},
			want: "a=\"1\" @D/main.conf:1\na2=\"1\" @D/conf.d/a.conf:1\nb=\"2\" @D/conf.d/b.conf:3\nz=\"9\" @D/main.conf:3\n" +
				"<source \"\"> @D/conf.d/a.conf:2\n  @type=\"forward\" @D/conf.d/a.conf:3\n<match \"b\"> @D/conf.d/b.conf:1\n",
		},
		{
			name: "inside a section",
			files: map[string]string{
				"main.conf":   "<match x>\n  @type file\n  @include buffer.conf # comment\n</match>\n",
				"buffer.conf": "path /tmp/x\n<buffer tag>\n  timekey 1h\n</buffer>\n",
			},
			want: "<match \"x\"> @D/main.conf:1\n  @type=\"file\" @D/main.conf:2\n  path=\"/tmp/x\" @D/buffer.conf:1\n" +
				"  <buffer \"tag\"> @D/buffer.conf:2\n    timekey=\"1h\" @D/buffer.conf:3\n",
		},
		{
			name: "nested relative to including file",
			files: map[string]string{
				"main.conf":      "include \"sub/a.conf\"\n",
				"sub/a.conf":     "@include inner.conf\n",
				"sub/inner.conf": "k v\n",
			},
			want: "k=\"v\" @D/sub/inner.conf:1\n",
		},
		{
			name: "glob matching nothing",
			files: map[string]string{
				"main.conf": "@include none/*.conf\nk v\n",
			},
			want: "k=\"v\" @D/main.conf:2\n",
		},
		{
			name: "same file twice is no loop",
			files: map[string]string{
				"main.conf": "@include x.conf\n@include x.conf\n",
				"x.conf":    "k v\n",
			},
			want: "k=\"v\" @D/x.conf:1\nk=\"v\" @D/x.conf:1\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			root, err := ParseFile(filepath.Join(dir, "main.conf"))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.ReplaceAll(dump(root), dir, "D"); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestIncludeAbsolute(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"abs.conf": "k v\n"})
	root, err := Parse("elsewhere/main.conf", []byte("@include "+filepath.Join(dir, "abs.conf")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := root.Get("k"); got != "v" {
		t.Errorf("got %q", got)
	}
}

func TestIncludeErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{
			name:  "missing file",
			files: map[string]string{"main.conf": "a 1\n@include nope.conf\n"},
			want:  "D/main.conf:2: @include nope.conf: open D/nope.conf: no such file or directory",
		},
		{
			name: "loop",
			files: map[string]string{
				"main.conf": "@include a.conf\n",
				"a.conf":    "x 1\n@include b.conf\n",
				"b.conf":    "\n\n@include a.conf\n",
			},
			want: "D/b.conf:3: @include a.conf: include loop: D/a.conf -> D/b.conf -> D/a.conf",
		},
		{
			name:  "self by glob",
			files: map[string]string{"main.conf": "@include *.conf\n"},
			want:  "D/main.conf:1: @include *.conf: include loop: D/main.conf -> D/main.conf",
		},
		{
			name: "syntax error in included file",
			files: map[string]string{
				"main.conf": "@include inc.conf\n",
				"inc.conf":  "a 1\nb \"x\n",
			},
			want: "D/inc.conf:2: unterminated double-quoted string",
		},
		{
			name: "section must close in its file",
			files: map[string]string{
				"main.conf": "<match x>\n@include inc.conf\n",
				"inc.conf":  "</match>\n",
			},
			want: "D/inc.conf:1: </match> without an opening <match>\nD/main.conf:1: <match x> is not closed: expected </match> before end of file",
		},
		{
			name: "errors before, in and after an include, in order",
			files: map[string]string{
				"main.conf": "a \"\\q\"\n@include inc.conf\n@include nope.conf\nc \"#{`id`}\"\n",
				"inc.conf":  "ok 1\nb 'x\n",
			},
			want: "D/main.conf:1: unexpected back-slash escape character 'q'\n" +
				"D/inc.conf:2: unterminated single-quoted string\n" +
				"D/main.conf:3: @include nope.conf: open D/nope.conf: no such file or directory\n" +
				"D/main.conf:4: embedded Ruby code \"#{`id`}\" is not supported: unexpected \"`id`\"; " + embedSupported,
		},
		{
			name:  "no path",
			files: map[string]string{"main.conf": "@include \"\"\n"},
			want:  "D/main.conf:1: @include needs a path",
		},
		{
			name:  "url",
			files: map[string]string{"main.conf": "@include http://example.com/x.conf\n"},
			want:  "D/main.conf:1: @include http://example.com/x.conf: only local files can be included",
		},
		{
			name:  "directory",
			files: map[string]string{"main.conf": "@include sub\n", "sub/x": ""},
			want:  "D/main.conf:1: @include sub: not a regular file (a directory)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			_, err := ParseFile(filepath.Join(dir, "main.conf"))
			if err == nil {
				t.Fatal("ParseFile succeeded")
			}
			if got := strings.ReplaceAll(err.Error(), dir, "D"); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
