package parse

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

// testNow is the time given to Line in tests.
var testNow = time.Date(2024, 5, 1, 12, 0, 0, 500, time.UTC)

// rec is a decoded entry.
type rec struct {
	sec, nsec int64
	r         map[string]any
}

func (r rec) String() string {
	return fmt.Sprintf("%s %v", time.Unix(r.sec, r.nsec).UTC().Format(time.RFC3339Nano), r.r)
}

// at returns a rec at t.
func at(t time.Time, kv ...any) rec {
	m := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return rec{t.Unix(), int64(t.Nanosecond()), m}
}

// decode reads a stream, checking every entry as the buffer would.
func decode(t testing.TB, b []byte) []rec {
	t.Helper()
	var out []rec
	for len(b) > 0 {
		e, rest, err := event.Next(b)
		if err != nil {
			t.Fatalf("event.Next: %v (stream %x)", err, b)
		}
		if r, err := event.CheckRecord(e.Record); err != nil || len(r) != 0 {
			t.Fatalf("event.CheckRecord: %v, %d bytes left", err, len(r))
		}
		v, _, err := decodeValue(e.Record)
		if err != nil {
			t.Fatalf("decode record: %v", err)
		}
		out = append(out, rec{e.Sec, e.Nsec, v.(map[string]any)})
		b = rest
	}
	return out
}

// newParser returns a parser of cfg (DefaultConfig edited by edit) in UTC.
func newParser(t testing.TB, typ string, edit func(*Config)) Parser {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Type = typ
	if edit != nil {
		edit(&cfg)
	}
	p, err := New(cfg, Options{Location: time.UTC})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// run gives lines to p, then flushes, and returns the records.
func run(t testing.TB, p Parser, lines ...string) []rec {
	t.Helper()
	var out []byte
	for _, l := range lines {
		out = p.Line(out, []byte(l), testNow)
		if p.Held() < 0 {
			t.Fatalf("Held() = %d", p.Held())
		}
	}
	out = p.Flush(out, testNow)
	if h := p.Held(); h != 0 {
		t.Fatalf("Held() = %d after Flush", h)
	}
	return decode(t, out)
}

// check compares records.
func check(t *testing.T, got, want []rec) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d:\n got  %v\n want %v", len(got), len(want), got, want)
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("record %d:\n got  %v\n want %v", i, got[i], want[i])
		}
	}
}

// typeCase is one table test: a config, lines, the records expected.
type typeCase struct {
	name  string
	edit  func(*Config)
	lines []string
	want  []rec
	// unmatched is how many records are unmatched lines.
	unmatched uint64
}

func runCases(t *testing.T, typ string, cases []typeCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newParser(t, typ, c.edit)
			check(t, run(t, p, c.lines...), c.want)
			if s := p.Stats(); s.Unmatched != c.unmatched || s.Records != uint64(len(c.want)) {
				t.Errorf("Stats = %+v, want %d records, %d unmatched", s, len(c.want), c.unmatched)
			}
		})
	}
}

func utc(y, mo, d, h, mi, s, ns int) time.Time {
	return time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC)
}

// unmatched is the record of a line that did not parse.
func unmatched(line string) rec { return at(testNow, "message", line) }

// decodeValue decodes a msgpack value as msgp.ReadIntfBytes does (ints as
// int64, uints as uint64, extensions as *msgp.RawExtension), but takes
// empty map keys, which msgp's size check refuses.
func decodeValue(b []byte) (any, []byte, error) {
	switch msgp.NextType(b) {
	case msgp.MapType:
		n, rest, err := msgp.ReadMapHeaderBytes(b)
		if err != nil {
			return nil, b, err
		}
		m := make(map[string]any, n)
		for range n {
			var k []byte
			if k, rest, err = msgp.ReadStringZC(rest); err != nil {
				return nil, b, err
			}
			var v any
			if v, rest, err = decodeValue(rest); err != nil {
				return nil, b, err
			}
			m[string(k)] = v
		}
		return m, rest, nil
	case msgp.ArrayType:
		n, rest, err := msgp.ReadArrayHeaderBytes(b)
		if err != nil {
			return nil, b, err
		}
		a := make([]any, n)
		for i := range a {
			if a[i], rest, err = decodeValue(rest); err != nil {
				return nil, b, err
			}
		}
		return a, rest, nil
	}
	return msgp.ReadIntfBytes(b)
}
