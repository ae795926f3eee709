package parse

import (
	"regexp"
	"time"
)

// nginxExpression is Fluentd's nginx pattern; its time_format is
// "%d/%b/%Y:%H:%M:%S %z".
const nginxExpression = `/^(?<remote>[^ ]*) (?<host>[^ ]*) (?<user>[^ ]*) \[(?<time>[^\]]*)\] "(?<method>\S+)(?: +(?<path>[^\"]*?)(?: +\S*)?)?" (?<code>[^ ]*) (?<size>[^ ]*)(?: "(?<referer>[^\"]*)" "(?<agent>[^\"]*)")?$/`

// regexpParser is @type regexp (and nginx, and multiline's records): the
// named groups that took part in the match are the record's string fields.
type regexpParser struct {
	b     base
	re    *regexp.Regexp
	names []namedGroup
}

type namedGroup struct {
	index int
	name  []byte
}

func newRegexp(b base, re *regexp.Regexp) *regexpParser {
	return &regexpParser{b: b, re: re, names: groups(re)}
}

// groups lists the named groups of re.
func groups(re *regexp.Regexp) []namedGroup {
	var out []namedGroup
	for i, n := range re.SubexpNames() {
		if n != "" {
			out = append(out, namedGroup{i, []byte(n)})
		}
	}
	return out
}

func (p *regexpParser) base() *base { return &p.b }

func (p *regexpParser) parse(dst, line []byte, now time.Time) ([]byte, bool) {
	m := p.re.FindSubmatchIndex(line)
	if m == nil {
		return dst, false
	}
	b := &p.b
	b.reset()
	for _, g := range p.names {
		if s := m[2*g.index]; s >= 0 {
			b.add(g.name, line[s:m[2*g.index+1]], kStr)
		}
	}
	return b.finish(dst, now)
}
