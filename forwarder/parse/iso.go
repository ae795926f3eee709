package parse

import "time"

// parseISO reads an ISO 8601 time: YYYY-MM-DD, then optionally T (or, when
// not strict, a space or a slash-separated date) and hh:mm[:ss[.frac]],
// then optionally a zone (Z, +hh:mm, +hhmm; not strict: also UTC, GMT and
// abbreviations, after white space). Strict is Ruby's Time.iso8601.
func parseISO(v []byte, loc *time.Location, strict bool) (sec, nsec int64, fracLo, fracHi int, ok bool) {
	lead := 0
	for lead < len(v) && isSpace(v[lead]) {
		lead++
	}
	v = trimSpace(v)
	var t tm
	i := 0
	neg := false
	if i < len(v) && v[i] == '-' {
		neg, i = true, i+1
	}
	start := i
	if t.year, i, ok = digits(v, i, 9); !ok || i-start < 4 {
		return 0, 0, 0, 0, false
	}
	if neg {
		t.year = -t.year
	}
	sep := byte('-')
	if i < len(v) && v[i] == '/' && !strict {
		sep = '/'
	}
	width := 2 // strict: two digits; else one or two
	if !strict {
		width = 1
	}
	if t.mon, i, ok = field2(v, i, sep, width); !ok {
		return 0, 0, 0, 0, false
	}
	if t.mday, i, ok = field2(v, i, sep, width); !ok {
		return 0, 0, 0, 0, false
	}
	if t.mon < 1 || t.mon > 12 || t.mday < 1 || t.mday > 31 {
		return 0, 0, 0, 0, false
	}
	if i < len(v) && (v[i] == 'T' || v[i] == 't' || !strict && v[i] == ' ') {
		if t.hour, i, ok = field2(v, i, v[i], width); !ok {
			return 0, 0, 0, 0, false
		}
		if t.min, i, ok = field2(v, i, ':', 2); !ok {
			return 0, 0, 0, 0, false
		}
		if j, k := i, 0; j < len(v) && v[j] == ':' {
			if t.sec, k, ok = field2(v, j, ':', 2); !ok {
				return 0, 0, 0, 0, false
			}
			i = k
			if i+1 < len(v) && (v[i] == '.' || v[i] == ',') && isDigit(v[i+1]) {
				i++
				fracLo = i + lead
				n := 0
				for i < len(v) && isDigit(v[i]) {
					if n < 9 {
						t.nsec = t.nsec*10 + int(v[i]-'0')
						n++
					}
					i++
				}
				for ; n < 9; n++ {
					t.nsec *= 10
				}
				fracHi = i + lead
			}
		} else if strict {
			return 0, 0, 0, 0, false
		}
		if t.hour > 24 || t.min > 59 || t.sec > 60 {
			return 0, 0, 0, 0, false
		}
		j := i
		if !strict {
			for j < len(v) && v[j] == ' ' {
				j++
			}
		}
		if j < len(v) {
			var ok bool
			if strict && v[j] != 'Z' && v[j] != '+' && v[j] != '-' {
				return 0, 0, 0, 0, false
			}
			if t.off, j, ok = zone(v, j); !ok {
				return 0, 0, 0, 0, false
			}
			t.set |= hasOff
			i = j
		}
	}
	if i != len(v) {
		return 0, 0, 0, 0, false
	}
	t.set |= hasYear | hasMon | hasMday | hasHour | hasMin | hasSec
	sec, nsec, ok = t.unix(loc, time.Time{})
	return sec, nsec, fracLo, fracHi, ok
}

// lenientFormats are tried, after ISO 8601, for a time without a
// time_format: the common forms Ruby's Time.parse reads.
var lenientFormats = func() []*strptime {
	var out []*strptime
	for _, f := range []string{
		"%d/%b/%Y:%H:%M:%S %z",     // common log format
		"%a, %d %b %Y %H:%M:%S %z", // RFC 2822
		"%d %b %Y %H:%M:%S %z",
		"%a %b %d %H:%M:%S %Z %Y", // date(1)
		"%a %b %d %H:%M:%S %Y",    // ctime
		"%a %b %d %H:%M:%S.%N %Y",
		"%b %d %Y %H:%M:%S",
		"%b %d %H:%M:%S.%N", // syslog
		"%b %d %H:%M:%S",
		"%Y%m%dT%H%M%S%z",
		"%Y%m%dT%H%M%S",
		"%Y-%m-%d",
		"%H:%M:%S",
	} {
		st, err := compileStrptime(f)
		if err != nil {
			panic(err)
		}
		out = append(out, st)
	}
	return out
}()

// parseLenient reads a time without a format: ISO 8601 and the
// lenientFormats, each of which must take the whole value. fixed is false
// when the time depends on now (a form without a year).
func parseLenient(v []byte, loc *time.Location, now time.Time) (sec, nsec int64, fixed, ok bool) {
	if sec, nsec, _, _, ok = parseISO(v, loc, false); ok {
		return sec, nsec, true, ok
	}
	v = trimSpace(v)
	for _, st := range lenientFormats {
		if t, ok := st.parse(v, true); ok {
			sec, nsec, ok = t.unix(loc, now)
			return sec, nsec, !st.nowDep, ok
		}
	}
	return 0, 0, false, false
}

// field2 reads a separator then a number of minDigits to 2 digits.
func field2(v []byte, i int, sep byte, minDigits int) (int, int, bool) {
	if i >= len(v) || v[i] != sep {
		return 0, i, false
	}
	n, j, ok := digits(v, i+1, 2)
	if !ok || j-i-1 < minDigits {
		return 0, i, false
	}
	return n, j, true
}
