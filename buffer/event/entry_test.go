package event

import (
	"errors"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

func record(kv ...string) []byte {
	b := msgp.AppendMapHeader(nil, uint32(len(kv)/2))
	for _, s := range kv {
		b = msgp.AppendString(b, s)
	}
	return b
}

func TestNextRoundTrip(t *testing.T) {
	var stream []byte
	stream = AppendEntry(stream, msgp.AppendUint64(nil, 1700000000), record("a", "b"))
	stream = AppendEntry(stream, AppendEventTime(nil, 1700000001, 123456789), record("k", "v", "x", "y"))
	stream = AppendEntry(stream, msgp.AppendInt64(nil, 5), record())

	want := []struct{ sec, nsec int64 }{{1700000000, 0}, {1700000001, 123456789}, {5, 0}}
	rest := stream
	for i, w := range want {
		var e Entry
		var err error
		e, rest, err = Next(rest)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if e.Sec != w.sec || e.Nsec != w.nsec {
			t.Errorf("entry %d: time %d.%d, want %d.%d", i, e.Sec, e.Nsec, w.sec, w.nsec)
		}
		if got := AppendEntry(nil, e.RawTime, e.Record); len(got) == 0 {
			t.Errorf("entry %d: empty re-encoding", i)
		}
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes left", len(rest))
	}
	n, lo, hi, err := Count(stream)
	if err != nil || n != 3 || lo != 5e9 || hi != 1700000001*1e9+123456789 {
		t.Fatalf("Count = %d %d %d %v", n, lo, hi, err)
	}
}

func TestNextRejects(t *testing.T) {
	cases := map[string][]byte{
		"empty":          nil,
		"not array":      msgp.AppendString(nil, "x"),
		"three elements": append(append(msgp.AppendArrayHeader(nil, 3), msgp.AppendUint64(nil, 1)...), append(record(), msgp.AppendNil(nil)...)...),
		"negative time":  AppendEntry(nil, msgp.AppendInt64(nil, -1), record()),
		"string time":    AppendEntry(nil, msgp.AppendString(nil, "now"), record()),
		"float time":     AppendEntry(nil, msgp.AppendFloat64(nil, 1.5), record()),
		"record not map": AppendEntry(nil, msgp.AppendUint64(nil, 1), msgp.AppendString(nil, "r")),
		"truncated":      AppendEntry(nil, msgp.AppendUint64(nil, 1), record("a", "b"))[:6],
		"bad nsec":       AppendEntry(nil, AppendEventTime(nil, 1, 2e9), record()),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, _, err := Next(b); !errors.Is(err, ErrEntry) {
				t.Fatalf("Next = %v, want ErrEntry", err)
			}
		})
	}
}

func FuzzNext(f *testing.F) {
	f.Add(AppendEntry(nil, msgp.AppendUint64(nil, 1), record("a", "b")))
	f.Add(AppendEntry(nil, AppendEventTime(nil, 1, 2), record("a", "b")))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, rest, err := Next(b)
		if err != nil {
			return
		}
		again := AppendEntry(nil, e.RawTime, e.Record)
		if len(again)+len(rest) != len(b) {
			t.Fatalf("re-encoded %d + rest %d != input %d", len(again), len(rest), len(b))
		}
	})
}
