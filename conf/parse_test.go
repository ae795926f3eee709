package conf

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParseSyntax(t *testing.T) {
	t.Setenv("BARGE_TEST_ENV", "s3cr\"t")
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"blank and comments", "\n  # c\n\t\n#x\n", ""},
		{"param", "key value\n", "key=\"value\" @t.conf:1\n"},
		{"no trailing newline", "key value", "key=\"value\" @t.conf:1\n"},
		{"byte order mark", "\xef\xbb\xbfk v\n", "k=\"v\" @t.conf:1\n"},
		{"crlf", "a 1\r\nb 2\r\n", "a=\"1\" @t.conf:1\nb=\"2\" @t.conf:2\n"},
		{"value is rest of line", "k a b  c  \n", "k=\"a b  c\" @t.conf:1\n"},
		{"comment after value", "k a b # note\n", "k=\"a b\" @t.conf:1\n"},
		{"tab before comment", "k a\t# note\n", "k=\"a\" @t.conf:1\n"},
		{"hash inside value", "k a#b\n", "k=\"a#b\" @t.conf:1\n"},
		{"hash starts value", "k #b\n", "k=\"#b\" @t.conf:1\n"},
		{"key alone", "flag\nnext 1\n", "flag=\"\" @t.conf:1\nnext=\"1\" @t.conf:2\n"},
		{"key alone at eof", "flag", "flag=\"\" @t.conf:1\n"},
		{"key with blanks only", "flag   \n", "flag=\"\" @t.conf:1\n"},
		{"key with hash", "a#b 1\n", "a#b=\"1\" @t.conf:1\n"},
		{"quoted key", "\"a b\" 1\n", "a b=\"1\" @t.conf:1\n"},
		{"double quoted", `k "a \"b\" \\ \t\n\r\f\b \# \$ \' \0x"` + "\n", "k=\"a \\\"b\\\" \\\\ \\t\\n\\r\\f\\b # $ ' \\x00x\" @t.conf:1\n"},
		{"double quoted keeps spaces and hash", `k "  a # b  " # c` + "\n", "k=\"  a # b  \" @t.conf:1\n"},
		{"double quoted multi-line", "k \"a\nb\"\nz 1\n", "k=\"a\\nb\" @t.conf:1\nz=\"1\" @t.conf:3\n"},
		{"line continuation", "k \"a\\\n  b\"\n", "k=\"a  b\" @t.conf:1\n"},
		{"empty double quoted", "k \"\"\n", "k=\"\" @t.conf:1\n"},
		{"single quoted literal", `k 'a \n \' \\ "x" #{y}'` + "\n", "k=\"a \\\\n ' \\\\ \\\"x\\\" #{y}\" @t.conf:1\n"},
		{"env single", `k "x-#{ENV['BARGE_TEST_ENV']}-y"` + "\n", "k=\"x-s3cr\\\"t-y\" @t.conf:1 raw=\"x-#{ENV['BARGE_TEST_ENV']}-y\"\n"},
		{"env double", `k "#{ENV["BARGE_TEST_ENV"]}"` + "\n", "k=\"s3cr\\\"t\" @t.conf:1 raw=\"#{ENV[\"BARGE_TEST_ENV\"]}\"\n"},
		{"env spaced", `k "#{ ENV[ 'BARGE_TEST_ENV' ] }"` + "\n", "k=\"s3cr\\\"t\" @t.conf:1 raw=\"#{ ENV[ 'BARGE_TEST_ENV' ] }\"\n"},
		{"env unset is empty", `k "a#{ENV['BARGE_TEST_UNSET_XYZ']}b"` + "\n", "k=\"ab\" @t.conf:1 unset=BARGE_TEST_UNSET_XYZ raw=\"a#{ENV['BARGE_TEST_UNSET_XYZ']}b\"\n"},
		{"use_default", `k "#{ENV['BARGE_TEST_UNSET_XYZ'] || use_default}" # c` + "\n", "k=\"\" @t.conf:1 use_default unset=BARGE_TEST_UNSET_XYZ raw=\"#{ENV['BARGE_TEST_UNSET_XYZ'] || use_default}\"\n"},
		{"use_nil beats use_default", `k "a#{use_default}b#{use_nil}"` + "\n", "k=\"\" @t.conf:1 use_nil raw=\"a#{use_default}b#{use_nil}\"\n"},
		{"env in bare value is literal", "k #{ENV['BARGE_TEST_ENV']}\n", "k=\"#{ENV['BARGE_TEST_ENV']}\" @t.conf:1\n"},
		{"escaped embed", `k "\#{x}"` + "\n", "k=\"#{x}\" @t.conf:1\n"},
		{"json array", "k [\"a\", \"b]\" ,1]\n", "k=\"[\\\"a\\\",\\\"b]\\\",1]\" @t.conf:1\n"},
		{"json array multi-line with comments", "k [\"a\", # one\n  \"b#c\" # two\n]\nz 1\n", "k=\"[\\\"a\\\",\\\"b#c\\\"]\" @t.conf:1\nz=\"1\" @t.conf:4\n"},
		{"json hash multi-line", "k {\n  \"a\": \"}\",\n  \"b\": [1, 2]\n} # end\n", "k=\"{\\\"a\\\":\\\"}\\\",\\\"b\\\":[1,2]}\" @t.conf:1\n"},
		{"section", "<source>\n  @type forward\n</source>\n", "<source \"\"> @t.conf:1\n  @type=\"forward\" @t.conf:2\n"},
		{"section arg", "<match  a.** {b,c}.*  >\n</match>\n", "<match \"a.** {b,c}.*\"> @t.conf:1\n"},
		{"section quoted arg", "<match \"a b\">\n</match>\n", "<match \"a b\"> @t.conf:1\n"},
		{"section comments", "<match a> # c\n</match> # d\n", "<match \"a\"> @t.conf:1\n"},
		{"nested", "<match a>\n <buffer tag,time>\n  <x>\n   k v\n  </x>\n </buffer>\n p 1\n</match>\n",
			"<match \"a\"> @t.conf:1\n  p=\"1\" @t.conf:7\n  <buffer \"tag,time\"> @t.conf:2\n    <x \"\"> @t.conf:3\n      k=\"v\" @t.conf:4\n"},
		{"order kept", "a 1\n<s>\n</s>\nb 2\n<s>\n</s>\n", "a=\"1\" @t.conf:1\nb=\"2\" @t.conf:4\n<s \"\"> @t.conf:2\n<s \"\"> @t.conf:5\n"},
		{"repeated keys kept", "a 1\na 2\n", "a=\"1\" @t.conf:1\na=\"2\" @t.conf:2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, err := Parse("t.conf", []byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := dump(root); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"unterminated section", "a 1\n<match x>\n k v\n", []string{"t.conf:2: <match x> is not closed: expected </match> before end of file"}},
		{"unterminated nested", "<match x>\n<buffer>\n</match>\n", []string{"t.conf:3: </match> does not close <buffer> (opened at line 2)"}},
		{"unterminated nested twice", "<a>\n<b>\n", []string{"t.conf:2: <b> is not closed: expected </b> before end of file", "t.conf:1: <a> is not closed: expected </a> before end of file"}},
		{"mismatched end", "<match x>\n</source>\n", []string{"t.conf:2: </source> does not close <match x> (opened at line 1)"}},
		{"stray end", "a 1\n</match>\n", []string{"t.conf:2: </match> without an opening <match>"}},
		{"no section name", "< x>\n", []string{"t.conf:1: expected a section name after '<'"}},
		{"no closing bracket", "<match x\n</match>\n", []string{"t.conf:1: expected '>' to end <match"}},
		{"junk after section", "<match x> y\n</match>\n", []string{"t.conf:1: expected end of line after <match>"}},
		{"junk after end tag", "<a>\n</a> b\n", []string{"t.conf:2: expected end of line after </a>"}},
		{"end tag without bracket", "<a>\n</a\n", []string{"t.conf:2: expected '>' after </a"}},
		{"unterminated double", "a 1\nk \"abc\n\n", []string{"t.conf:2: unterminated double-quoted string"}},
		{"unterminated single", "k 'abc\nz'\n", []string{"t.conf:1: unterminated single-quoted string"}},
		{"junk after quoted", "k \"a\" b\n", []string{"t.conf:1: expected end of line after the value of 'k'"}},
		{"bad escape", "a 1\nk \"\\q\"\n", []string{"t.conf:2: unexpected back-slash escape character 'q'"}},
		{"unterminated array", "k [\"a\",\n\"b\"\n", []string{"t.conf:1: unterminated JSON array: expected a closing ']'"}},
		{"unterminated hash", "\nk {\"a\": 1\n", []string{"t.conf:2: unterminated JSON hash: expected a closing '}'"}},
		{"invalid array", "k [a, b]\n", []string{"t.conf:1: invalid JSON array: invalid character 'a' looking for beginning of value"}},
		{"junk after array", "k [1] 2\n", []string{"t.conf:1: expected end of line after the value of 'k'"}},
		{"ruby code", "a 1\nk \"#{File.read('/etc/passwd')}\"\n", []string{"t.conf:2: embedded Ruby code \"#{File.read('/etc/passwd')}\" is not supported: unexpected \"File.read('/etc/passwd')\"; " + embedSupported}},
		{"ruby env fetch", "k \"#{ENV.fetch('X')}\"\n", []string{"t.conf:1: embedded Ruby code \"#{ENV.fetch('X')}\" is not supported: unexpected \".fetch('X')\"; " + embedSupported}},
		{"unterminated embed", "k \"#{ENV['X']\"\n", []string{"t.conf:1: unterminated embedded code \"#{\""}},
		{"use_default in a key", "\"#{use_default}\" v\n", []string{"t.conf:1: use_default and use_nil are taken only in a parameter's value, not in its key"}},
		{"use_nil in a section argument", "<match \"#{use_nil}\">\n</match>\n", []string{"t.conf:1: use_default and use_nil are taken only in a parameter's value, not in <match ARG>"}},
		{"too deep", strings.Repeat("<a>\n", 100), []string{"t.conf:66: sections and includes nested deeper than 64 levels"}},

		// After a problem the parse goes on, and lines stay right.
		{"every problem of a file", "a \"#{`id`}\"\nb 'x\n<match y\n  c \"\\q\"\n  d [1,\n     2,,]\n  e \"multi\n line\" junk\n  f ok\n</match>\ng \"#{Socket.gethostname.chomp}\"\n",
			[]string{
				"t.conf:1: embedded Ruby code \"#{`id`}\" is not supported: unexpected \"`id`\"; " + embedSupported,
				"t.conf:2: unterminated single-quoted string",
				"t.conf:3: expected '>' to end <match",
				"t.conf:4: unexpected back-slash escape character 'q'",
				"t.conf:5: invalid JSON array: invalid character ',' looking for beginning of value",
				"t.conf:8: expected end of line after the value of 'e'",
				"t.conf:11: embedded Ruby code \"#{Socket.gethostname.chomp}\" is not supported: unexpected \".chomp\"; " + embedSupported,
			}},
		{"two refusals in one string", "k \"#{a}-#{b}\"\nz \"\\q\"\n", []string{
			"t.conf:1: embedded Ruby code \"#{a}\" is not supported: unexpected \"a\"; " + embedSupported,
			"t.conf:1: embedded Ruby code \"#{b}\" is not supported: unexpected \"b\"; " + embedSupported,
			"t.conf:2: unexpected back-slash escape character 'q'",
		}},
		{"refusal on a continued line", "k \"a\\\n  #{x}\n  b\"\nz \"\\q\"\n", []string{
			"t.conf:2: embedded Ruby code \"#{x}\" is not supported: unexpected \"x\"; " + embedSupported,
			"t.conf:4: unexpected back-slash escape character 'q'",
		}},
		{"unterminated embed goes on at the next line", "k \"a\n#{ENV['X'\nz \"\\q\"\n", []string{
			"t.conf:2: unterminated embedded code \"#{\"",
			"t.conf:3: unexpected back-slash escape character 'q'",
		}},
		{"end tag of an enclosing section", "<a>\n<b>\n</a>\nk \"\\q\"\n", []string{
			"t.conf:3: </a> does not close <b> (opened at line 2)",
			"t.conf:4: unexpected back-slash escape character 'q'",
		}},
		{"mistyped end tag closes its section", "<match x>\n</mach>\n</match>\n", []string{
			"t.conf:2: </mach> does not close <match x> (opened at line 1)",
			"t.conf:3: </match> without an opening <match>",
		}},
		{"too many errors", strings.Repeat("k \"\\q\"\n", 150), tooMany()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.conf", []byte(tt.in))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want Errors", err)
			}
			var got []string
			for _, e := range errs {
				if _, ok := e.(*Error); !ok {
					t.Errorf("%T is not *Error", e)
				}
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// tooMany is what 150 bad lines give: the first maxErrors problems, then
// the stop.
func tooMany() []string {
	var out []string
	for i := 1; i <= maxErrors; i++ {
		out = append(out, fmt.Sprintf("t.conf:%d: unexpected back-slash escape character 'q'", i))
	}
	return append(out, fmt.Sprintf("t.conf:%d: too many errors, stopping", maxErrors))
}

func TestParseFileMissing(t *testing.T) {
	_, err := ParseFile("testdata/does-not-exist.conf")
	if err == nil || !strings.HasPrefix(err.Error(), "testdata/does-not-exist.conf: ") {
		t.Fatalf("got %v", err)
	}
}

func TestSectionHelpers(t *testing.T) {
	root, err := Parse("t.conf", []byte("<match a b>\n  type file\n  k 1\n  k 2\n  <buffer>\n  </buffer>\n  <x>\n  </x>\n  <buffer t>\n  </buffer>\n</match>\n<source>\n  @type forward\n  type ignored\n</source>\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, src := root.Sections[0], root.Sections[1]
	if got := m.Type(); got != "file" {
		t.Errorf("legacy type: got %q", got)
	}
	if got := src.Type(); got != "forward" {
		t.Errorf("@type: got %q", got)
	}
	if got := m.Get("k"); got != "2" {
		t.Errorf("Get: last wins, got %q", got)
	}
	if m.Get("nope") != "" || m.Param("nope") != nil || m.Has("nope") || !m.Has("k") {
		t.Error("absent key")
	}
	if got := m.Children("buffer"); len(got) != 2 || got[1].Arg != "t" {
		t.Errorf("Children: %v", got)
	}
	if got := m.Label(); got != "<match a b>" {
		t.Errorf("Label: %q", got)
	}
	if got := m.Sections[0].Label(); got != "<buffer>" {
		t.Errorf("Label: %q", got)
	}
	var nilSec *Section
	if e := Errorf(nilSec, "x %d", 1); e.Error() != "x 1" {
		t.Errorf("nil section: %q", e)
	}
	if e := ParamErrorf(m.Param("k"), "bad"); e.Error() != "t.conf:4: bad" {
		t.Errorf("ParamErrorf: %q", e)
	}
	if e := Errorf(root, "empty"); e.Error() != "t.conf: empty" {
		t.Errorf("root: %q", e)
	}
}
