package parse

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

// TestTranscoder checks the transcoder of other inputs: its Field hook
// and Tail, and where its errors are.
func TestTranscoder(t *testing.T) {
	tr := Transcoder{
		// drop "drop", make "n" a string, keep the rest
		Field: func(dst []byte, key, val int) ([]byte, error) {
			k, _, _ := msgp.ReadStringZC(dst[key:])
			switch string(k) {
			case "drop":
				return dst[:key], nil
			case "n":
				return msgp.AppendString(dst[:val], "N"), nil
			case "bad":
				return dst, errors.New("bad field")
			}
			return dst, nil
		},
		Tail:    msgp.AppendString(msgp.AppendString(nil, "file"), "/x"),
		TailLen: 1,
	}
	got, err := tr.AppendObject([]byte{0xc0}, []byte(` {"a":{"drop":1},"drop":2,"n":3.5,"s":"\u00e9"} `))
	if err != nil || got[0] != 0xc0 {
		t.Fatalf("%x %v", got, err)
	}
	v, rest, err := decodeValue(got[1:])
	want := map[string]any{"a": map[string]any{"drop": int64(1)}, "n": "N", "s": "é", "file": "/x"}
	if err != nil || len(rest) != 0 || !reflect.DeepEqual(v, want) {
		t.Fatalf("%v %x %v", v, rest, err)
	}
	if got, err := tr.AppendObject(nil, []byte(`{}`)); err != nil || !bytes.Equal(got, append([]byte{0x81}, tr.Tail...)) {
		t.Fatalf("empty object: %x %v", got, err)
	}
	cases := []struct {
		src, err string
		offset   int
	}{
		{`[1]`, "invalid JSON: not a JSON object", 0},
		{`  `, "invalid JSON: not a JSON object", 2},
		{`{"a":1} x`, "invalid JSON: data after the object", 8},
		{`{"a":tru}`, "invalid JSON: unexpected 't'", 5},
		{`{"a":1`, "invalid JSON: unexpected end", 6},
		{`{"a":1e400}`, "invalid JSON: number out of range", 10},
		{`{"a":` + strings.Repeat("[", event.MaxDepth) + strings.Repeat("]", event.MaxDepth) + `}`, event.ErrTooDeep.Error(), 5 + event.MaxDepth - 1},
	}
	for _, c := range cases {
		_, err := (&Transcoder{}).AppendObject(nil, []byte(c.src))
		var je *JSONError
		if !errors.As(err, &je) || err.Error() != c.err || je.Offset != c.offset {
			t.Errorf("%q: %v (%+v), want %q at %d", c.src, err, je, c.err, c.offset)
		}
	}
	if _, err := tr.AppendObject(nil, []byte(`{"bad":1}`)); err == nil || err.Error() != "bad field" {
		t.Errorf("Field's error: %v", err)
	}
	if _, err := tr.AppendObject(nil, []byte(`{"a":`+strings.Repeat("[", 200)+`}`)); !errors.Is(err, event.ErrTooDeep) {
		t.Errorf("deep: %v", err)
	}
}
