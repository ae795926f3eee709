package parse

import (
	"reflect"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

// TestConvert holds Conversion.Convert, the strict conversions of other
// inputs, to its contract: a value that does not convert is an error.
func TestConvert(t *testing.T) {
	types, err := NewTypes(map[string]string{
		"i": "integer", "f": "float", "b": "bool", "s": "string",
		"t": "time:%d/%m/%Y %H:%M", "tz": "time:Asia/Tokyo:%Y-%m-%d", "u": "time:unixtime", "a": "array:|",
	}, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		key, in string
		want    any // nil for an error
	}{
		{"f", "1.5", 1.5}, {"f", "-0.25", -0.25}, {"f", "7", 7.0}, {"f", "1e3", 1000.0},
		{"f", ".5", 0.5}, {"f", "5.", 5.0}, {"f", "1.2.3", nil}, {"f", ".", nil}, {"f", "-", nil},
		{"f", "NaN", nil}, {"f", "Inf", nil}, {"f", "0x10", nil}, {"f", "1_0", nil}, {"f", "1e999", nil},
		{"f", "0.1234567890123456789", 0.1234567890123456789},
		{"i", "42", int64(42)}, {"i", "-42", int64(-42)}, {"i", "4.2", nil}, {"i", "x", nil},
		{"b", "TRUE", true}, {"b", "no", false}, {"b", "maybe", nil}, {"s", "s", "s"}, {"s", "", ""},
		{"i", "", "nil"}, {"b", "", "nil"}, {"t", "", "nil"},
		{"t", "01/05/2024 12:30", utc(2024, 5, 1, 12, 30, 0, 0)}, {"t", "yesterday", nil},
		{"tz", "2024-05-01", utc(2024, 4, 30, 15, 0, 0, 0)}, {"u", "1714564800", utc(2024, 5, 1, 12, 0, 0, 0)},
		{"a", "x|y||z", []any{"x", "y", "", "z"}},
	}
	for _, c := range cases {
		b, err := types.Lookup(c.key).Convert(nil, c.in, testNow)
		if c.want == nil {
			if err == nil {
				t.Errorf("%q as %s: no error", c.in, c.key)
			}
			continue
		}
		v, _, rerr := decodeValue(b)
		if _, ok := v.(*msgp.RawExtension); ok && rerr == nil {
			_, sec, nsec, _ := event.ReadTime(b)
			v = time.Unix(sec, nsec).UTC()
		}
		if c.want == "nil" {
			c.want = nil
		}
		if err != nil || rerr != nil || !reflect.DeepEqual(v, c.want) {
			t.Errorf("%q as %s: %v (%T) %v %v, want %v", c.in, c.key, v, v, err, rerr, c.want)
		}
	}
	if types.Lookup("nope") != nil {
		t.Error("Lookup of a key types does not name")
	}
}
