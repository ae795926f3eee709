package codec

import (
	"bytes"
	"errors"
	"runtime"
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/buffer/event"
)

// nested returns a record nested levels deep: {"a": {"a": ... {}}}, with
// an array at every third level ({"a": {"a": [{"a": ...}]}}) so that both
// kinds count.
func nested(levels int) []byte {
	var b []byte
	for l := 1; l < levels; l++ {
		if l%3 == 0 {
			b = append(b, 0x91) // [x]
			continue
		}
		b = append(b, 0x81, 0xa1, 'a') // {"a": x}
	}
	return append(b, 0x80) // {} at the bottom
}

// depthOf measures nesting recursively, as a reference (small inputs only).
func depthOf(b []byte) (int, []byte) {
	switch msgp.NextType(b) {
	case msgp.MapType:
		n, rest, _ := msgp.ReadMapHeaderBytes(b)
		deepest := 0
		for range 2 * n {
			var d int
			d, rest = depthOf(rest)
			deepest = max(deepest, d)
		}
		return deepest + 1, rest
	case msgp.ArrayType:
		n, rest, _ := msgp.ReadArrayHeaderBytes(b)
		deepest := 0
		for range n {
			var d int
			d, rest = depthOf(rest)
			deepest = max(deepest, d)
		}
		return deepest + 1, rest
	}
	rest, _ := msgp.Skip(b)
	return 0, rest
}

// TestCheckRecordDepth: event.CheckRecord refuses a record exactly when it
// nests deeper than event.MaxDepth, wherever the depth is, and event.Skim's
// container count bounds the depth (the decoder's cheap pre-check).
func TestCheckRecordDepth(t *testing.T) {
	objs := [][]byte{
		msgp.AppendInt(nil, 1), record(), record("a", "b"), nested(2), nested(5), nested(100), nested(101),
		cat([]byte{0x92}, nested(4), nested(7)),          // the deeper element second
		cat([]byte{0x93, 0x90, 0x80}, nested(3)),         // empty containers count
		cat([]byte{0xdc, 0, 2}, nested(3), []byte{0x90}), // array16
		cat([]byte{0xde, 0, 1, 0xa1, 'k'}, nested(6)),    // map16
	}
	for i, o := range objs {
		want, rest := depthOf(o)
		if len(rest) != 0 {
			t.Fatalf("obj %d: bad test input", i)
		}
		// o under `wrap` maps {"k": ...}: a record of depth want+wrap
		rec := o
		for wrap := 1; wrap <= event.MaxDepth+1; wrap++ {
			rec = cat([]byte{0x81, 0xa1, 'k'}, rec)
			_, err := event.CheckRecord(rec)
			if deeper := want+wrap > event.MaxDepth; deeper != (err == event.ErrTooDeep) || !deeper && err != nil {
				t.Fatalf("obj %d (depth %d) in %d maps: CheckRecord = %v", i, want, wrap, err)
			}
		}
		// Skim's count bounds the depth
		if _, c, err := event.Skim(o); err != nil || want > c+1 {
			t.Fatalf("obj %d: depth %d, Skim counted %d containers (%v)", i, want, c, err)
		}
	}
}

func TestDecodeNesting(t *testing.T) {
	ok, deep := nested(event.MaxDepth), nested(event.MaxDepth+1)
	if d, _ := depthOf(ok); d != event.MaxDepth {
		t.Fatalf("test record depth %d", d)
	}
	good := entry(1, "a", "b")
	tm := msgp.AppendUint64(nil, 1)
	cases := []struct {
		name string
		msg  func(rec []byte) []byte
	}{
		{"message", func(r []byte) []byte { return messageMsg("t", tm, r, nil) }},
		{"forward", func(r []byte) []byte {
			return forwardMsg("t", [][]byte{good, event.AppendEntry(nil, tm, r), good}, nil)
		}},
		{"packed", func(r []byte) []byte {
			return packedMsg("t", cat(good, event.AppendEntry(nil, tm, r), good), true, nil)
		}},
		{"compressed", func(r []byte) []byte {
			return packedMsg("t", gz(cat(good, event.AppendEntry(nil, tm, r), good)), true, options(nil, "compressed", "gzip"))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d Decoder
			m, err := d.Decode(c.msg(ok))
			if err != nil || m.Deep != 0 {
				t.Fatalf("%d levels: %v", event.MaxDepth, err)
			}
			if _, err := d.Decode(c.msg(deep)); !errors.Is(err, event.ErrTooDeep) || !errors.Is(err, event.ErrEntry) {
				t.Fatalf("%d levels: err = %v, want event.ErrTooDeep and ErrEntry", event.MaxDepth+1, err)
			}
			d.SkipInvalid = true
			m, err = d.Decode(c.msg(deep))
			if err != nil || m.Invalid != 1 || m.Deep != 1 {
				t.Fatalf("skip: %+v %v", m, err)
			}
			if c.name != "message" && (m.Records != 2 || !bytes.Equal(m.Entries, cat(good, good))) {
				t.Fatalf("skip kept %d records: %x", m.Records, m.Entries)
			}
		})
	}
}

// TestDecodeVeryDeep refuses a record nested 99,999 deep without using
// stack for it: a recursive walk would grow the goroutine's stack by
// megabytes.
func TestDecodeVeryDeep(t *testing.T) {
	const levels = 99999
	rec := cat(bytes.Repeat([]byte{0x81, 0xa1, 'a'}, levels-1), []byte{0x80})
	msgs := map[string][]byte{
		"message": messageMsg("t", msgp.AppendUint64(nil, 1), rec, nil),
		"packed":  packedMsg("t", event.AppendEntry(nil, msgp.AppendUint64(nil, 1), rec), true, nil),
	}
	for name, msg := range msgs {
		t.Run(name, func(t *testing.T) {
			type result struct {
				err   error
				grown int64
			}
			done := make(chan result)
			go func() { // a fresh goroutine: its stack starts small
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				fr := NewFrameReader(bytes.NewReader(msg), 1<<20)
				frame, err := fr.Next()
				if err == nil {
					var d Decoder
					_, err = d.Decode(frame)
				}
				runtime.ReadMemStats(&after)
				done <- result{err, int64(after.StackInuse) - int64(before.StackInuse)}
			}()
			r := <-done
			if !errors.Is(r.err, event.ErrTooDeep) {
				t.Fatalf("err = %v, want ErrTooDeep", r.err)
			}
			if r.grown > 256<<10 {
				t.Fatalf("stacks grew by %d bytes decoding it", r.grown)
			}
		})
	}
}

func TestNextDoesNotRecurse(t *testing.T) {
	// canonical streams from elsewhere (chunks) are read without recursion too
	rec := cat(bytes.Repeat([]byte{0x81, 0xa1, 'a'}, 99998), []byte{0x80})
	e, rest, err := event.Next(event.AppendEntry(nil, msgp.AppendUint64(nil, 1), rec))
	if err != nil || len(rest) != 0 || len(e.Record) != len(rec) {
		t.Fatalf("Next: %v", err)
	}
}
