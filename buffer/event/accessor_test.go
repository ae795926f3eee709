package event

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// raw is msgpack already encoded, for obj and arr.
type raw []byte

// obj encodes a map with its pairs in the order given: k1, v1, k2, v2...
func obj(kv ...any) raw {
	b := msgp.AppendMapHeader(nil, uint32(len(kv)/2))
	for _, x := range kv {
		b = appendAny(b, x)
	}
	return b
}

func arr(vs ...any) raw {
	b := msgp.AppendArrayHeader(nil, uint32(len(vs)))
	for _, x := range vs {
		b = appendAny(b, x)
	}
	return b
}

func appendAny(b []byte, x any) []byte {
	if r, ok := x.(raw); ok {
		return append(b, r...)
	}
	b, err := msgp.AppendIntf(b, x)
	if err != nil {
		panic(err)
	}
	return b
}

// jsonOf renders msgpack as JSON, in encoded order.
func jsonOf(t *testing.T, b []byte) string {
	t.Helper()
	var w bytes.Buffer
	if _, err := msgp.UnmarshalAsJSON(&w, b); err != nil {
		t.Fatalf("not msgpack: %v", err)
	}
	return w.String()
}

func TestParseAccessor(t *testing.T) {
	tests := []struct {
		in   string
		want []step
	}{
		{"message", []step{{key: "message"}}},
		{"a.b", []step{{key: "a.b"}}},   // a plain key keeps its dots
		{"$", []step{{key: "$"}}},       // neither "$." nor "$["
		{"$a.b", []step{{key: "$a.b"}}}, // likewise
		{"a[0]", []step{{key: "a[0]"}}}, // likewise
		{"$.a", []step{{key: "a"}}},
		{"$.kubernetes.namespace_name", []step{{key: "kubernetes"}, {key: "namespace_name"}}},
		{"$.a[0]", []step{{key: "a"}, {index: 0, isIdx: true}}},
		{"$.a[-1].b", []step{{key: "a"}, {index: -1, isIdx: true}, {key: "b"}}},
		{"$.a[1][2]", []step{{key: "a"}, {index: 1, isIdx: true}, {index: 2, isIdx: true}}},
		{"$.a.[0]", []step{{key: "a"}, {index: 0, isIdx: true}}},
		{"$.[0]", []step{{index: 0, isIdx: true}}},
		{"$.a]b", []step{{key: "a]b"}}},
		{"$.key1[0]['key2']", []step{{key: "key1"}, {index: 0, isIdx: true}, {key: "key2"}}},
		{"$.labels['app.kubernetes.io/name']", []step{{key: "labels"}, {key: "app.kubernetes.io/name"}}},
		{"$['a']['b']", []step{{key: "a"}, {key: "b"}}},
		{`$["a"]["b c"]`, []step{{key: "a"}, {key: "b c"}}},
		{"$['a.b'][0]", []step{{key: "a.b"}, {index: 0, isIdx: true}}},
		{"$[0]", []step{{index: 0, isIdx: true}}},
		{"$['']", []step{{key: ""}}},
		{`$['a"]b']`, []step{{key: `a"]b`}}},
		{`$["a']b"]`, []step{{key: `a']b`}}},
		{"$['[x]']", []step{{key: "[x]"}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, err := ParseAccessor(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(a.steps) != len(tt.want) {
				t.Fatalf("steps %+v, want %+v", a.steps, tt.want)
			}
			for i := range a.steps {
				if a.steps[i] != tt.want[i] {
					t.Fatalf("steps %+v, want %+v", a.steps, tt.want)
				}
			}
			if a.String() != tt.in {
				t.Errorf("String %q", a.String())
			}
		})
	}
}

func TestParseAccessorErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty key"},
		{"$.", "empty field name"},
		{"$.a.", "empty field name"},
		{"$.a..b", "empty field name"},
		{"$..a", "empty field name"},
		{"$.a b", "white space"},
		{"$.a\tb", "white space"},
		{"$.a[", "without ']'"},
		{"$.a[0", "without ']'"},
		{"$[", "without ']'"},
		{"$.a[]", "neither an index nor a quoted name"},
		{"$.a[x]", "neither an index nor a quoted name"},
		{"$.a[1.5]", "neither an index nor a quoted name"},
		{"$.a[+1]", "neither an index nor a quoted name"},
		{"$.a[-]", "neither an index nor a quoted name"},
		{"$.a[010]", "leading zero"},
		{"$.a[99999999999999999999]", "out of range"},
		{"$.a[0]x", "after ']'"},
		{"$.a[0]x[1]", "after ']'"}, // Fluentd skips the x; barge refuses it
		{"$['a'", "closing ']"},
		{"$['a]", "closing ']"},
		{`$['a"]`, "closing ']"},
		{"$['a'].b", "bracket notation"},
		{"$['a'].x['b']", "bracket notation"}, // Fluentd reads ['a']['b']
		{"$['a']x", "after ']'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseAccessor(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
			if tt.in != "" && !strings.Contains(err.Error(), `"`+tt.in+`"`) && !strings.Contains(err.Error(), "record accessor") {
				t.Errorf("err %v does not quote the key", err)
			}
		})
	}
}

// accRecord is the record of the lookup and delete tests.
var accRecord = obj(
	"message", "hi",
	"a.b", "dotted",
	"kubernetes", obj("namespace_name", "prod", "labels", obj("app", "web", "app.kubernetes.io/name", "shop")),
	"ids", arr(1, "two", obj("x", 3)),
	"n", 5,
	"dup", 1, "dup", 2,
)

func TestAccessorLookup(t *testing.T) {
	tests := []struct {
		key  string
		want string // JSON of the value; "" for missing
	}{
		{"message", `"hi"`},
		{"$.message", `"hi"`},
		{"$['message']", `"hi"`},
		{"a.b", `"dotted"`},
		{"$['a.b']", `"dotted"`},
		{"$.a.b", ""},
		{"$.kubernetes.namespace_name", `"prod"`},
		{"$['kubernetes']['labels']['app']", `"web"`},
		{"$.kubernetes.labels['app.kubernetes.io/name']", `"shop"`},
		{"$.kubernetes.labels", `{"app":"web","app.kubernetes.io/name":"shop"}`},
		{"$.ids[0]", `1`},
		{"$.ids[1]", `"two"`},
		{"$.ids[-1].x", `3`},
		{"$.ids[-3]", `1`},
		{"$.ids[3]", ""},
		{"$.ids[-4]", ""},
		{"$.ids.x", ""},         // a name in an array
		{"$.n[0]", ""},          // an index in an int
		{"$.message.x", ""},     // a name in a string
		{"$.kubernetes[0]", ""}, // an index in a map
		{"$[0]", ""},
		{"$.missing.deeper", ""},
		{"dup", `2`}, // the last one counts
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			a, err := ParseAccessor(tt.key)
			if err != nil {
				t.Fatal(err)
			}
			v, ok := a.Lookup(accRecord)
			if tt.want == "" {
				if ok {
					t.Fatalf("found %s, want missing", jsonOf(t, v))
				}
				return
			}
			if !ok {
				t.Fatal("missing")
			}
			if got := jsonOf(t, v); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestAccessorAppendText(t *testing.T) {
	for key, want := range map[string]string{
		"$.kubernetes.namespace_name": "prod",
		"$.ids[0]":                    "1",
		"$.ids[2]":                    `{"x":3}`,
		"$.nope":                      "",
	} {
		a, _ := ParseAccessor(key)
		got, ok := a.AppendText([]byte("<"), accRecord)
		if string(got) != "<"+want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", key, got, ok, want)
		}
	}
}

func TestAccessorAppendDelete(t *testing.T) {
	small := obj("a", obj("b", 1, "c", arr(1, 2, 3)), "d", "x", "d", "y", "e", 0)
	tests := []struct {
		key  string
		want string // JSON after; "" when nothing is removed
	}{
		{"e", `{"a":{"b":1,"c":[1,2,3]},"d":"x","d":"y"}`},
		{"$.e", `{"a":{"b":1,"c":[1,2,3]},"d":"x","d":"y"}`},
		{"d", `{"a":{"b":1,"c":[1,2,3]},"e":0}`}, // every pair of the name
		{"$.a.b", `{"a":{"c":[1,2,3]},"d":"x","d":"y","e":0}`},
		{"$['a']['c']", `{"a":{"b":1},"d":"x","d":"y","e":0}`},
		{"$.a.c[0]", `{"a":{"b":1,"c":[2,3]},"d":"x","d":"y","e":0}`},
		{"$.a.c[-1]", `{"a":{"b":1,"c":[1,2]},"d":"x","d":"y","e":0}`},
		{"$.a", `{"d":"x","d":"y","e":0}`},
		{"$.a.c[3]", ""},
		{"$.a.c.x", ""}, // a name in an array: nothing, as Fluentd's rescue
		{"$.a[0]", ""},  // an index in a map
		{"$.a.b.x", ""}, // in an int
		{"$.x.y", ""},
		{"$[0]", ""},
		{"zz", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			a, err := ParseAccessor(tt.key)
			if err != nil {
				t.Fatal(err)
			}
			in := append(bytes.Clone(small), 0xc0) // bytes after the record are kept
			got, ok := a.AppendDelete([]byte{0x01}, in)
			if got[0] != 0x01 || got[len(got)-1] != 0xc0 {
				t.Fatalf("prefix or suffix lost: % x", got)
			}
			got = got[1 : len(got)-1]
			if tt.want == "" {
				if ok || !bytes.Equal(got, small) {
					t.Fatalf("removed: %s", jsonOf(t, got))
				}
				return
			}
			if !ok {
				t.Fatal("nothing removed")
			}
			if s := jsonOf(t, got); s != tt.want {
				t.Fatalf("got %s, want %s", s, tt.want)
			}
			if _, err := CheckRecord(got); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A map header shrinks when the count does: map16 of 16 pairs becomes a
// fixmap of 15.
func TestAccessorAppendDeleteHeader(t *testing.T) {
	kv := []any{}
	for i := range 16 {
		kv = append(kv, string(rune('a'+i)), i)
	}
	m := obj(kv...)
	if m[0] != 0xde {
		t.Fatalf("want map16, got 0x%02x", m[0])
	}
	got, ok := FieldAccessor("a").AppendDelete(nil, m)
	if !ok || got[0] != 0x8f || len(got) != len(m)-2-2-1 {
		t.Fatalf("% x", got[:4])
	}
	if _, err := CheckRecord(got); err != nil {
		t.Fatal(err)
	}
}

func TestFieldAccessor(t *testing.T) {
	a := FieldAccessor("$.a")
	if name, ok := a.Top(); !ok || name != "$.a" {
		t.Fatalf("Top %q %v", name, ok)
	}
	if v, ok := a.Lookup(obj("$.a", 1, "a", 2)); !ok || v[0] != 1 {
		t.Fatalf("lookup % x", v)
	}
	for key, top := range map[string]string{"a": "a", "$.a": "a", "$['a.b']": "a.b", "$.a.b": "", "$[0]": ""} {
		a, _ := ParseAccessor(key)
		if name, ok := a.Top(); name != top || ok != (top != "") {
			t.Errorf("%s: Top %q %v", key, name, ok)
		}
	}
}

// FuzzAccessor parses any key and applies it to any bytes: errors, never a
// panic; a value found is one whole msgpack value; a deletion from a
// well-formed record leaves a well-formed record without the name.
func FuzzAccessor(f *testing.F) {
	for _, k := range []string{
		"a", "$.a.b", "$['a']['b']", "$.a[0]", "$.a[-1].b", "$.key1[0]['key2']", `$["a"]`, "$.a.[0]",
		"$['a", "$.a..b", "$[0]x", "$.a[010]", "$.labels['app.kubernetes.io/name']", "$['']", "$",
	} {
		f.Add(k, []byte(accRecord))
	}
	f.Add("$.a.c[1]", []byte(obj("a", obj("c", arr(1, arr(2), 3)))))
	f.Add("$.a", []byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Add("$[0]", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0})
	f.Fuzz(func(t *testing.T, key string, b []byte) {
		a, err := ParseAccessor(key)
		if err != nil {
			if !strings.Contains(err.Error(), "record accessor") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		if a.String() != key || len(a.steps) == 0 {
			t.Fatalf("parsed %q as %q %+v", key, a.String(), a.steps)
		}
		if v, ok := a.Lookup(b); ok {
			if n, err := Skip(v); err != nil || n != len(v) {
				t.Fatalf("value % x is not one msgpack value (%d, %v)", v, n, err)
			}
		}
		a.AppendText(nil, b)
		out, ok := a.AppendDelete(nil, b)
		if !ok {
			if !bytes.Equal(out, b) {
				t.Fatal("changed without removing")
			}
			return
		}
		if _, err := CheckRecord(b); err != nil {
			return
		}
		if _, err := CheckRecord(out); err != nil {
			t.Fatalf("deleting %q from a record: %v", key, err)
		}
		if len(out) >= len(b) {
			t.Fatalf("deleting %q did not shrink the record", key)
		}
		if name, ok := a.Top(); ok {
			if _, found := FieldAccessor(name).Lookup(out); found {
				t.Fatalf("%q still there after deleting", name)
			}
		}
	})
}
