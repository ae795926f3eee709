package route

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/buffer/event"
)

// accessor is a parsed Fluentd record_accessor: "key", "$.a.b", "$['a']['b']",
// "$.a[0]".
type accessor []step

type step struct {
	key   string
	index int
	isIdx bool
}

// parseAccessor parses a record key. A key not starting with "$." or "$["
// names a top-level field, dots and all, as in Fluentd.
func parseAccessor(s string) (accessor, error) {
	if s == "" {
		return nil, errors.New("empty key")
	}
	if !strings.HasPrefix(s, "$.") && !strings.HasPrefix(s, "$[") {
		return accessor{{key: s}}, nil
	}
	var acc accessor
	rest := s[1:]
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				return nil, fmt.Errorf("record accessor %q: empty field name", s)
			}
			acc = append(acc, step{key: rest[:end]})
			rest = rest[end:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("record accessor %q: unclosed '['", s)
			}
			in := rest[1:end]
			rest = rest[end+1:]
			if len(in) >= 2 && (in[0] == '\'' || in[0] == '"') && in[len(in)-1] == in[0] {
				acc = append(acc, step{key: in[1 : len(in)-1]})
				continue
			}
			i, err := strconv.Atoi(in)
			if err != nil {
				return nil, fmt.Errorf("record accessor %q: %q is neither a quoted key nor an index", s, in)
			}
			acc = append(acc, step{index: i, isIdx: true})
		default:
			return nil, fmt.Errorf("record accessor %q: unexpected %q", s, rest[0])
		}
	}
	if len(acc) == 0 {
		return nil, fmt.Errorf("record accessor %q: no field", s)
	}
	return acc, nil
}

// lookup returns the raw msgpack value the accessor names in record (a
// msgpack map), or false when there is none.
func (a accessor) lookup(record []byte) ([]byte, bool) {
	v := record
	for _, st := range a {
		var ok bool
		if st.isIdx {
			v, ok = arrayIndex(v, st.index)
		} else {
			v, ok = mapValue(v, st.key)
		}
		if !ok {
			return nil, false
		}
	}
	return v, true
}

// mapValue returns the value of key in the msgpack map m (the last one when
// the key is repeated, as a Ruby Hash would keep).
func mapValue(m []byte, key string) ([]byte, bool) {
	if msgp.NextType(m) != msgp.MapType {
		return nil, false
	}
	n, b, err := msgp.ReadMapHeaderBytes(m)
	if err != nil {
		return nil, false
	}
	var found []byte
	ok := false
	for range n {
		k, isStr, rest, err := readKey(b)
		if err != nil {
			return nil, false
		}
		after, err := msgp.Skip(rest)
		if err != nil {
			return nil, false
		}
		if isStr && string(k) == key {
			found, ok = rest[:len(rest)-len(after)], true
		}
		b = after
	}
	return found, ok
}

func arrayIndex(a []byte, i int) ([]byte, bool) {
	if msgp.NextType(a) != msgp.ArrayType {
		return nil, false
	}
	n, b, err := msgp.ReadArrayHeaderBytes(a)
	if err != nil {
		return nil, false
	}
	if i < 0 {
		i += int(n)
	}
	if i < 0 || i >= int(n) {
		return nil, false
	}
	for j := 0; ; j++ {
		after, err := msgp.Skip(b)
		if err != nil {
			return nil, false
		}
		if j == i {
			return b[:len(b)-len(after)], true
		}
		b = after
	}
}

// readKey reads a map key. For str and bin keys it returns the bytes and
// true; other keys are skipped and returned as not strings.
func readKey(b []byte) (key []byte, isStr bool, rest []byte, err error) {
	switch msgp.NextType(b) {
	case msgp.StrType:
		key, rest, err = msgp.ReadStringZC(b)
		return key, err == nil, rest, err
	case msgp.BinType:
		key, rest, err = msgp.ReadBytesZC(b)
		return key, err == nil, rest, err
	default:
		rest, err = msgp.Skip(b)
		return nil, false, rest, err
	}
}

// appendText appends the text form of the msgpack value v by event's one
// rule (event.AppendText); a malformed value appends nothing.
func appendText(dst, v []byte) []byte {
	out, _, err := event.AppendText(dst, v)
	if err != nil {
		return dst
	}
	return out
}
