package parse

import (
	"fmt"
	"strings"
)

// strptime is a time format compiled once, read the way Ruby's
// Time.strptime reads it (Date._strptime's directives):
//
//	%Y year (4 digits when a number follows, else any, with a sign)
//	%C century, %y two-digit year (69-99: 19xx, 00-68: 20xx)
//	%m month, %d %e day (a leading space allowed), %j day of the year
//	%H %k hour, %I %l 12-hour with %p or %P (AM, PM, a.m., p.m.)
//	%M minute, %S second (60 allowed, as a leap second)
//	%L %N fraction of a second: all the digits (or %3N: 3), not only 3 or 9
//	%b %h %B month name, %a %A weekday name (checked, then ignored)
//	%u %w %U %W %V %G %g weekday and week numbers (read, then ignored)
//	%z %Z zone: Z, UTC, GMT, +09, +0900, +09:00, +09:00:00, GMT+9, and
//	      common abbreviations (EST, PDT, CET, JST...)
//	%s seconds since the epoch, %Q milliseconds since the epoch
//	%T %X %R %r %D %x %F %c %v %+ their expansions; %n %t white space; %%
//
// Flags (%-d, %_m, %0H, %^b, %#p) are accepted and ignored; a width
// (%3N, %4Y) bounds the digits read. White space in the format matches any
// white space in the value, none included. Text left after the format is
// ignored, as Ruby does. Components before the first one the format has
// come from the current time (a format without a year takes this year),
// those after it are their minimum (a format without seconds is at :00).
type strptime struct {
	ops []stOp
	// zoned: the value carries its zone or an absolute time (%z, %Z, %s,
	// %Q), so the configured zone does not apply.
	zoned bool
	// nowDep: the result depends on the current time (no year, no %s).
	nowDep bool
}

type stOp struct {
	kind  uint8 // opLit, opSpace, opDir
	dir   byte
	width int
	lit   string
}

const (
	opLit = iota
	opSpace
	opDir
)

// composite directives and their expansions.
var stExpand = map[byte]string{
	'T': "%H:%M:%S", 'X': "%H:%M:%S", 'R': "%H:%M", 'r': "%I:%M:%S %p",
	'D': "%m/%d/%y", 'x': "%m/%d/%y", 'F': "%Y-%m-%d", 'c': "%a %b %e %H:%M:%S %Y",
	'v': "%e-%b-%Y", '+': "%a %b %e %H:%M:%S %Z %Y",
}

// compileStrptime compiles format; an unknown directive is an error.
func compileStrptime(format string) (*strptime, error) {
	st := &strptime{}
	if err := st.add(format, 0); err != nil {
		return nil, err
	}
	for k := range st.ops {
		op := &st.ops[k]
		if op.kind == opDir && op.dir == 'Y' && op.width == 0 {
			op.width = 9 // as many digits as there are, unless a number follows
			if k+1 < len(st.ops) && (numDir(st.ops[k+1]) || st.ops[k+1].kind == opLit && isDigit(st.ops[k+1].lit[0])) {
				op.width = 4
			}
		}
	}
	hasYear := false
	for _, op := range st.ops {
		switch op.dir {
		case 'z', 'Z', 's', 'Q':
			st.zoned = true
		}
		switch op.dir {
		case 'Y', 'y', 'C', 's', 'Q':
			hasYear = true
		}
	}
	st.nowDep = !hasYear
	return st, nil
}

func (st *strptime) add(format string, depth int) error {
	for i := 0; i < len(format); i++ {
		c := format[i]
		if isSpace(c) {
			if n := len(st.ops); n == 0 || st.ops[n-1].kind != opSpace {
				st.ops = append(st.ops, stOp{kind: opSpace})
			}
			continue
		}
		if c != '%' || i+1 == len(format) {
			st.lit(string(c))
			continue
		}
		i++
		for i < len(format) && strings.IndexByte("-_0^#:", format[i]) >= 0 {
			i++
		}
		width := 0
		for i < len(format) && format[i] >= '0' && format[i] <= '9' && width < 100 {
			width = width*10 + int(format[i]-'0')
			i++
		}
		if i == len(format) {
			return fmt.Errorf("%q ends inside a directive", format)
		}
		d := format[i]
		switch {
		case d == '%':
			st.lit("%")
		case d == 'n' || d == 't':
			st.ops = append(st.ops, stOp{kind: opSpace})
		case stExpand[d] != "":
			if err := st.add(stExpand[d], depth+1); err != nil {
				return err
			}
		case strings.IndexByte("YCymdejHkIlMSLNbhBaAuwUWVGgpPzZsQ", d) >= 0:
			st.ops = append(st.ops, stOp{kind: opDir, dir: d, width: width})
		default:
			return fmt.Errorf("%q has the directive %%%c, which barge cannot parse", format, d)
		}
	}
	return nil
}

func (st *strptime) lit(s string) {
	if n := len(st.ops); n > 0 && st.ops[n-1].kind == opLit {
		st.ops[n-1].lit += s
		return
	}
	st.ops = append(st.ops, stOp{kind: opLit, lit: s})
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// numDir reports whether directive d reads digits first.
func numDir(op stOp) bool {
	return op.kind == opDir && strings.IndexByte("YCymdejHkIlMSLNuwUWVGgsQ", op.dir) >= 0
}

// parse reads v. With full, only white space may follow the format.
func (st *strptime) parse(v []byte, full bool) (t tm, ok bool) {
	i := 0
	for k := range st.ops {
		op := &st.ops[k]
		switch op.kind {
		case opSpace:
			for i < len(v) && isSpace(v[i]) {
				i++
			}
			continue
		case opLit:
			if len(v)-i < len(op.lit) || string(v[i:i+len(op.lit)]) != op.lit {
				return t, false
			}
			i += len(op.lit)
			continue
		}
		w := op.width
		var n int
		switch op.dir {
		case 'Y':
			neg := false
			if i < len(v) && (v[i] == '+' || v[i] == '-') {
				neg = v[i] == '-'
				i++
			}
			if n, i, ok = digits(v, i, w); !ok {
				return t, false
			}
			if neg {
				n = -n
			}
			t.year, t.set = n, t.set|hasYear
		case 'C':
			if n, i, ok = digits(v, i, orWidth(w, 2)); !ok {
				return t, false
			}
			t.century, t.set = n, t.set|hasCentury
		case 'y':
			if n, i, ok = digits(v, i, orWidth(w, 2)); !ok {
				return t, false
			}
			t.yy, t.set = n, t.set|hasYY
		case 'm':
			if n, i, ok = digits(v, i, orWidth(w, 2)); !ok || n < 1 || n > 12 {
				return t, false
			}
			t.mon, t.set = n, t.set|hasMon
		case 'd', 'e':
			if i < len(v) && v[i] == ' ' {
				i++
			}
			if n, i, ok = digits(v, i, orWidth(w, 2)); !ok || n < 1 || n > 31 {
				return t, false
			}
			t.mday, t.set = n, t.set|hasMday
		case 'j':
			if n, i, ok = digits(v, i, orWidth(w, 3)); !ok || n < 1 || n > 366 {
				return t, false
			}
			t.yday, t.set = n, t.set|hasYday
		case 'H', 'k':
			if i < len(v) && v[i] == ' ' && op.dir == 'k' {
				i++
			}
			if n, i, ok = digits(v, i, orWidth(w, 2)); !ok || n > 24 {
				return t, false
			}
			t.hour, t.set = n, t.set|hasHour
		case 'I', 'l':
			if i < len(v) && v[i] == ' ' && op.dir == 'l' {
				i++
			}
			if n, i, ok = digits(v, i, orWidth(w, 2)); !ok || n < 1 || n > 12 {
				return t, false
			}
			t.hour, t.set = n, t.set|hasHour
		case 'M':
			if n, i, ok = digits(v, i, orWidth(w, 2)); !ok || n > 59 {
				return t, false
			}
			t.min, t.set = n, t.set|hasMin
		case 'S':
			if n, i, ok = digits(v, i, orWidth(w, 2)); !ok || n > 60 {
				return t, false
			}
			t.sec, t.set = n, t.set|hasSec
		case 'L', 'N':
			start := i
			for i < len(v) && v[i] >= '0' && v[i] <= '9' && (w == 0 || i-start < w) {
				if i-start < 9 {
					t.nsec = t.nsec*10 + int(v[i]-'0')
				}
				i++
			}
			if i == start {
				return t, false
			}
			for d := i - start; d < 9; d++ {
				t.nsec *= 10
			}
			t.set |= hasFrac
			t.fracLo, t.fracHi = start, i
		case 'u', 'w':
			if _, i, ok = digits(v, i, 1); !ok {
				return t, false
			}
		case 'U', 'W', 'V', 'g':
			if _, i, ok = digits(v, i, orWidth(w, 2)); !ok {
				return t, false
			}
		case 'G':
			if _, i, ok = digits(v, i, orWidth(w, 4)); !ok {
				return t, false
			}
		case 's', 'Q':
			neg := false
			if i < len(v) && (v[i] == '+' || v[i] == '-') {
				neg = v[i] == '-'
				i++
			}
			var e int
			if e, i, ok = digits(v, i, orWidth(w, 18)); !ok {
				return t, false
			}
			if neg {
				e = -e
			}
			if op.dir == 'Q' {
				t.epoch, t.nsec = int64(e)/1000, int(int64(e)%1000)*1e6
				if t.nsec < 0 {
					t.epoch, t.nsec = t.epoch-1, t.nsec+1e9
				}
				t.set |= hasFrac
			} else {
				t.epoch = int64(e)
			}
			t.set |= hasEpoch
		case 'p', 'P':
			if n, i, ok = ampm(v, i); !ok {
				return t, false
			}
			t.pm, t.set = n, t.set|hasPM
		case 'b', 'h', 'B':
			if n, i, ok = name(v, i, months[:]); !ok {
				return t, false
			}
			t.mon, t.set = n+1, t.set|hasMon
		case 'a', 'A':
			if _, i, ok = name(v, i, weekdays[:]); !ok {
				return t, false
			}
		case 'z', 'Z':
			if t.off, i, ok = zone(v, i); !ok {
				return t, false
			}
			t.set |= hasOff
		}
	}
	if full {
		for i < len(v) && isSpace(v[i]) {
			i++
		}
		if i < len(v) {
			return t, false
		}
	}
	return t, true
}

func orWidth(w, def int) int {
	if w == 0 {
		return def
	}
	return w
}

// digits reads 1 to max digits at v[i:].
func digits(v []byte, i, max int) (n, j int, ok bool) {
	j = i
	for j < len(v) && j-i < max && v[j] >= '0' && v[j] <= '9' {
		n = n*10 + int(v[j]-'0')
		j++
	}
	return n, j, j > i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func atoiSmall(b []byte) int {
	n := 0
	for _, c := range b {
		n = n*10 + int(c-'0')
	}
	return n
}
