package route

import (
	"reflect"
	"testing"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

// kv is an ordered record for tests.
type kv []any // key, value, key, value...

func appendRecord(dst []byte, rec kv) []byte {
	dst = msgp.AppendMapHeader(dst, uint32(len(rec)/2))
	for i := 0; i < len(rec); i += 2 {
		dst = msgp.AppendString(dst, rec[i].(string))
		var err error
		dst, err = msgp.AppendIntf(dst, rec[i+1])
		if err != nil {
			panic(err)
		}
	}
	return dst
}

// stream builds an entries stream, times 1000, 1001, ... (EventTime for odd ones).
func stream(recs ...kv) []byte {
	var b []byte
	for i, r := range recs {
		var raw []byte
		if i%2 == 1 {
			raw = event.AppendEventTime(nil, int64(1000+i), 5)
		} else {
			raw = msgp.AppendInt64(nil, int64(1000+i))
		}
		b = event.AppendEntry(b, raw, appendRecord(nil, r))
	}
	return b
}

type decoded struct {
	rawTime string
	rec     map[string]any
}

func decode(t *testing.T, b []byte) []decoded {
	t.Helper()
	var out []decoded
	for len(b) > 0 {
		e, rest, err := event.Next(b)
		if err != nil {
			t.Fatalf("output stream: %v", err)
		}
		m, left, err := msgp.ReadMapStrIntfBytes(e.Record, nil)
		if err != nil || len(left) != 0 {
			t.Fatalf("record: %v (left %d)", err, len(left))
		}
		out = append(out, decoded{string(e.RawTime), m})
		b = rest
	}
	return out
}

func records(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, d := range decode(t, b) {
		out = append(out, d.rec)
	}
	return out
}

func equal(t *testing.T, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
}
