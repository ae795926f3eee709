package strftime

import (
	"strconv"
	"time"
)

// Append appends t formatted to dst.
func (s *Layout) Append(dst []byte, t time.Time) []byte {
	return appendOps(dst, s.ops, t)
}

// Cache holds a format's output for one second, cut around its
// fraction conversions (%L, %N), so that formatting many times within the
// same second costs a copy and the fraction digits.
type Cache struct {
	sec   int64
	valid bool
	segs  [][]byte // text between fraction conversions; len = fractions+1
}

// Reset forgets the cached second (the zone or the layout changed).
func (c *Cache) Reset() { c.valid = false }

// AppendCached appends the time sec.nsec in loc, reusing c while the
// second does not change.
func (s *Layout) AppendCached(dst []byte, sec, nsec int64, loc *time.Location, c *Cache) []byte {
	if !c.valid || c.sec != sec {
		t := time.Unix(sec, 0).In(loc)
		from, k := 0, 0
		seg := func(ops []sfOp) {
			if k == len(c.segs) {
				c.segs = append(c.segs, nil)
			}
			c.segs[k] = appendOps(c.segs[k][:0], ops, t)
			k++
		}
		for i := range s.ops {
			if conv := s.ops[i].conv; conv == 'L' || conv == 'N' {
				seg(s.ops[from:i])
				from = i + 1
			}
		}
		seg(s.ops[from:])
		c.sec, c.valid = sec, true
	}
	k := 0
	for i := range s.ops {
		op := &s.ops[i]
		if op.conv == 'L' || op.conv == 'N' {
			dst = append(dst, c.segs[k]...)
			def := 9
			if op.conv == 'L' {
				def = 3
			}
			dst = op.frac(dst, int(nsec), def)
			k++
		}
	}
	return append(dst, c.segs[k]...)
}

func appendOps(dst []byte, ops []sfOp, t time.Time) []byte {
	if len(ops) == 0 {
		return dst
	}
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	for i := range ops {
		op := &ops[i]
		switch op.conv {
		case 0:
			dst = append(dst, op.lit...)
		case 'Y':
			if year < 0 {
				dst = append(dst, '-')
				dst = op.num(dst, int64(-year), 4, '0')
			} else {
				dst = op.num(dst, int64(year), 4, '0')
			}
		case 'C':
			dst = op.num(dst, int64(floorDiv(year, 100)), 2, '0')
		case 'y':
			dst = op.num(dst, int64(mod(year, 100)), 2, '0')
		case 'm':
			dst = op.num(dst, int64(month), 2, '0')
		case 'B':
			dst = op.text(dst, month.String())
		case 'b', 'h':
			dst = op.text(dst, month.String()[:3])
		case 'd':
			dst = op.num(dst, int64(day), 2, '0')
		case 'e':
			dst = op.num(dst, int64(day), 2, ' ')
		case 'j':
			dst = op.num(dst, int64(t.YearDay()), 3, '0')
		case 'H':
			dst = op.num(dst, int64(hour), 2, '0')
		case 'k':
			dst = op.num(dst, int64(hour), 2, ' ')
		case 'I':
			dst = op.num(dst, int64(hour12(hour)), 2, '0')
		case 'l':
			dst = op.num(dst, int64(hour12(hour)), 2, ' ')
		case 'P', 'p':
			ampm := "AM"
			if hour >= 12 {
				ampm = "PM"
			}
			if op.conv == 'P' || op.swap {
				ampm = lower(ampm)
			}
			dst = op.text(dst, ampm)
		case 'M':
			dst = op.num(dst, int64(min), 2, '0')
		case 'S':
			dst = op.num(dst, int64(sec), 2, '0')
		case 'L':
			dst = op.frac(dst, t.Nanosecond(), 3)
		case 'N':
			dst = op.frac(dst, t.Nanosecond(), 9)
		case 'z':
			dst = op.zone(dst, t)
		case 'Z':
			name, _ := t.Zone()
			dst = op.text(dst, name)
		case 'A':
			dst = op.text(dst, t.Weekday().String())
		case 'a':
			dst = op.text(dst, t.Weekday().String()[:3])
		case 'u':
			wd := int64(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			dst = op.num(dst, wd, 1, '0')
		case 'w':
			dst = op.num(dst, int64(t.Weekday()), 1, '0')
		case 'G':
			y, _ := t.ISOWeek()
			dst = op.num(dst, int64(y), 4, '0')
		case 'g':
			y, _ := t.ISOWeek()
			dst = op.num(dst, int64(mod(y, 100)), 2, '0')
		case 'V':
			_, w := t.ISOWeek()
			dst = op.num(dst, int64(w), 2, '0')
		case 'U':
			dst = op.num(dst, int64((t.YearDay()+6-int(t.Weekday()))/7), 2, '0')
		case 'W':
			dst = op.num(dst, int64((t.YearDay()+6-(int(t.Weekday())+6)%7)/7), 2, '0')
		case 's':
			dst = op.signed(dst, t.Unix())
		case 'Q':
			dst = op.signed(dst, t.UnixMilli())
		case 'n':
			dst = op.text(dst, "\n")
		case 't':
			dst = op.text(dst, "\t")
		case '%':
			dst = op.text(dst, "%")
		}
	}
	return dst
}

func hour12(h int) int {
	h %= 12
	if h == 0 {
		return 12
	}
	return h
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func mod(a, b int) int {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// num appends a non-negative number padded to the op's width (or def
// digits) with the op's pad character (or defPad).
func (op *sfOp) num(dst []byte, v int64, def int, defPad byte) []byte {
	width, pad := def, defPad
	if op.width >= 0 {
		width = op.width
	}
	switch op.pad {
	case '-':
		width = 0
	case '_':
		pad = ' '
	case '0':
		pad = '0'
	}
	var buf [20]byte
	digits := strconv.AppendInt(buf[:0], v, 10)
	for n := len(digits); n < width; n++ {
		dst = append(dst, pad)
	}
	return append(dst, digits...)
}

// signed appends a possibly negative number (%s, %Q) without default padding.
func (op *sfOp) signed(dst []byte, v int64) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	return op.num(dst, v, 1, '0')
}

// frac appends the first digits of the nine-digit fraction; a width asks for
// that many digits (zeros beyond the ninth).
func (op *sfOp) frac(dst []byte, nsec, def int) []byte {
	n := def
	if op.width > 0 {
		n = op.width
	}
	var buf [9]byte
	for i := 8; i >= 0; i-- {
		buf[i] = byte('0' + nsec%10)
		nsec /= 10
	}
	if n <= 9 {
		return append(dst, buf[:n]...)
	}
	dst = append(dst, buf[:]...)
	for i := 9; i < n; i++ {
		dst = append(dst, '0')
	}
	return dst
}

// text appends a word, with the case flags and left padding to the width.
func (op *sfOp) text(dst []byte, s string) []byte {
	if op.upper {
		s = upper(s)
	} else if op.swap && op.conv != 'p' && op.conv != 'P' {
		s = swapCase(s)
	}
	pad := byte(' ')
	if op.pad == '0' {
		pad = '0'
	}
	if op.pad != '-' {
		for n := len(s); n < op.width; n++ {
			dst = append(dst, pad)
		}
	}
	return append(dst, s...)
}

// zone appends the UTC offset: +hhmm, +hh:mm (%:z) or +hh:mm:ss (%::z).
func (op *sfOp) zone(dst []byte, t time.Time) []byte {
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign = '-'
		off = -off
	}
	h, m, s := off/3600, off/60%60, off%60
	dst = append(dst, sign, byte('0'+h/10), byte('0'+h%10))
	if op.colons > 0 {
		dst = append(dst, ':')
	}
	dst = append(dst, byte('0'+m/10), byte('0'+m%10))
	if op.colons > 1 {
		dst = append(dst, ':', byte('0'+s/10), byte('0'+s%10))
	}
	return dst
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// swapCase is Ruby's # flag: an all-upper word goes lower, others upper.
func swapCase(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'a' && s[i] <= 'z' {
			return upper(s)
		}
	}
	return lower(s)
}
