package parse

import (
	"regexp"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// apache2Regexp is Fluentd's apache2 pattern (its time format is fixed:
// "%d/%b/%Y:%H:%M:%S %z").
var apache2Regexp = regexp.MustCompile(`(?m)^(?P<host>[^ ]*) [^ ]* (?P<user>[^ ]*) \[(?P<time>[^\]]*)\] "(?P<method>\S+)(?: +(?P<path>(?:[^\"]|\\.)*?)(?: +\S*)?)?" (?P<code>[^ ]*) (?P<size>[^ ]*)(?: "(?P<referer>(?:[^\"]|\\.)*)" "(?P<agent>(?:[^\"]|\\.)*)")?$`)

// apache2Parser is @type apache2: host, user, method, path, code and size
// (integers), referer and agent; "-" is nil.
type apache2Parser struct {
	b   base
	idx map[string]int
	tp  *TimeParser
}

func newApache2(b base) *apache2Parser {
	p := &apache2Parser{b: b, idx: map[string]int{}}
	for i, n := range apache2Regexp.SubexpNames() {
		p.idx[n] = i
	}
	p.tp, _ = newTimeParser("string", "%d/%b/%Y:%H:%M:%S %z", nil)
	return p
}

func (p *apache2Parser) base() *base { return &p.b }

var apache2Keys = [...]string{"host", "user", "method", "path", "code", "size", "referer", "agent", "time"}

var apache2KeyBytes = func() (out [len(apache2Keys)][]byte) {
	for i, k := range apache2Keys {
		out[i] = []byte(k)
	}
	return out
}()

func (p *apache2Parser) parse(dst, line []byte, now time.Time) ([]byte, bool) {
	m := apache2Regexp.FindSubmatchIndex(line)
	if m == nil {
		return dst, false
	}
	group := func(name string) ([]byte, bool) {
		i := p.idx[name]
		if m[2*i] < 0 {
			return nil, false
		}
		return line[m[2*i]:m[2*i+1]], true
	}
	tv, _ := group("time")
	sec, nsec, ok := p.tp.parse(timeValue{b: tv}, p.b.loc, now)
	if !ok {
		return dst, false
	}
	b := &p.b
	b.reset()
	for ki, key := range apache2Keys[:8] {
		kb := apache2KeyBytes[ki]
		v, ok := group(key)
		switch {
		case !ok || (string(v) == "-" && key != "method" && key != "path"):
			b.add(kb, nil, kNil)
		case key == "code" || key == "size":
			n, _, _ := rubyToI(v)
			if key == "code" && n == 0 {
				b.add(kb, nil, kNil)
				continue
			}
			start := len(b.scratch)
			b.scratch = msgp.AppendInt64(b.scratch, n)
			b.add(kb, b.scratch[start:], kRaw)
		default:
			b.add(kb, v, kStr)
		}
	}
	if b.k.s.keepTime {
		b.add(apache2KeyBytes[8], tv, kStr)
	}
	return b.finishAt(dst, sec, nsec, now), true
}
