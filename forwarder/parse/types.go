package parse

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/output/strftime"
	"github.com/tinylib/msgp/msgp"
)

// Types is a compiled types parameter: how named fields are converted.
// The tailer's parsers convert as Fluentd does (Ruby's to_i, to_f...);
// Conversion.Convert is the strict form, for inputs that refuse a value
// that does not convert.
type Types struct {
	convs []Conversion
}

// Conversion is one entry of the types parameter.
type Conversion struct {
	key   string
	typ   string // string, integer, float, bool, time, array
	delim string // array
	time  *TimeParser
	loc   *time.Location // time: its timezone option, nil for the parser's
	local *time.Location // time: NewTypes' zone, for Convert
}

// NewTypes compiles the types parameter, each key's type being "integer",
// "float", "bool", "string", "array[:DELIMITER]" (default ",") or
// "time[:TIMEZONE][:FORMAT]", FORMAT being unixtime, float, or a strptime
// format. loc is the zone of the times that carry none when the type
// names none, for Convert; nil means time.Local. Errors start with
// 'types' and the key.
func NewTypes(spec map[string]string, loc *time.Location) (*Types, error) {
	if loc == nil {
		loc = time.Local
	}
	keys := make([]string, 0, len(spec))
	for k := range spec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	t := &Types{}
	for _, key := range keys {
		typ, opt, hasOpt := strings.Cut(spec[key], ":")
		c := Conversion{key: key, typ: typ, local: loc}
		switch typ {
		case "string", "integer", "float", "bool":
		case "array":
			c.delim = ","
			if hasOpt {
				c.delim = opt
			}
		case "time":
			ttype, format := "string", ""
			if hasOpt {
				format = opt
				if tz, f, ok := strings.Cut(opt, ":"); ok {
					if loc, err := strftime.ParseTimezone(tz); err == nil {
						c.loc, format = loc, f
					}
				} else if loc, err := strftime.ParseTimezone(opt); err == nil && opt[0] != '%' {
					c.loc, format = loc, ""
				}
				if format == "unixtime" || format == "float" {
					ttype, format = format, ""
				}
			}
			var err error
			if c.time, err = newTimeParser(ttype, format, nil); err != nil {
				return nil, fmt.Errorf("'types' %s: %w", key, err)
			}
		default:
			return nil, fmt.Errorf("'types' %s: unknown type %q (string, integer, float, bool, time, array)", key, typ)
		}
		t.convs = append(t.convs, c)
	}
	return t, nil
}

// Lookup returns the conversion of the field key, nil when types names
// none.
func (t *Types) Lookup(key string) *Conversion {
	for i := range t.convs {
		if t.convs[i].key == key {
			return &t.convs[i]
		}
	}
	return nil
}

var truthy = [...]string{"true", "yes", "1"}

// convertField converts f per c, as Fluentd's type converters (Ruby's
// to_i, to_f and to_s); a time that does not parse becomes nil.
func (b *base) convertField(f *field, c *Conversion, now time.Time) {
	s, isStr := strValue(f)
	if !isStr && c.typ != "time" {
		// the value's Ruby to_s, for the conversions that read text
		before := len(b.scratch)
		var err error
		if b.scratch, _, err = event.AppendText(b.scratch, f.val); err != nil {
			return
		}
		s = b.scratch[before:]
	}
	start := len(b.scratch)
	num := msgp.InvalidType
	if f.kind == kRaw {
		num = msgp.NextType(f.val)
	}
	switch c.typ {
	case "string":
		if !isStr {
			f.kind, f.val = kStr, s
		}
		return
	case "integer":
		var n int64
		switch num {
		case msgp.IntType, msgp.UintType:
			return
		case msgp.Float64Type, msgp.Float32Type:
			if x, _, err := msgp.ReadFloat64Bytes(f.val); err == nil && !math.IsNaN(x) && math.Abs(x) < 1<<63 {
				n = int64(x)
			}
		default:
			if isStr {
				var ok bool
				if n, _, ok = rubyToI(s); !ok {
					return
				}
			} // true.to_i raises: Fluentd falls back to "true".to_i, 0
		}
		b.scratch = msgp.AppendInt64(b.scratch, n)
	case "float":
		x := 0.0
		switch num {
		case msgp.IntType:
			i, _, _ := msgp.ReadInt64Bytes(f.val)
			x = float64(i)
		case msgp.UintType:
			u, _, _ := msgp.ReadUint64Bytes(f.val)
			x = float64(u)
		case msgp.Float64Type, msgp.Float32Type:
			x, _, _ = msgp.ReadFloat64Bytes(f.val)
		default:
			if isStr {
				x = rubyToF(s)
			}
		}
		b.scratch = msgp.AppendFloat64(b.scratch, x)
	case "bool":
		v := false
		if num == msgp.BoolType {
			v, _, _ = msgp.ReadBoolBytes(f.val)
		} else {
			for _, t := range truthy {
				if len(s) == len(t) && equalFold(s, t) {
					v = true
				}
			}
		}
		b.scratch = msgp.AppendBool(b.scratch, v)
	case "time":
		loc := b.loc
		if c.loc != nil {
			loc = c.loc
		}
		if sec, nsec, ok := c.time.parse(b.timeValue(f), loc, now); ok {
			b.scratch = event.AppendEventTime(b.scratch, sec, nsec)
		} else {
			b.scratch = msgp.AppendNil(b.scratch)
		}
	case "array":
		parts := rubySplit(b.parts[:0], s, c.delim, 0)
		b.scratch = msgp.AppendArrayHeader(b.scratch, uint32(len(parts)))
		for _, p := range parts {
			b.scratch = msgp.AppendStringFromBytes(b.scratch, p)
		}
		b.parts = parts[:0]
	}
	f.kind, f.val = kRaw, b.scratch[start:]
}

// rubyToF reads a float as Ruby's String#to_f: the longest leading decimal
// literal (white space, sign, digits with underscores, a fraction, an
// exponent); 0 when there is none.
func rubyToF(b []byte) float64 {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	var buf [64]byte
	n := buf[:0]
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		n = append(n, b[i])
		i++
	}
	digitsRun := func() bool {
		start := len(n)
		for i < len(b) && len(n) < cap(n)-8 {
			if isDigit(b[i]) {
				n = append(n, b[i])
			} else if !(b[i] == '_' && len(n) > start && i+1 < len(b) && isDigit(b[i+1])) {
				break
			}
			i++
		}
		return len(n) > start
	}
	if !digitsRun() {
		return 0
	}
	if i+1 < len(b) && b[i] == '.' && isDigit(b[i+1]) {
		n = append(n, '.')
		i++
		digitsRun()
	}
	if i+1 < len(b) && (b[i] == 'e' || b[i] == 'E') {
		save, saveI := len(n), i
		n = append(n, 'e')
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			n = append(n, b[i])
			i++
		}
		if !digitsRun() {
			n, i = n[:save], saveI
		}
	}
	x, err := strconv.ParseFloat(string(n), 64)
	if err != nil && !math.IsInf(x, 0) {
		return 0
	}
	return x
}

// rubySplit splits s as Ruby's String#split(sep, limit) and appends the
// parts to dst: sep " " splits on runs of white space after skipping
// leading white space; "" splits into characters; limit > 0 makes at most
// limit parts, the last holding the rest; limit 0 drops trailing empty
// parts. An empty s has no parts.
func rubySplit(dst [][]byte, s []byte, sep string, limit int) [][]byte {
	if len(s) == 0 {
		return dst
	}
	start := len(dst)
	switch sep {
	case " ":
		i := 0
		for {
			for i < len(s) && isSpace(s[i]) {
				i++
			}
			if i == len(s) {
				break
			}
			if limit > 0 && len(dst)-start == limit-1 {
				dst = append(dst, s[i:])
				return dst
			}
			j := i
			for j < len(s) && !isSpace(s[j]) {
				j++
			}
			dst = append(dst, s[i:j])
			i = j
		}
	case "":
		for i := 0; i < len(s); {
			if limit > 0 && len(dst)-start == limit-1 {
				return append(dst, s[i:])
			}
			_, n := utf8.DecodeRune(s[i:])
			dst = append(dst, s[i:i+n])
			i += n
		}
	default:
		for {
			if limit > 0 && len(dst)-start == limit-1 {
				dst = append(dst, s)
				break
			}
			j := indexString(s, sep)
			if j < 0 {
				dst = append(dst, s)
				break
			}
			dst = append(dst, s[:j])
			s = s[j+len(sep):]
		}
	}
	if limit == 0 {
		for len(dst) > start && len(dst[len(dst)-1]) == 0 {
			dst = dst[:len(dst)-1]
		}
	}
	return dst
}

func indexString(s []byte, sep string) int {
	if len(sep) == 1 {
		for i, c := range s {
			if c == sep[0] {
				return i
			}
		}
		return -1
	}
	return strings.Index(unsafeString(s), sep)
}
