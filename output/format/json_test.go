package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

func TestAppendJSONValues(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"nil", msgp.AppendNil(nil), `null`},
		{"true", msgp.AppendBool(nil, true), `true`},
		{"false", msgp.AppendBool(nil, false), `false`},
		{"fixint", msgp.AppendInt(nil, 7), `7`},
		{"negfixint", msgp.AppendInt(nil, -3), `-3`},
		{"int8", msgp.AppendInt8(nil, -100), `-100`},
		{"int64", msgp.AppendInt64(nil, math.MinInt64), `-9223372036854775808`},
		{"uint64", msgp.AppendUint64(nil, math.MaxUint64), `18446744073709551615`},
		{"uint16", msgp.AppendUint16(nil, 65535), `65535`},
		{"float integral", msgp.AppendFloat64(nil, 1), `1.0`},
		{"float", msgp.AppendFloat64(nil, 0.1), `0.1`},
		{"float negative", msgp.AppendFloat64(nil, -2.5), `-2.5`},
		{"float big", msgp.AppendFloat64(nil, 1e21), `1e+21`},
		{"float small", msgp.AppendFloat64(nil, 1e-7), `1e-7`},
		{"float 1e20", msgp.AppendFloat64(nil, 1e20), `100000000000000000000.0`},
		{"float32", msgp.AppendFloat32(nil, 0.1), `0.1`},
		{"NaN", msgp.AppendFloat64(nil, math.NaN()), `null`},
		{"Inf", msgp.AppendFloat64(nil, math.Inf(-1)), `null`},
		{"string", msgp.AppendString(nil, "héllo"), `"héllo"`},
		{"escapes", msgp.AppendString(nil, "a\"b\\c\n\r\t\b\f\x01\x1f\x7f<>&"), `"a\"b\\c\n\r\t\b\f\u0001\u001f` + "\x7f" + `<>&"`},
		{"invalid utf8", msgp.AppendString(nil, "a\xffb\xc3"), `"a\ufffdb\ufffd"`},
		{"bin", msgp.AppendBytes(nil, []byte("raw\x00")), `"raw\u0000"`},
		{"str16", msgp.AppendString(nil, string(bytes.Repeat([]byte("x"), 300))), `"` + string(bytes.Repeat([]byte("x"), 300)) + `"`},
		{"array", msgp.AppendInt(msgp.AppendString(msgp.AppendArrayHeader(nil, 2), "a"), 1), `["a",1]`},
		{"empty map", msgp.AppendMapHeader(nil, 0), `{}`},
		{"nested", record(t, "a", kvs{"b", []any{int64(1), nil}}), `{"a":{"b":[1,null]}}`},
		{"int key", appendValue(t, msgp.AppendMapHeader(nil, 1), int64(1)), ``},
		{"event time", event.AppendEventTime(nil, 1795341845, 5), `1795341845.000000005`},
		{"timestamp64 ext", []byte{0xd7, 0xff, 0x1d, 0x6f, 0x34, 0x54, 0x6b, 0x02, 0xbe, 0x15}, `1795341845.123456789`},
		{"timestamp32 ext", []byte{0xd6, 0xff, 0x6b, 0x02, 0xbe, 0x15}, `1795341845.000000000`},
		{"other ext", []byte{0xd4, 0x05, 0xff}, `{"ext":5,"data":"/w=="}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == "" {
				return
			}
			out, rest, err := AppendJSON(nil, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(rest) != 0 {
				t.Errorf("%d bytes left", len(rest))
			}
			if string(out) != tt.want {
				t.Errorf("got %s, want %s", out, tt.want)
			}
			if !json.Valid(out) {
				t.Errorf("invalid JSON %s", out)
			}
		})
	}
}

func TestAppendJSONNonStringKeys(t *testing.T) {
	b := msgp.AppendMapHeader(nil, 5)
	b = msgp.AppendInt(b, 1)
	b = msgp.AppendString(b, "one")
	b = msgp.AppendNil(b)
	b = msgp.AppendInt(b, 2)
	b = msgp.AppendBool(b, true)
	b = msgp.AppendInt(b, 3)
	b = msgp.AppendFloat64(b, 1.5)
	b = msgp.AppendInt(b, 4)
	b = msgp.AppendBytes(b, []byte("k"))
	b = msgp.AppendInt(b, 5)
	out, _, err := AppendJSON(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"1":"one","":2,"true":3,"1.5":4,"k":5}`; string(out) != want {
		t.Errorf("got %s, want %s", out, want)
	}
}

func TestAppendJSONMalformed(t *testing.T) {
	deep := bytes.Repeat([]byte{0x91}, event.MaxDepth+1)
	deep = append(deep, 0xc0)
	tests := map[string][]byte{
		"empty":          {},
		"truncated str":  {0xa5, 'a'},
		"truncated map":  {0x82, 0xa1, 'a', 0x01},
		"never used":     {0xc1},
		"truncated f64":  {0xcb, 0, 0},
		"truncated ext":  {0xc7, 0x10, 0x01},
		"truncated u32":  {0xce, 1},
		"huge str32 len": {0xdb, 0xff, 0xff, 0xff, 0xff},
		"huge map32":     {0xdf, 0xff, 0xff, 0xff, 0xff},
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, _, err := AppendJSON(nil, in); !errors.Is(err, event.ErrEntry) {
				t.Errorf("err = %v, want event.ErrEntry", err)
			}
		})
	}
	if _, _, err := AppendJSON(nil, deep); !errors.Is(err, event.ErrTooDeep) {
		t.Errorf("%d levels: err = %v, want event.ErrTooDeep", event.MaxDepth+1, err)
	}
	if out, rest, err := AppendJSON(nil, deep[1:]); err != nil || len(rest) != 0 || len(out) != 2*event.MaxDepth+len("null") {
		t.Errorf("%d levels: %q, %v", event.MaxDepth, out, err)
	}
}

// TestAppendJSONRoundTrip compares the transcoder with encoding/json on
// random records: decoding our JSON must give what msgp decodes, encoded and
// decoded by encoding/json.
func TestAppendJSONRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		rec := randomValue(r, 0, true)
		b, err := msgp.AppendIntf(nil, rec)
		if err != nil {
			t.Fatal(err)
		}
		out, rest, err := AppendJSON(nil, b)
		if err != nil || len(rest) != 0 {
			t.Fatalf("record %d: err %v, %d left", i, err, len(rest))
		}
		decoded, _, err := msgp.ReadIntfBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		wantJSON, err := json.Marshal(jsonable(decoded))
		if err != nil {
			t.Fatal(err)
		}
		var got, want any
		if err := unmarshalNumbers(out, &got); err != nil {
			t.Fatalf("record %d: our JSON does not parse: %v\n%s", i, err, out)
		}
		if err := unmarshalNumbers(wantJSON, &want); err != nil {
			t.Fatal(err)
		}
		if err := sameJSON(got, want); err != nil {
			t.Fatalf("record %d: %v\nours: %s\nwant: %s", i, err, out, wantJSON)
		}
	}
}

func unmarshalNumbers(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// jsonable turns msgp's decoded values into what encoding/json writes as
// barge does: bytes as strings.
func jsonable(v any) any {
	switch v := v.(type) {
	case []byte:
		return string(v)
	case map[string]any:
		for k, x := range v {
			v[k] = jsonable(x)
		}
	case []any:
		for i, x := range v {
			v[i] = jsonable(x)
		}
	}
	return v
}

// sameJSON compares decoded JSON, numbers by value.
func sameJSON(a, b any) error {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return fmt.Errorf("map %v vs %v", a, b)
		}
		for k, v := range a {
			if err := sameJSON(v, bm[k]); err != nil {
				return fmt.Errorf("%q: %w", k, err)
			}
		}
		return nil
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) {
			return fmt.Errorf("array %v vs %v", a, b)
		}
		for i := range a {
			if err := sameJSON(a[i], bs[i]); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return nil
	case json.Number:
		bn, ok := b.(json.Number)
		if !ok {
			return fmt.Errorf("number %v vs %v", a, b)
		}
		if ai, err := strconv.ParseInt(string(a), 10, 64); err == nil {
			if bi, err := strconv.ParseInt(string(bn), 10, 64); err == nil && ai == bi {
				return nil
			}
		}
		if au, err := strconv.ParseUint(string(a), 10, 64); err == nil {
			if bu, err := strconv.ParseUint(string(bn), 10, 64); err == nil && au == bu {
				return nil
			}
		}
		af, err1 := strconv.ParseFloat(string(a), 64)
		bf, err2 := strconv.ParseFloat(string(bn), 64)
		if err1 != nil || err2 != nil || af != bf {
			return fmt.Errorf("number %v vs %v", a, b)
		}
		return nil
	default:
		if a != b {
			return fmt.Errorf("%#v vs %#v", a, b)
		}
		return nil
	}
}

var randKeys = []string{"msg", "level", "host", "a\"b", "ключ", "ctl\x01", "bad\xff", "", "line\nbreak"}

func randomString(r *rand.Rand) string {
	switch r.IntN(4) {
	case 0:
		return randKeys[r.IntN(len(randKeys))]
	case 1: // arbitrary bytes, often invalid UTF-8
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return string(b)
	case 2:
		return string(bytes.Repeat([]byte("long é "), r.IntN(60)))
	default:
		return fmt.Sprintf("value-%d <tag> & \u2028 \U0001F600", r.IntN(1000))
	}
}

func randomValue(r *rand.Rand, depth int, isMap bool) any {
	if isMap || (depth < 4 && r.IntN(8) == 0) {
		// Keys that differ only in invalid UTF-8 collide in JSON: avoid them,
		// as the two decoders would keep different ones.
		m := map[string]any{}
		seen := map[string]bool{}
		for range r.IntN(8) {
			k := randomString(r)
			norm, _ := json.Marshal(k)
			if seen[string(norm)] {
				continue
			}
			seen[string(norm)] = true
			m[k] = randomValue(r, depth+1, false)
		}
		return m
	}
	if depth < 4 && r.IntN(10) == 0 {
		a := make([]any, r.IntN(5))
		for i := range a {
			a[i] = randomValue(r, depth+1, false)
		}
		return a
	}
	switch r.IntN(12) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return r.Int64() >> r.IntN(64)
	case 3:
		return -r.Int64() >> r.IntN(64)
	case 4:
		return r.Uint64()
	case 5:
		f := math.Float64frombits(r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0.0
		}
		return f
	case 6:
		return r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
	case 7:
		return float32(r.NormFloat64() * 1000)
	case 8:
		b := make([]byte, r.IntN(20))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return b
	default:
		return randomString(r)
	}
}

func FuzzJSON(f *testing.F) {
	f.Add(record(f, "msg", "hello", "n", 1, "f", 1.5, "nested", kvs{"a", []any{nil, true}}))
	f.Add(logRecord(f, 0))
	f.Add([]byte{0x81, 0xa1, 'k', 0xd7, 0x00, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0x81, 0x01, 0xc4, 0x02, 0xff, 0xfe})
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x81, 0xa1, 'x', 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, rest, err := AppendJSON(nil, b)
		if err != nil {
			if !errors.Is(err, event.ErrEntry) {
				t.Fatalf("error %v does not wrap event.ErrEntry", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON %q from %x", out, b)
		}
		after, err := msgp.Skip(b)
		if err != nil {
			t.Fatalf("transcoded what msgp cannot skip: %v", err)
		}
		if len(after) != len(rest) {
			t.Fatalf("rest of %d bytes, msgp.Skip leaves %d", len(rest), len(after))
		}
	})
}

// TestAppendStringPositions puts every kind of byte at every position of
// strings of every short length, with and without bytes after them in
// their array, and compares with encoding/json.
func TestAppendStringPositions(t *testing.T) {
	specials := []byte{'"', '\\', '\n', 0x01, 0x1f, 0x7f, 0x80, 0xff, 0xc3, 'a', ' ', '<'}
	for n := 0; n <= 20; n++ {
		for pos := 0; pos < n; pos++ {
			for _, c := range specials {
				s := bytes.Repeat([]byte("x"), n)
				s[pos] = c
				if c == 0xc3 && pos+1 < n {
					s[pos+1] = 0xa9 // é
				}
				want, _ := json.Marshal(string(s))
				want = bytes.ReplaceAll(want, []byte(`\u003c`), []byte("<"))
				want = bytes.ReplaceAll(want, []byte(`\u0026`), []byte("&"))
				want = bytes.ReplaceAll(want, []byte(`\u003e`), []byte(">"))
				padded := append(append([]byte{}, s...), bytes.Repeat([]byte{'"'}, 8)...)
				for _, in := range [][]byte{s, padded[:n]} {
					if got := appendString(nil, in); !bytes.Equal(got, want) {
						t.Fatalf("%q (cap %d): got %s, want %s", s, cap(in), got, want)
					}
				}
			}
		}
	}
}
