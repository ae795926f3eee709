// Package strftime is Ruby's Time#strftime, as Fluentd's time_format,
// time_slice_format and path placeholders use it: Compile a format once,
// then Append or AppendCached times.
package strftime

import (
	"time"
)

// Layout is a compiled Ruby strftime format (Time#strftime), as Fluentd's
// time_format, time_slice_format and path placeholders use it.
//
// Supported: %Y %C %y %m %B %b %h %d %e %j %H %k %I %l %P %p %M %S %L %N
// (%3N, %6N, %9N: digits of the fraction) %z %:z %::z %Z %A %a %u %w %G %g
// %V %U %W %s %Q %n %t %% and the combinations %c %D %F %T %R %r %x %X %v %+,
// with the flags - (no padding), _ (spaces), 0 (zeros), ^ (upper case),
// # (change case) and a width. An unknown conversion is copied as written,
// as Ruby does.
type Layout struct {
	ops    []sfOp
	subsec bool // uses %L or %N
	clock  bool // uses anything finer than the day
}

type sfOp struct {
	lit    string // literal text when conv == 0
	conv   byte
	pad    byte // 0: the conversion's default, '-': none, '_': space, '0': zero
	upper  bool
	swap   bool
	width  int // -1: default
	colons int // for %z
}

// CompileStrftime compiles a strftime format. It never fails: what is not a
// conversion is literal text.
func Compile(format string) *Layout {
	s := &Layout{}
	lit := make([]byte, 0, len(format))
	flushLit := func() {
		if len(lit) > 0 {
			s.ops = append(s.ops, sfOp{lit: string(lit)})
			lit = lit[:0]
		}
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 >= len(format) {
			lit = append(lit, c)
			continue
		}
		op := sfOp{width: -1}
		j := i + 1
	flags:
		for ; j < len(format); j++ {
			switch format[j] {
			case '-', '_', '0':
				op.pad = format[j]
			case '^':
				op.upper = true
			case '#':
				op.swap = true
			default:
				break flags
			}
		}
		for ; j < len(format) && format[j] >= '0' && format[j] <= '9'; j++ {
			if op.width < 0 {
				op.width = 0
			}
			if op.width < 1024 {
				op.width = op.width*10 + int(format[j]-'0')
			}
		}
		for ; j < len(format) && format[j] == ':' && op.colons < 3; j++ {
			op.colons++
		}
		if j >= len(format) {
			lit = append(lit, format[i:]...)
			break
		}
		conv := format[j]
		if op.colons > 0 && conv != 'z' {
			lit = append(lit, format[i:j+1]...)
			i = j
			continue
		}
		if exp, ok := sfCombined[conv]; ok && op == (sfOp{width: -1}) {
			flushLit()
			sub := Compile(exp)
			s.ops = append(s.ops, sub.ops...)
			s.subsec = s.subsec || sub.subsec
			s.clock = s.clock || sub.clock
			i = j
			continue
		}
		if !sfKnown(conv) {
			lit = append(lit, format[i:j+1]...)
			i = j
			continue
		}
		flushLit()
		op.conv = conv
		s.ops = append(s.ops, op)
		switch conv {
		case 'L', 'N':
			s.subsec = true
			s.clock = true
		case 'H', 'k', 'I', 'l', 'P', 'p', 'M', 'S', 's', 'Q':
			s.clock = true
		}
		i = j
	}
	flushLit()
	return s
}

// Subsecond reports whether the format prints fractions of a second.
func (s *Layout) Subsecond() bool { return s.subsec }

// Clock reports whether the format prints anything finer than the day.
func (s *Layout) Clock() bool { return s.clock }

// Format formats t.
func (s *Layout) Format(t time.Time) string { return string(s.Append(nil, t)) }

var sfCombined = map[byte]string{
	'c': "%a %b %e %H:%M:%S %Y",
	'D': "%m/%d/%y",
	'x': "%m/%d/%y",
	'F': "%Y-%m-%d",
	'T': "%H:%M:%S",
	'X': "%H:%M:%S",
	'R': "%H:%M",
	'r': "%I:%M:%S %p",
	'v': "%e-%^b-%4Y",
	'+': "%a %b %e %H:%M:%S %Z %Y",
}

func sfKnown(c byte) bool {
	switch c {
	case 'Y', 'C', 'y', 'm', 'B', 'b', 'h', 'd', 'e', 'j', 'H', 'k', 'I', 'l',
		'P', 'p', 'M', 'S', 'L', 'N', 'z', 'Z', 'A', 'a', 'u', 'w', 'G', 'g',
		'V', 'U', 'W', 's', 'Q', 'n', 't', '%',
		'c', 'D', 'x', 'F', 'T', 'X', 'R', 'r', 'v', '+':
		return true
	}
	return false
}

// UsesConversion reports whether the format has any conversion at all.
func (s *Layout) UsesConversion() bool {
	for i := range s.ops {
		if s.ops[i].conv != 0 {
			return true
		}
	}
	return false
}

// UsesTime reports whether the format prints anything of the time (not
// only %%, %n, %t).
func (s *Layout) UsesTime() bool {
	for i := range s.ops {
		switch s.ops[i].conv {
		case 0, '%', 'n', 't':
		default:
			return true
		}
	}
	return false
}
