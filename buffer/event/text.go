package event

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tinylib/msgp/msgp"
)

// AppendText appends the text form of the msgpack value at the front of v
// and returns the rest of v after it. It is the one rule by which barge
// turns a record value into text: chunk keys and their ${key}
// placeholders, record_transformer's ${record["key"]}, grep's patterns and
// tag templates all use it. The form is what Fluentd gets from Ruby's
// to_s:
//
//	str, bin          the bytes as they are
//	nil               "" (empty)
//	true, false       "true", "false"
//	int, uint         decimal: "-5", "18446744073709551615"
//	float32, float64  Ruby's Float#to_s: "1.0", "0.5", "1.0e+20", "1.0e-05",
//	                  "NaN", "Infinity", "-Infinity"
//	map, array, ext   JSON, as msgp renders it: {"a":1}, [1,"x"]
//
// A value that is not well-formed msgpack is an error wrapping ErrEntry,
// with dst as it was.
func AppendText(dst, v []byte) ([]byte, []byte, error) {
	var rest []byte
	var err error
	switch msgp.NextType(v) {
	case msgp.StrType:
		var s []byte
		if s, rest, err = msgp.ReadStringZC(v); err == nil {
			return append(dst, s...), rest, nil
		}
	case msgp.BinType:
		var s []byte
		if s, rest, err = msgp.ReadBytesZC(v); err == nil {
			return append(dst, s...), rest, nil
		}
	case msgp.NilType:
		if rest, err = msgp.ReadNilBytes(v); err == nil {
			return dst, rest, nil
		}
	case msgp.BoolType:
		var b bool
		if b, rest, err = msgp.ReadBoolBytes(v); err == nil {
			return strconv.AppendBool(dst, b), rest, nil
		}
	case msgp.IntType:
		var i int64
		if i, rest, err = msgp.ReadInt64Bytes(v); err == nil {
			return strconv.AppendInt(dst, i, 10), rest, nil
		}
	case msgp.UintType:
		var u uint64
		if u, rest, err = msgp.ReadUint64Bytes(v); err == nil {
			return strconv.AppendUint(dst, u, 10), rest, nil
		}
	case msgp.Float64Type, msgp.Float32Type:
		var f float64
		if f, rest, err = msgp.ReadFloat64Bytes(v); err == nil {
			return appendRubyFloat(dst, f), rest, nil
		}
	default:
		// msgp renders every object it is given: give it this one only
		var n int
		if n, err = Skip(v); err == nil {
			var w bytes.Buffer
			if _, err = msgp.UnmarshalAsJSON(&w, v[:n]); err == nil {
				return append(dst, w.Bytes()...), v[n:], nil
			}
		}
	}
	return dst, v, errText
}

var errText = fmt.Errorf("%w: malformed msgpack value", ErrEntry)

// appendRubyFloat formats f as Ruby's Float#to_s does: "1.0", "0.5", "1.0e+20".
func appendRubyFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	abs := math.Abs(f)
	if abs == 0 || (abs >= 1e-4 && abs < 1e16) {
		start := len(dst)
		dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
		if bytes.IndexByte(dst[start:], '.') < 0 {
			dst = append(dst, ".0"...)
		}
		return dst
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // 1e+20, 1.5e-05
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	return append(append(append(dst, mant...), 'e'), exp...)
}
