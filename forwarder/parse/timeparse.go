package parse

import (
	"math"
	"strconv"
	"time"
)

// TimeParser reads an event time from a field, as Fluentd's time_type:
// string (a strptime format, %iso8601, or a lenient parse without a
// format), unixtime, float, or mixed (a list of those tried in turn).
// It remembers the last string it parsed, as Fluentd's cache does, so it
// is not safe for concurrent use. NewTimeParser makes one for other
// inputs (see timeconfig.go).
type TimeParser struct {
	typ       string // string, unixtime, float, mixed
	st        *strptime
	iso       bool // %iso8601
	fallbacks []*TimeParser

	loc *time.Location // TimeConfig.Location, for ParseString and ParseValue
	num []byte         // scratch: the text of a msgpack number

	// the last string parsed and its time; the span of its fraction's
	// digits, so that a string differing only there is parsed in no time.
	lastKey           []byte
	lastSec, lastNsec int64
	lastLoc           *time.Location
	fracLo, fracHi    int
	cached            bool
}

func newTimeParser(typ, format string, fallbacks []string) (*TimeParser, error) {
	tp := &TimeParser{typ: typ}
	switch typ {
	case "unixtime", "float":
		return tp, nil
	case "mixed":
		list := fallbacks
		if format != "" {
			list = append([]string{format}, fallbacks...)
		}
		for _, f := range list {
			sub := &TimeParser{typ: "string"}
			switch f {
			case "unixtime", "float":
				sub.typ = f
			default:
				var err error
				if sub, err = newTimeParser("string", f, nil); err != nil {
					return nil, err
				}
			}
			tp.fallbacks = append(tp.fallbacks, sub)
		}
		return tp, nil
	}
	switch format {
	case "":
	case "%iso8601":
		tp.iso = true
	default:
		st, err := compileStrptime(format)
		if err != nil {
			return nil, err
		}
		tp.st = st
	}
	return tp, nil
}

// value is a field value the time is read from: a string, or a number
// given by its JSON text.
type timeValue struct {
	b       []byte
	number  bool // b is the text of a JSON number
	invalid bool // neither a string nor a number (nil, bool, map, array)
}

// parse returns the time of v; ok is false when v is not a time.
func (tp *TimeParser) parse(v timeValue, loc *time.Location, now time.Time) (sec, nsec int64, ok bool) {
	if v.invalid {
		return 0, 0, false
	}
	switch tp.typ {
	case "unixtime":
		if v.number {
			f, err := strconv.ParseFloat(string(v.b), 64)
			if err != nil || math.IsInf(f, 0) || math.Abs(f) > 1<<62 {
				return 0, 0, false
			}
			return checkRange(int64(f), 0)
		}
		n, _, ok := rubyToI(v.b)
		if !ok {
			return 0, 0, false
		}
		return checkRange(n, 0)
	case "float":
		return parseFloatTime(v)
	case "mixed":
		for _, f := range tp.fallbacks {
			if f.typ != "string" && !v.number {
				if _, err := strconv.ParseFloat(string(trimSpace(v.b)), 64); err != nil {
					continue
				}
			}
			if sec, nsec, ok = f.parse(v, loc, now); ok {
				return sec, nsec, ok
			}
		}
		return 0, 0, false
	}
	if v.number { // time_type string takes strings only
		return 0, 0, false
	}
	if sec, nsec, ok = tp.fromCache(v.b, loc); ok {
		return sec, nsec, true
	}
	var lo, hi int
	cache := tp.st == nil || !tp.st.nowDep
	switch {
	case tp.iso:
		sec, nsec, lo, hi, ok = parseISO(v.b, loc, true)
	case tp.st != nil:
		var t tm
		if t, ok = tp.st.parse(v.b, false); ok {
			sec, nsec, ok = t.unix(loc, now)
			lo, hi = t.fracLo, t.fracHi
		}
	default:
		sec, nsec, cache, ok = parseLenient(v.b, loc, now)
	}
	if !ok {
		return 0, 0, false
	}
	if sec, nsec, ok = checkRange(sec, nsec); ok && cache {
		tp.lastKey = append(tp.lastKey[:0], v.b...)
		tp.lastSec, tp.lastNsec, tp.lastLoc, tp.cached = sec, nsec, loc, true
		tp.fracLo, tp.fracHi = lo, hi
	}
	return sec, nsec, ok
}

// fromCache returns the time of v when it is the last string parsed, or
// differs from it only in the digits of the fraction.
func (tp *TimeParser) fromCache(v []byte, loc *time.Location) (sec, nsec int64, ok bool) {
	last := tp.lastKey
	if !tp.cached || tp.lastLoc != loc || len(v) != len(last) {
		return 0, 0, false
	}
	lo, hi := tp.fracLo, tp.fracHi
	if string(v[:lo]) != string(last[:lo]) || string(v[hi:]) != string(last[hi:]) {
		return 0, 0, false
	}
	if string(v[lo:hi]) == string(last[lo:hi]) {
		return tp.lastSec, tp.lastNsec, true
	}
	n := int64(0)
	for k, c := range v[lo:hi] {
		if !isDigit(c) {
			return 0, 0, false
		}
		if k < 9 {
			n = n*10 + int64(c-'0')
		}
	}
	for k := hi - lo; k < 9; k++ {
		n *= 10
	}
	copy(tp.lastKey[lo:hi], v[lo:hi])
	tp.lastNsec = n
	return tp.lastSec, n, true
}

// checkRange refuses times an EventTime cannot hold (before 1970, after
// 2106).
func checkRange(sec, nsec int64) (int64, int64, bool) {
	if sec < 0 || sec > math.MaxUint32 {
		return 0, 0, false
	}
	return sec, nsec, true
}

// parseFloatTime reads seconds with a fraction as Fluentd's float time
// type: the integer part, then up to 9 digits of the fraction.
func parseFloatTime(v timeValue) (sec, nsec int64, ok bool) {
	b := v.b
	if v.number {
		for _, c := range b {
			if c == 'e' || c == 'E' {
				f, err := strconv.ParseFloat(string(b), 64)
				if err != nil || f < 0 || f > math.MaxUint32 {
					return 0, 0, false
				}
				s := math.Floor(f)
				return checkRange(int64(s), int64(math.Round((f-s)*1e9))%1e9)
			}
		}
	}
	sec, rest, ok := rubyToI(b)
	if !ok {
		return 0, 0, false
	}
	if len(rest) > 0 && rest[0] == '.' {
		n := 0
		for _, c := range rest[1:] {
			if c < '0' || c > '9' || n == 9 {
				break
			}
			nsec = nsec*10 + int64(c-'0')
			n++
		}
		for ; n < 9 && n > 0; n++ {
			nsec *= 10
		}
	}
	return checkRange(sec, nsec)
}

// rubyToI reads an integer as Ruby's String#to_i: leading white space, a
// sign, digits with single underscores between them; it stops at the first
// other byte and returns the rest. A value without digits is 0. ok is false
// on overflow.
func rubyToI(b []byte) (n int64, rest []byte, ok bool) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	for i < len(b) {
		c := b[i]
		if c == '_' && i+1 < len(b) && isDigit(b[i+1]) && i > 0 && isDigit(b[i-1]) {
			i++
			continue
		}
		if !isDigit(c) {
			break
		}
		if n > (math.MaxInt64-9)/10 {
			return 0, nil, false
		}
		n = n*10 + int64(c-'0')
		i++
	}
	if neg {
		n = -n
	}
	return n, b[i:], true
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
