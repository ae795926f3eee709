package parse

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

// Convert appends s, a string value, converted as c says, strictly: the
// whole of s must be a decimal integer that fits an int64 (integer), a
// decimal number that fits a float64 (float; no "0x", "_", Inf or NaN),
// true, yes, 1, false, no or 0 in any case (bool), or a time of c's
// format between 1970 and 2106 (time, an EventTime); anything else is an
// error, where Fluentd's converters would make it 0, false or nil. array
// splits s as the tailer does; string keeps it. s "" is nil for every
// type but string. now gives a time format's missing leading components.
func (c *Conversion) Convert(dst []byte, s string, now time.Time) ([]byte, error) {
	if c.typ == "string" {
		return msgp.AppendString(dst, s), nil
	}
	if s == "" {
		return msgp.AppendNil(dst), nil
	}
	switch c.typ {
	case "integer":
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return msgp.AppendInt64(dst, i), nil
		}
		return dst, fmt.Errorf("%.64q is not an integer", s)
	case "float":
		if f, ok := exactFloat(s); ok {
			return msgp.AppendFloat64(dst, f), nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err == nil && !math.IsInf(f, 0) && decimal(s) {
			return msgp.AppendFloat64(dst, f), nil
		}
		return dst, fmt.Errorf("%.64q is not a float", s)
	case "bool":
		for _, t := range truthy {
			if strings.EqualFold(s, t) {
				return msgp.AppendBool(dst, true), nil
			}
		}
		for _, f := range falsy {
			if strings.EqualFold(s, f) {
				return msgp.AppendBool(dst, false), nil
			}
		}
		return dst, fmt.Errorf("%.64q is not a bool", s)
	case "time":
		loc := c.loc
		if loc == nil {
			loc = c.local
		}
		b := unsafe.Slice(unsafe.StringData(s), len(s)) // read, never kept
		if sec, nsec, ok := c.time.parse(timeValue{b: b}, loc, now); ok {
			return event.AppendEventTime(dst, sec, nsec), nil
		}
		return dst, fmt.Errorf("%.64q is not a time", s)
	case "array":
		var buf [16][]byte
		parts := rubySplit(buf[:0], unsafe.Slice(unsafe.StringData(s), len(s)), c.delim, 0)
		dst = msgp.AppendArrayHeader(dst, uint32(len(parts)))
		for _, p := range parts {
			dst = msgp.AppendStringFromBytes(dst, p)
		}
		return dst, nil
	}
	return dst, fmt.Errorf("unknown type %q", c.typ)
}

var falsy = [...]string{"false", "no", "0"}

// decimal reports whether s holds only what a decimal number does (no
// "0x", "_", "Inf" or "NaN", which strconv would take).
func decimal(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isDigit(c), c == '.', c == 'e', c == 'E', c == '+', c == '-':
		default:
			return false
		}
	}
	return true
}
