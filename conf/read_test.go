package conf

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestParseFileRefusesWhatIsNotAConfig(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.conf")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// A sparse file just over the limit: the size is refused before reading.
	if err := f.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	fifo := filepath.Join(dir, "fifo.conf")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	atLimit := filepath.Join(dir, "limit.conf")
	if err := os.WriteFile(atLimit, []byte("# a comment\n"+strings.Repeat(" ", MaxFileSize-12)), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.conf")
	small := filepath.Join(dir, "small.conf")
	if err := os.WriteFile(small, []byte("<system>\n</system>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(small, link); err != nil {
		t.Fatal(err)
	}
	includer := filepath.Join(dir, "includer.conf")
	if err := os.WriteFile(includer, []byte("a 1\n@include big.conf\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		path string
		want string // "" means parsed
	}{
		{dir, dir + ": not a regular file (a directory)"},
		{big, big + ": file of 16777217 bytes is larger than the limit of 16777216 bytes (16 MiB)"},
		// A FIFO would block a plain read forever; it is refused at once.
		{fifo, fifo + ": not a regular file (a named pipe)"},
		{includer, includer + ":2: @include big.conf: file of 16777217 bytes is larger than the limit"},
		{atLimit, ""},
		{link, ""},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			_, err := ParseFile(tc.path)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ParseFile: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("ParseFile(%s) = %v, want an error starting %q", tc.path, err, tc.want)
			}
		})
	}
}
