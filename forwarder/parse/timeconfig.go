package parse

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

// TimeConfig says how a time field is read, for inputs other than the
// tailer that take <parse>'s time parameters (the whole-file input).
type TimeConfig struct {
	// Type is time_type: string ("" too), unixtime, float or mixed.
	Type string
	// Format is time_format: a strptime format (see strptime.go) or
	// %iso8601; "" reads ISO 8601 and the common forms of log files.
	Format string
	// Fallbacks are time_format_fallbacks, what mixed tries after Format
	// (after nothing when Format is ""): formats, "unixtime" or "float";
	// "" is the lenient parse.
	Fallbacks []string
	// Location is the zone of times that carry none; nil means time.Local.
	Location *time.Location
}

// NewTimeParser compiles c. Its errors start with the quoted key.
func NewTimeParser(c TimeConfig) (*TimeParser, error) {
	typ := c.Type
	if typ == "" {
		typ = "string"
	}
	switch typ {
	case "string", "unixtime", "float", "mixed":
	default:
		return nil, fmt.Errorf("'time_type' must be one of string, unixtime, float, mixed, got %q", c.Type)
	}
	if typ == "mixed" && len(c.Fallbacks) == 0 {
		return nil, errors.New("'time_format_fallbacks' is required for time_type mixed")
	}
	tp, err := newTimeParser(typ, c.Format, c.Fallbacks)
	if err != nil {
		return nil, fmt.Errorf("'time_format' %w", err)
	}
	tp.loc = c.Location
	if tp.loc == nil {
		tp.loc = time.Local
	}
	return tp, nil
}

// ParseString reads the time in s. ok is false when s is not a time as
// the parser's type reads it, or lies outside what an EventTime holds
// (1970 to 2106). Components the format lacks before its first one come
// from now (a format without a year takes now's year).
func (tp *TimeParser) ParseString(s string, now time.Time) (sec, nsec int64, ok bool) {
	b := unsafe.Slice(unsafe.StringData(s), len(s)) // read, never kept
	return tp.parse(timeValue{b: b}, tp.loc, now)
}

// ParseValue reads the time in the msgpack value v: a str as ParseString
// does, a number as seconds since the epoch (but for time_type string,
// which takes strings only, as Fluentd's). Any other value is not a time.
func (tp *TimeParser) ParseValue(v []byte, now time.Time) (sec, nsec int64, ok bool) {
	var tv timeValue
	tv, tp.num = rawTimeValue(tp.num[:0], v)
	return tp.parse(tv, tp.loc, now)
}

// rawTimeValue returns the msgpack value v as a time parser reads it; the
// text of a number is appended to dst, returned as the second result.
func rawTimeValue(dst, v []byte) (timeValue, []byte) {
	switch msgp.NextType(v) {
	case msgp.StrType:
		s, _, err := msgp.ReadStringZC(v)
		return timeValue{b: s, invalid: err != nil}, dst
	case msgp.IntType, msgp.UintType, msgp.Float64Type, msgp.Float32Type:
		start := len(dst)
		dst, _, err := event.AppendText(dst, v)
		return timeValue{b: dst[start:], number: true, invalid: err != nil}, dst
	}
	return timeValue{invalid: true}, dst
}
