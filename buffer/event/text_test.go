package event

import (
	"errors"
	"math"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// TestAppendTextEveryType pins the text of every msgpack type: the one rule
// that chunk keys, placeholders and filters share.
func TestAppendTextEveryType(t *testing.T) {
	m := msgp.AppendMapHeader(nil, 2)
	m = msgp.AppendString(m, "a")
	m = msgp.AppendInt(m, 1)
	m = msgp.AppendString(m, "b")
	m = msgp.AppendArrayHeader(m, 2)
	m = msgp.AppendBool(m, true)
	m = msgp.AppendString(m, "x")
	cases := []struct {
		name string
		v    []byte
		want string
	}{
		{"fixstr", msgp.AppendString(nil, "hé"), "hé"},
		{"str8", msgp.AppendString(nil, string(make([]byte, 40))), string(make([]byte, 40))},
		{"empty str", msgp.AppendString(nil, ""), ""},
		{"bin", msgp.AppendBytes(nil, []byte("raw")), "raw"},
		{"nil", msgp.AppendNil(nil), ""},
		{"true", msgp.AppendBool(nil, true), "true"},
		{"false", msgp.AppendBool(nil, false), "false"},
		{"positive fixint", []byte{0x05}, "5"},
		{"negative fixint", []byte{0xfb}, "-5"},
		{"int8", []byte{0xd0, 0x80}, "-128"},
		{"int64", msgp.AppendInt64(nil, math.MinInt64), "-9223372036854775808"},
		{"uint8", []byte{0xcc, 200}, "200"},
		{"uint64", msgp.AppendUint64(nil, math.MaxUint64), "18446744073709551615"},
		{"float64 whole", msgp.AppendFloat64(nil, 1), "1.0"},
		{"float64", msgp.AppendFloat64(nil, 0.5), "0.5"},
		{"float64 big", msgp.AppendFloat64(nil, 1e20), "1.0e+20"},
		{"float64 small", msgp.AppendFloat64(nil, 1e-5), "1.0e-05"},
		{"float64 negative zero", msgp.AppendFloat64(nil, math.Copysign(0, -1)), "-0.0"},
		{"float64 NaN", msgp.AppendFloat64(nil, math.NaN()), "NaN"},
		{"float64 +Inf", msgp.AppendFloat64(nil, math.Inf(1)), "Infinity"},
		{"float64 -Inf", msgp.AppendFloat64(nil, math.Inf(-1)), "-Infinity"},
		{"float32", msgp.AppendFloat32(nil, 1.5), "1.5"},
		{"map", m, `{"a":1,"b":[true,"x"]}`},
		{"empty array", msgp.AppendArrayHeader(nil, 0), "[]"},
		{"EventTime ext", AppendEventTime(nil, 1, 2), ""},
	}
	for _, c := range cases {
		got, rest, err := AppendText([]byte("<"), append(c.v, 0xc0))
		if c.name == "EventTime ext" {
			// an extension renders as msgp's JSON of it, whatever that is,
			// but it must be consumed whole
			if err != nil || len(rest) != 1 {
				t.Errorf("%s: %q, rest %d, %v", c.name, got, len(rest), err)
			}
			continue
		}
		if err != nil || string(got) != "<"+c.want || len(rest) != 1 {
			t.Errorf("%s: %q, rest %d, %v; want %q", c.name, got[1:], len(rest), err, c.want)
		}
	}
	if got, rest, err := AppendText([]byte("<"), []byte{0xd9, 5, 'a'}); !errors.Is(err, ErrEntry) || string(got) != "<" || len(rest) != 3 {
		t.Errorf("truncated str: %q, rest %d, %v", got, len(rest), err)
	}
}
