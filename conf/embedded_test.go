package conf

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestEmbedded(t *testing.T) {
	t.Setenv("BARGE_T_SET", "v1")
	t.Setenv("BARGE_T_SET2", "v2")
	t.Setenv("BARGE_T_EMPTY", "")
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		code  string
		want  string
		use   use
		unset []string
	}{
		{`ENV['BARGE_T_SET']`, "v1", useValue, nil},
		{`ENV["BARGE_T_SET"]`, "v1", useValue, nil},
		{` ENV[ 'BARGE_T_SET' ] `, "v1", useValue, nil},
		{`ENV['BARGE_T_UNSET']`, "", useValue, []string{"BARGE_T_UNSET"}},
		{`ENV['BARGE_T_UNSET'] || 'd'`, "d", useValue, []string{"BARGE_T_UNSET"}},
		{`ENV['BARGE_T_UNSET']||"d"`, "d", useValue, []string{"BARGE_T_UNSET"}},
		// Ruby: a variable set to "" is not nil, so the fallback is not used.
		{`ENV['BARGE_T_EMPTY'] || 'd'`, "", useValue, nil},
		{`ENV['BARGE_T_SET'] || 'd'`, "v1", useValue, nil},
		{`ENV['BARGE_T_UNSET'] || ENV['BARGE_T_SET2'] || 'd'`, "v2", useValue, []string{"BARGE_T_UNSET"}},
		{`ENV['BARGE_T_UNSET'] || ENV['BARGE_T_UNSET2'] || 'd'`, "d", useValue, []string{"BARGE_T_UNSET", "BARGE_T_UNSET2"}},
		{`ENV['BARGE_T_UNSET'] || ENV['BARGE_T_UNSET']`, "", useValue, []string{"BARGE_T_UNSET"}},
		{`ENV['BARGE_T_SET'] || ENV['BARGE_T_UNSET']`, "v1", useValue, nil}, // short-circuit: not looked up
		{`ENV['BARGE_T_UNSET'] || 24224`, "24224", useValue, []string{"BARGE_T_UNSET"}},
		{`0`, "0", useValue, nil},
		{`ENV['BARGE_T_UNSET'] || use_default`, "", useDefault, []string{"BARGE_T_UNSET"}},
		{`ENV['BARGE_T_SET'] || use_default`, "v1", useValue, nil},
		{`ENV['BARGE_T_UNSET'] || use_nil`, "", useNil, []string{"BARGE_T_UNSET"}},
		{`use_default`, "", useDefault, nil},
		{`use_nil`, "", useNil, nil},
		{`use_default || 'never'`, "", useDefault, nil},
		{`Socket.gethostname`, host, useValue, nil},
		{`hostname`, host, useValue, nil},
		{`worker_id`, "0", useValue, nil},
		{`'it\'s \\ \n'`, `it's \ \n`, useValue, nil},
		{`"tab\there \"q\" \#{x} \s\0"`, "tab\there \"q\" #{x}  \x00", useValue, nil},
		{`'#{not interpolated}'`, "#{not interpolated}", useValue, nil},
		{`ENV['BARGE_T_UNSET'] || '}'`, "}", useValue, []string{"BARGE_T_UNSET"}},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			r, err := evalEmbedded(tt.code)
			if err != nil {
				t.Fatal(err)
			}
			if r.value != tt.want || r.use != tt.use || !reflect.DeepEqual(r.unset, tt.unset) {
				t.Errorf("got %q use %d unset %v, want %q use %d unset %v", r.value, r.use, r.unset, tt.want, tt.use, tt.unset)
			}
		})
	}
}

func TestEmbeddedRefused(t *testing.T) {
	tests := []struct{ code, why string }{
		{``, "no code"},
		{`  `, "no code"},
		{`ENV.fetch('X')`, `unexpected ".fetch('X')"`},
		{`ENV.fetch('X', 'd')`, `unexpected ".fetch('X', 'd')"`},
		{`ENV['X'].to_s`, `unexpected ".to_s"`},
		{`ENV ['X']`, `unexpected " ['X']"`},
		{`ENV[X]`, `unexpected "X]"`},
		{`ENV['X'`, `unexpected end after "ENV['X'"`},
		{`ENV['X'] ||`, `unexpected end after "ENV['X'] ||"`},
		{`ENV['X'] or 'd'`, `unexpected "or 'd'"`},
		{`ENV['X'] | 'd'`, `unexpected "| 'd'"`},
		{`ENV['X'] && 'd'`, `unexpected "&& 'd'"`},
		{"`hostname`", "unexpected \"`hostname`\""},
		{`Socket.gethostname.split('.')[0]`, `unexpected ".split('.')[0]"`},
		{`Socket.gethostname()`, `unexpected "()"`},
		{`Socket.gethostbyname`, `unexpected "Socket.gethostbyname"`},
		{`hostnames`, `unexpected "hostnames"`},
		{`use_default()`, `unexpected "()"`},
		{`File.read('/etc/passwd')`, `unexpected "File.read('/etc/passwd')"`},
		{`nil`, `unexpected "nil"`},
		{`0755`, `unexpected "0755"`},
		{`1.5`, `unexpected "1.5"`},
		{`'abc`, `unterminated string 'abc`},
		{`"a#{ENV['X']}"`, `interpolation in "a#{ENV['X']}"`},
		{`"a#@x"`, `interpolation in "a#@x"`},
		{`"\x41"`, `the escape \x in "\x41"`},
		{`"\012"`, `the escape \0 in "\012"`},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			_, err := evalEmbedded(tt.code)
			want := `embedded Ruby code "#{` + tt.code + `}" is not supported: ` + tt.why + "; " + embedSupported
			if err == nil || err.Error() != want {
				t.Errorf("got  %v\nwant %s", err, want)
			}
		})
	}
}

// FuzzEmbedded: any code either evaluates, with a use that is one of the
// three and unset names that are distinct, or is refused with a message
// that quotes it and lists the grammar. Evaluating never panics; so does
// scanning it inside a double-quoted value.
func FuzzEmbedded(f *testing.F) {
	for _, s := range []string{
		`ENV['HOME']`, `ENV["HOME"]`, `ENV['BARGE_FUZZ_UNSET'] || 'd'`, `ENV['A'] || ENV['B'] || "d"`,
		`ENV['X'] || use_default`, `use_nil`, `Socket.gethostname`, `hostname`, `worker_id`, `24224`,
		`'a\'b'`, `"a\"b\n"`, `"#{x}"`, `ENV.fetch('X')`, "`id`", `ENV['X'`, `"\`, `'`, `ENV[`, `||`,
		` ENV[ 'X' ]||'}' `, `0`, `00`, `"\0`, `"\07"`, `Socket.`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		r, err := evalEmbedded(code)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, `embedded Ruby code "#{`+code+`}"`) {
				t.Fatalf("refusal does not quote the code: %q", msg)
			}
			if !strings.HasSuffix(msg, embedSupported) && !strings.Contains(msg, "hostname") {
				t.Fatalf("refusal does not list the grammar: %q", msg)
			}
			return
		}
		if r.use < useValue || r.use > useNil || r.use != useValue && r.value != "" {
			t.Fatalf("use %d with value %q", r.use, r.value)
		}
		seen := map[string]bool{}
		for _, name := range r.unset {
			if seen[name] {
				t.Fatalf("unset %v repeats %q", r.unset, name)
			}
			seen[name] = true
			if _, ok := os.LookupEnv(name); ok {
				t.Fatalf("%q is set but listed as unset", name)
			}
		}
		// The same code inside a value parses, or fails in FILE:LINE form.
		if strings.ContainsAny(code, "\n\"\\") {
			return
		}
		if _, err := parse("f.conf", []byte("k \"#{"+code+"}\"\n"), false); err != nil && !errForm.MatchString(err.Error()) {
			t.Fatalf("error not in FILE:LINE form: %q", err)
		}
	})
}
