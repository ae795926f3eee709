package conf

import (
	"flag"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// dump renders a parsed tree with every element's position, one per line,
// and what embedded Ruby did to a value.
func dump(s *Section) string {
	var b strings.Builder
	var walk func(s *Section, ind string)
	walk = func(s *Section, ind string) {
		for _, p := range s.Params {
			fmt.Fprintf(&b, "%s%s=%q @%s:%d", ind, p.Key, p.Value, p.File, p.Line)
			if p.UseDefault {
				b.WriteString(" use_default")
			}
			if p.UseNil {
				b.WriteString(" use_nil")
			}
			if len(p.Unset) > 0 {
				fmt.Fprintf(&b, " unset=%s", strings.Join(p.Unset, ","))
			}
			if p.Raw != "" {
				fmt.Fprintf(&b, " raw=%s", p.Raw)
			}
			b.WriteString("\n")
		}
		for _, c := range s.Sections {
			fmt.Fprintf(&b, "%s<%s %q> @%s:%d\n", ind, c.Name, c.Arg, c.File, c.Line)
			walk(c, ind+"  ")
		}
	}
	walk(s, "")
	return b.String()
}
