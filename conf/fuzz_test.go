package conf

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var errForm = regexp.MustCompile(`^f\.conf:[1-9][0-9]*: \S`)

// FuzzParse: any input either parses, and then renders back (String) to
// the same tree, or fails with Errors, each "f.conf:LINE: message" with a
// line in the file, at most maxErrors and the stop.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "k v\n", "<a>\n</a>\n", "<match a.** b>\n @type file\n <buffer tag,time>\n  timekey 1h\n </buffer>\n</match>\n",
		"k \"a\\tb\\\"c\\\n d #{ENV['HOME']}\"\n", "k 'x\\'y'\n", "k [\"a\", # c\n \"b\"]\n", "k {\"a\": {\"b\": [1]}}\n",
		"k \"#{x}\"\n", "</a>\n", "<a\n", "k \"abc", "flag\n", "a#b #c\n", "\"q k\" 'v'\n", "k \"\\q\"\n",
		"<a \"x>y\">\n</a>\n", "@include x.conf\n", "k [\"#{\"]\n", "k \"\xff\"\n",
		"k \"#{ENV['A'] || use_default}\"\nn \"#{use_nil}\"\nh \"#{Socket.gethostname}-#{worker_id}\"\n",
		"a \"#{`id`}\"\nb 'x\n<m y\n c \"\\q\"\n</m>\n</n>\n", "<a>\n<b>\n</a>\n", "\"#{use_nil}\" v\n",
	} {
		f.Add([]byte(s))
	}
	if data, err := os.ReadFile(filepath.Join("testdata", "fluentd.conf")); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := parse("f.conf", data, false)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 || len(errs) > maxErrors+1 {
				t.Fatalf("not 1 to %d Errors: %d %q", maxErrors+1, len(errs), err)
			}
			lines := strings.Count(string(data), "\n") + 1
			for _, e := range errs {
				pe, ok := e.(*Error)
				if !ok || !errForm.MatchString(e.Error()) {
					t.Fatalf("error not in FILE:LINE form: %q", e)
				}
				if pe.Line > lines {
					t.Fatalf("line %d past the end: %q", pe.Line, e)
				}
			}
			return
		}
		text := root.String()
		again, err := parse("f.conf", []byte(text), false)
		if err != nil {
			t.Fatalf("String() does not parse: %v\n%s", err, text)
		}
		if a, b := shape(again), shape(root); a != b {
			t.Fatalf("String() does not round-trip:\n%s\nvs\n%s\ntext:\n%s", a, b, text)
		}
	})
}

// FuzzDecode: decoding whatever parses never panics, and every problem is
// an *Error.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("<match a>\n bucket b\n port 1\n <buffer tag>\n  flush_mode x\n </buffer>\n <security>\n  <user>\n  </user>\n </security>\n</match>\n"))
	f.Add([]byte("<match>\n keys [1, \"a\"]\n tags {\"a\": null}\n small 99999999t\n <record>\n  a b\n </record>\n</match>\n"))
	f.Add([]byte("<m>\n <transport x>\n </transport>\n <transport>\n </transport>\n</m>\n"))
	f.Add([]byte("<match>\n bucket \"#{ENV['BARGE_FUZZ_UNSET'] || use_default}\"\n port \"#{ENV['BARGE_FUZZ_UNSET']}\"\n <record>\n  a \"#{use_nil}\"\n </record>\n</match>\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := parse("f.conf", data, false)
		if err != nil {
			return
		}
		for _, sec := range root.Sections {
			out := defaultOut()
			err := Decode(sec, &out)
			var errs Errors
			if err != nil && !errors.As(err, &errs) {
				t.Fatalf("not Errors: %v", err)
			}
			for _, e := range errs {
				if _, ok := e.(*Error); !ok || !errForm.MatchString(e.Error()) {
					t.Fatalf("bad error %q", e)
				}
			}
		}
	})
}

// FuzzValues: the value parsers never panic and never return negatives.
func FuzzValues(f *testing.F) {
	for _, s := range []string{"8m", "1g", "1024", "10s", "0.5", "1.5h", "500ms", "", "a,b", `["a"]`, `{"a":1}`, "a:b", "9999999999999999999t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseSize(s); err == nil && n < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
		if d, err := ParseDuration(s); err == nil && d < 0 {
			t.Fatalf("ParseDuration(%q) = %v", s, d)
		}
		_, _ = ParseBool(s)
		_, _ = ParseArray(s)
		_, _ = ParseHash(s)
		_ = SplitArg(s)
	})
}
