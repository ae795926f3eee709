package route

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPatternMatch(t *testing.T) {
	// Fluentd's own examples (test/test_match.rb) and a few more.
	tests := []struct {
		pat, tag string
		want     bool
	}{
		{"a", "a", true},
		{"a.b", "a.b", true},
		{"a", "b", false},
		{"a.b", "aab", false},
		{"a*", "a", true},
		{"a*", "ab", true},
		{"a*", "abc", true},
		{"*a", "a", true},
		{"*a", "ba", true},
		{"*a", "cba", true},
		{"*a*", "a", true},
		{"*a*", "ba", true},
		{"*a*", "ac", true},
		{"*a*", "bac", true},
		{"a*", "a.b", false},
		{"a*", "ab.c", false},
		{"a*", "ba", false},
		{"*a", "ab", false},
		{"a.*", "a.b", true},
		{"a.*", "a.c", true},
		{"a.*", "ab", false},
		{"a.*", "a", false},
		{"a.*", "a.b.c", false},
		{"a.*.c", "a.b.c", true},
		{"a.*.c", "a.c.c", true},
		{"a.*.c", "a.c", false},
		{"a.**", "a", true},
		{"a.**", "ab", false},
		{"a.**", "abc", false},
		{"a.**", "a.b", true},
		{"a.**", "a.b.c", true},
		{"a.**", "ab.c", false},
		{"a.**", "ab.d.e", false},
		{"a**", "a", true},
		{"a**", "ab", true},
		{"a**", "abc", true},
		{"a**", "a.b", true},
		{"a**", "ab.c", true},
		{"a**", "ab.d.e", true},
		{"**.a", "a", true},
		{"**.a", "ba", false},
		{"**.a", "c.ba", false},
		{"**.a", "b.a", true},
		{"**.a", "cb.a", true},
		{"**.a", "d.e.a", true},
		{"**a", "a", true},
		{"**a", "ba", true},
		{"**a", "c.ba", true},
		{"**a", "b.a", true},
		{"**a", "cb.a", true},
		{"**a", "d.e.a", true},
		{"a.**.b", "a.b", true},
		{"a.**.b", "a.x.b", true},
		{"a.**.b", "a.x.y.b", true},
		{"a.**.b", "ab", false},
		{"a.**.b", "a.xb", false},
		{"a.{b,c}", "a.b", true},
		{"a.{b,c}", "a.c", true},
		{"a.{b,c}", "a.d", false},
		{"a.{b,c}.**", "a.b", true},
		{"a.{b,c}.**", "a.c", true},
		{"a.{b,c}.**", "a.d", false},
		{"a.{b,c}.**", "a.cd", false},
		{"a.{b.**,c}", "a.b", true},
		{"a.{b.**,c}", "a.b.c", true},
		{"a.{b.**,c}", "a.c", true},
		{"a.{b.**,c}", "a.c.d", false},
		{"{a,{b,c}.d}", "c.d", true},
		{"{a,{b,c}.d}", "a", true},
		{"{a,{b,c}.d}", "a.d", false},
		{"{,x.}y", "y", true},
		{"{,x.}y", "x.y", true},
		{"**", "", true},
		{"**", "any.thing", true},
		{"a b.*", "a", true},
		{"a b.*", "b.c", true},
		{"a b.*", "c", false},
		{"a.", "a", true}, // a trailing dot is dropped, as in Fluentd
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
		{"a-b,c}", "a-b,c}", true},
		{"app.?", "app.?", true},
		{"app.?", "app.x", false},
	}
	for _, tt := range tests {
		t.Run(tt.pat+"~"+tt.tag, func(t *testing.T) {
			p, err := Compile(tt.pat)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Match(tt.tag); got != tt.want {
				t.Errorf("Compile(%q).Match(%q) = %v, want %v", tt.pat, tt.tag, got, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	for _, pat := range []string{"", "  ", "a.{b,c", "{{a}"} {
		if _, err := Compile(pat); err == nil {
			t.Errorf("Compile(%q): no error", pat)
		}
	}
}

func FuzzPattern(f *testing.F) {
	f.Add("a.{b.**,c}", "a.b.c")
	f.Add("**.a", "d.e.a")
	f.Add("a.**.b *.c", "a.x.b")
	f.Add(`{a,\{}.*`, "{.x")
	f.Add("***.**..*", "....")
	f.Add("{a,b*}.c**", "bx.cd")
	f.Fuzz(func(t *testing.T, pat, tag string) {
		p, err := Compile(pat)
		if err != nil {
			return
		}
		got := p.Match(tag)
		_ = p.String()
		// Cross-check with RE2 when Fluentd's regexp needs no look-ahead
		// (RE2 works on runes: only ASCII patterns and valid UTF-8 tags).
		for i := range len(pat) {
			if pat[i] >= utf8.RuneSelf {
				return
			}
		}
		if !utf8.ValidString(tag) {
			return
		}
		var re strings.Builder
		re.WriteString(`(?s)\A(?:`)
		for i, f := range strings.Fields(pat) {
			if i > 0 {
				re.WriteString("|")
			}
			if f == "**" {
				re.WriteString(".*")
				continue
			}
			seq, _ := parseGlob(f)
			if !toRE2(&re, seq) {
				return
			}
		}
		re.WriteString(`)\z`)
		if want := regexp.MustCompile(re.String()).MatchString(tag); got != want {
			t.Fatalf("Compile(%q).Match(%q) = %v, regexp %s says %v", pat, tag, got, re.String(), want)
		}
	})
}

func toRE2(b *strings.Builder, seq []node) bool {
	b.WriteString("(?:")
	for _, n := range seq {
		switch n.kind {
		case nLit:
			b.WriteString(regexp.QuoteMeta(string([]byte{n.b})))
		case nPart:
			b.WriteString(`[^.]*`)
		case nAny:
			b.WriteString(`.*`)
		case nDeep:
			b.WriteString(`(?:.*\.|\A)`)
		case nDotOrEnd:
			return false
		case nAlternate:
			b.WriteString("(?:")
			for i, alt := range n.alts {
				if i > 0 {
					b.WriteString("|")
				}
				if !toRE2(b, alt) {
					return false
				}
			}
			b.WriteString(")")
		}
	}
	b.WriteString(")")
	return true
}
