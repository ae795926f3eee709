package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/output/bigquery/bqschema"
)

func FuzzBigQueryKey(f *testing.F) {
	for _, s := range []string{"", "a", "#TH", "a.b", "1st", "_PARTITIONTIME", "__root__", "日本語", "\xff", "_TABLE", strings.Repeat("x", 301), "_change_type_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		name := bqschema.Name(key)
		if !validBigQueryName.MatchString(name) || !bqschema.IsName(name) {
			t.Fatalf("bqschema.Name(%q) = %q is not a valid name", key, name)
		}
		if bqschema.HasReservedPrefix(name) {
			t.Fatalf("bqschema.Name(%q) = %q is reserved", key, name)
		}
		if again := bqschema.Name(key); again != name {
			t.Fatalf("bqschema.Name(%q) = %q, then %q", key, name, again)
		}
		if again := bqschema.Name(name); again != name {
			t.Fatalf("bqschema.Name(%q) = %q is not a fixed point", name, again)
		}
		if bqschema.IsName(key) && name != key {
			t.Fatalf("valid %q became %q", key, name)
		}
		for k := 2; k < 200; k += 97 {
			if s := suffixedName(name, k); !bqschema.IsName(s) {
				t.Fatalf("suffixedName(%q, %d) = %q is not valid", name, k, s)
			}
		}
	})
}

// fuzzRecord builds a msgpack map from fuzz bytes: the bytes choose the
// shape (maps, arrays, scalars) and give the keys, which are often alike.
type fuzzRecord struct {
	data  []byte
	depth int
}

func (g *fuzzRecord) byte() byte {
	if len(g.data) == 0 {
		return 0
	}
	c := g.data[0]
	g.data = g.data[1:]
	return c
}

func (g *fuzzRecord) key(b []byte) []byte {
	c := g.byte()
	switch c % 16 {
	case 0:
		return msgp.AppendInt64(b, int64(g.byte()))
	case 1:
		return msgp.AppendNil(b)
	case 2:
		return msgp.AppendBytes(b, []byte{g.byte()})
	case 3, 4, 5:
		// Keys from a small alphabet collide often.
		n := int(g.byte() % 4)
		k := make([]byte, n)
		for i := range k {
			k[i] = "aA_.-1é"[g.byte()%7]
		}
		return msgp.AppendString(b, string(k))
	}
	n := int(c % 12)
	if n > len(g.data) {
		n = len(g.data)
	}
	k := g.data[:n]
	g.data = g.data[n:]
	return msgp.AppendStringFromBytes(b, k)
}

func (g *fuzzRecord) value(b []byte) []byte {
	c := g.byte()
	if g.depth < 6 {
		switch c % 8 {
		case 0:
			return g.mapValue(b)
		case 1:
			n := int(g.byte() % 4)
			b = msgp.AppendArrayHeader(b, uint32(n))
			g.depth++
			for range n {
				b = g.value(b)
			}
			g.depth--
			return b
		}
	}
	switch c % 4 {
	case 0:
		return msgp.AppendNil(b)
	case 1:
		return msgp.AppendInt64(b, int64(int8(g.byte())))
	case 2:
		return msgp.AppendFloat64(b, float64(g.byte())/3)
	}
	return msgp.AppendString(b, "v")
}

func (g *fuzzRecord) mapValue(b []byte) []byte {
	n := int(g.byte() % 8)
	b = msgp.AppendMapHeader(b, uint32(n))
	g.depth++
	for range n {
		b = g.key(b)
		b = g.value(b)
	}
	g.depth--
	return b
}

// checkKeys walks JSON text and fails unless it is valid and every
// object's keys are valid BigQuery names, unique case-insensitively.
func checkKeys(t *testing.T, text []byte) {
	t.Helper()
	if !json.Valid(text) {
		t.Fatalf("invalid JSON: %s", text)
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	type level struct {
		object bool
		keys   map[string]bool
		expect bool // the next token of an object is a key
	}
	var stack []*level
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%v in %s", err, text)
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expect {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			k := tok.(string)
			if !validBigQueryName.MatchString(k) || !bqschema.IsName(k) {
				t.Fatalf("key %q is not a valid name in %s", k, text)
			}
			if top.keys[strings.ToLower(k)] {
				t.Fatalf("key %q is not unique in %s", k, text)
			}
			top.keys[strings.ToLower(k)] = true
			top.expect = false
			continue
		}
		if top != nil && top.object {
			top.expect = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &level{object: true, keys: map[string]bool{}, expect: true})
		case json.Delim('['):
			stack = append(stack, &level{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

func FuzzKeyStyleRecord(f *testing.F) {
	f.Add([]byte{3, 3, 1, 2, 3, 3, 1, 3, 3, 3, 1, 4})
	f.Add([]byte("\x05\x06a.b-c#\x00\x00a-b\x08\x00\x02\x03\x03\x00\x03\x03\x01\x04\x03"))
	f.Add([]byte("\x07\x00\x05\x01\x00\x01\x00\x02\x00\x05time\x02\x04Time\x02\x03tag\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &fuzzRecord{data: data}
		rec := g.mapValue(nil)
		inject := InjectConfig{}
		if len(data) > 0 && data[0]&1 == 1 {
			inject = InjectConfig{TagKey: "tag", TimeKey: "a.b", HostnameKey: "@host", Hostname: "h", TimeType: "unixtime"}
		}
		// json
		out := bqEncode(t, DefaultConfig(), inject, EncoderOptions{OnKeyCollision: func(KeyCollision) {}}, rec)
		checkKeys(t, []byte(out))
		// msgpack: the same keys
		mp := []byte(bqEncode(t, withType("msgpack"), inject, EncoderOptions{}, rec))
		js, rest, err := AppendJSON(nil, mp)
		if err != nil || len(rest) != 0 {
			t.Fatalf("msgpack output: %v, %d bytes left", err, len(rest))
		}
		if got := strings.TrimSuffix(out, "\n"); string(js) != got {
			t.Fatalf("msgpack output %s differs from json %s", js, got)
		}
		// The same keys in reverse order get the same set of names.
		rev := reverseMap(t, rec)
		out2 := bqEncode(t, DefaultConfig(), inject, EncoderOptions{}, rev)
		if a, b := topKeys(t, out), topKeys(t, out2); !slices.Equal(a, b) {
			t.Fatalf("names depend on key order: %q vs %q", a, b)
		}
	})
}

// reverseMap reverses the pairs of the top-level msgpack map.
func reverseMap(t *testing.T, b []byte) []byte {
	n, body, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	var pairs [][]byte
	for range n {
		start := body
		if body, err = msgp.Skip(body); err == nil {
			body, err = msgp.Skip(body)
		}
		if err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, start[:len(start)-len(body)])
	}
	out := msgp.AppendMapHeader(nil, n)
	for i := len(pairs) - 1; i >= 0; i-- {
		out = append(out, pairs[i]...)
	}
	return out
}

// topKeys returns the sorted top-level keys of a JSON object.
func topKeys(t *testing.T, text string) []string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
