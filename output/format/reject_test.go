package format

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

// formatCases are the formats and key styles every record must encode in.
func formatCases() []struct {
	name   string
	format Config
	inject InjectConfig
} {
	bq := func(typ string) Config { c := withType(typ); c.KeyStyle = KeyStyleBigQuery; return c }
	return []struct {
		name   string
		format Config
		inject InjectConfig
	}{
		{"json", withType("json"), InjectConfig{}},
		{"json_inject", withType("json"), InjectConfig{TagKey: "tag", TimeKey: "time"}},
		{"ltsv", withType("ltsv"), InjectConfig{}},
		{"msgpack", withType("msgpack"), InjectConfig{}},
		{"msgpack_inject", withType("msgpack"), InjectConfig{TagKey: "tag"}},
		{"single_value", withType("single_value"), InjectConfig{}},
		{"stdout", withType("stdout"), InjectConfig{}},
		{"json_bigquery", bq("json"), InjectConfig{}},
		{"json_bigquery_inject", bq("json"), InjectConfig{TagKey: "tag"}},
		{"ltsv_bigquery", bq("ltsv"), InjectConfig{}},
		{"msgpack_bigquery", bq("msgpack"), InjectConfig{TagKey: "tag"}},
	}
}

// nested is a record nested levels deep (the record's map is level 1):
// {"message": [{"k": [{"k": ...}]}], "n": 1}, maps and arrays in turn.
func nested(t testing.TB, levels int) []byte {
	var v any = "leaf"
	for l := levels; l >= 2; l-- {
		if l%2 == 0 {
			v = raw(appendValue(t, []byte{0x91}, v))
		} else {
			v = raw(record(t, "k", v))
		}
	}
	return record(t, "message", v, "n", 1)
}

// maxLevel returns how deeply maps and arrays nest in a JSON value, the
// value itself being level 1.
func maxLevel(v any) int {
	d := 0
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			d = max(d, maxLevel(e))
		}
	case []any:
		for _, e := range v {
			d = max(d, maxLevel(e))
		}
	default:
		return 0
	}
	return d + 1
}

// TestEncodeDepth checks that a record nested exactly event.MaxDepth levels
// is written in every format, and that one level deeper is rejected alone.
func TestEncodeDepth(t *testing.T) {
	deepest := entry(nil, 1795341845, 0, nested(t, event.MaxDepth))
	tooDeep := entry(nil, 1795341846, 0, nested(t, event.MaxDepth+1))
	for _, tc := range formatCases() {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := NewEncoder(EncoderConfig{Format: tc.format, Inject: tc.inject, Compress: "none"}, EncoderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var chunk []byte
			chunk = append(chunk, deepest...)
			chunk = append(chunk, tooDeep...)
			chunk = append(chunk, deepest...)
			var out bytes.Buffer
			stats, err := enc.Encode(&out, &sliceFrames{frames: []frame{{"app.deep", chunk}}})
			if err != nil {
				t.Fatalf("err = %v: a record must never fail the chunk", err)
			}
			if stats.Records != 2 || len(stats.Rejects) != 1 {
				t.Fatalf("%d records, %d rejects, want 2 and 1", stats.Records, len(stats.Rejects))
			}
			r := stats.Rejects[0]
			if r.Tag != "app.deep" || !bytes.Equal(r.Entry, tooDeep) || !strings.Contains(r.Reason, "nested deeper than 100 levels") {
				t.Errorf("reject %q, %d bytes (want %d), reason %q", r.Tag, len(r.Entry), len(tooDeep), r.Reason)
			}
			// What was written is the two records, whole.
			var alone bytes.Buffer
			if _, err := enc.Encode(&alone, &sliceFrames{frames: []frame{{"app.deep", append(append([]byte{}, deepest...), deepest...)}}}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), alone.Bytes()) {
				t.Fatalf("output with the reject differs from the output without it")
			}
			checkDeepOutput(t, tc.format.Type, out.Bytes())
		})
	}
}

// checkDeepOutput checks that out holds two well-formed records of
// nested(event.MaxDepth).
func checkDeepOutput(t *testing.T, format string, out []byte) {
	t.Helper()
	if format == "msgpack" {
		for i := range 2 {
			v, rest, err := msgp.ReadIntfBytes(out)
			if err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			b, _ := json.Marshal(v)
			var j any
			json.Unmarshal(b, &j)
			if d := maxLevel(j); d != event.MaxDepth {
				t.Errorf("record %d nests %d levels, want %d", i, d, event.MaxDepth)
			}
			out = rest
		}
		if len(out) != 0 {
			t.Errorf("%d bytes after the records", len(out))
		}
		return
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	for _, line := range lines {
		var text string
		want := event.MaxDepth
		switch format {
		case "json":
			text = line
		case "stdout":
			_, text, _ = strings.Cut(line, ": ")
		case "single_value": // the message's value: level 2 of the record
			text, want = line, event.MaxDepth-1
		case "ltsv":
			for _, f := range strings.Split(line, "\t") {
				if v, ok := strings.CutPrefix(f, "message:"); ok {
					text, want = v, event.MaxDepth-1
				}
			}
		}
		var v any
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if d := maxLevel(v); d != want {
			t.Errorf("value nests %d levels, want %d", d, want)
		}
	}
}

// TestEncodeRejects checks that a bad record is set aside with its entry and
// its reason, and that every other record of the chunk is written.
func TestEncodeRejects(t *testing.T) {
	good1 := entry(nil, 1, 0, record(t, "a", 1))
	good2 := entry(nil, 2, 0, record(t, "a", 2))
	other := entry(nil, 3, 0, record(t, "a", 3))
	tests := []struct {
		name   string
		bad    []byte
		reason string
		// frameRest: the entry cannot be delimited, so the rest of its
		// frame (bad and good2) is one reject.
		frameRest bool
	}{
		{"not an array", []byte{0xc0}, "not a [time, record] array", false},
		{"three elements", []byte{0x93, 0x01, 0x80, 0x80}, "not a [time, record] array", false},
		{"string time", []byte{0x92, 0xa1, 'x', 0x80}, "time is", false},
		{"record not a map", []byte{0x92, 0x01, 0x01}, "record is not a map", false},
		{"record an array", []byte{0x92, 0x01, 0x91, 0x80}, "record is not a map", false},
		{"invalid type byte", []byte{0x92, 0x01, 0x81, 0xa1, 'k', 0xc1}, "invalid type byte", true},
		{"truncated record", []byte{0x92, 0x01, 0x82, 0xa1, 'k'}, "malformed msgpack", true},
		{"huge string length", []byte{0x92, 0x01, 0x81, 0xa1, 'k', 0xdb, 0xff, 0xff, 0xff, 0xff}, "malformed msgpack", true},
		{"huge map", []byte{0x92, 0x01, 0xdf, 0xff, 0xff, 0xff, 0xff}, "malformed msgpack", true},
	}
	for _, tt := range tests {
		for _, tc := range formatCases() {
			t.Run(tt.name+"/"+tc.name, func(t *testing.T) {
				enc, err := NewEncoder(EncoderConfig{Format: tc.format, Inject: tc.inject, Compress: "gzip"}, EncoderOptions{})
				if err != nil {
					t.Fatal(err)
				}
				chunk := append(append(append([]byte{}, good1...), tt.bad...), good2...)
				var out bytes.Buffer
				stats, err := enc.Encode(&out, &sliceFrames{frames: []frame{{"t.a", chunk}, {"t.b", other}}})
				if err != nil {
					t.Fatalf("err = %v, want the record rejected alone", err)
				}
				wantEntry, wantRecords, want := tt.bad, 3, [][]byte{good1, good2, other}
				if tt.frameRest {
					wantEntry, wantRecords, want = append(append([]byte{}, tt.bad...), good2...), 2, [][]byte{good1, other}
				}
				if stats.Records != wantRecords || len(stats.Rejects) != 1 {
					t.Fatalf("%d records, %d rejects, want %d and 1", stats.Records, len(stats.Rejects), wantRecords)
				}
				if r := stats.Rejects[0]; r.Tag != "t.a" || !bytes.Equal(r.Entry, wantEntry) || !strings.Contains(r.Reason, tt.reason) {
					t.Errorf("reject %q % x %q, want t.a % x with %q", r.Tag, r.Entry, r.Reason, wantEntry, tt.reason)
				}
				if &stats.Rejects[0].Entry[0] == &chunk[len(good1)] {
					t.Error("the reject's entry aliases the chunk's bytes")
				}
				var alone bytes.Buffer
				if _, err := enc.Encode(&alone, &sliceFrames{frames: []frame{{"t.a", bytes.Join(want[:len(want)-1], nil)}, {"t.b", other}}}); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out.Bytes(), alone.Bytes()) {
					t.Error("output differs from the output of the good records alone")
				}
				err = stats.Err()
				if rs, _ := buffer.RejectedRecords(err); len(rs) != 1 || buffer.IsPermanent(err) {
					t.Errorf("Stats.Err() = %v, want buffer.Rejected of one record", err)
				}
			})
		}
	}
}

// failingFormat writes part of a record, then fails on records with "bad".
type failingFormat struct{ recordFormat }

func (f failingFormat) appendRecord(dst []byte, st *encodeState, sec, nsec int64, b []byte) ([]byte, []byte, error) {
	dst = append(dst, "partial"...)
	if bytes.Contains(b, []byte("bad")) {
		return dst, b, errors.New("cannot write it")
	}
	return f.recordFormat.appendRecord(dst[:len(dst)-len("partial")], st, sec, nsec, b)
}

// TestEncodeRejectRollsBack checks that the partial output of a record the
// format fails on is taken back.
func TestEncodeRejectRollsBack(t *testing.T) {
	enc, err := NewEncoder(EncoderConfig{Format: DefaultConfig(), Compress: "none"}, EncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	enc.format = failingFormat{enc.format}
	bad := entry(nil, 2, 0, record(t, "bad", 1))
	chunk := append(append(entry(nil, 1, 0, record(t, "a", 1)), bad...), entry(nil, 3, 0, record(t, "a", 3))...)
	var out bytes.Buffer
	stats, err := enc.Encode(&out, &sliceFrames{frames: []frame{{"t", chunk}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "{\"a\":1}\n{\"a\":3}\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	if stats.Records != 2 || len(stats.Rejects) != 1 || !bytes.Equal(stats.Rejects[0].Entry, bad) || stats.Rejects[0].Reason != "cannot write it" {
		t.Errorf("stats %+v", stats)
	}
}

func TestStatsErr(t *testing.T) {
	if err := (Stats{Records: 3}).Err(); err != nil {
		t.Errorf("no rejects: %v", err)
	}
	if err := (Stats{}).Err(); err != nil {
		t.Errorf("empty chunk: %v", err)
	}
	rs := []buffer.Reject{{Tag: "t", Entry: []byte{0xc0}, Reason: "bad entry"}}
	err := Stats{Records: 2, Rejects: rs}.Err()
	if got, ok := buffer.RejectedRecords(err); !ok || len(got) != 1 || buffer.IsPermanent(err) {
		t.Errorf("some rejected: %v", err)
	}
	st := Stats{Rejects: rs}
	err = st.Err()
	if !st.AllRejected() || !buffer.IsPermanent(err) || !errors.Is(err, ErrAllRejected) || !strings.Contains(err.Error(), "bad entry") {
		t.Errorf("all rejected: %v", err)
	}
}

// TestCheckRecordAgreesWithSkip compares event.CheckRecord (the encoder's record check) with msgp.Skip on
// records of every msgpack type.
func TestCheckRecordAgreesWithSkip(t *testing.T) {
	for _, rec := range [][]byte{
		goldenRecordBytes(t),
		record(t, "ext", raw{0xd4, 1, 2}, "ext16", raw{0xd8, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, "ext8", raw{0xc7, 2, 5, 1, 2},
			"ext16b", raw{0xc8, 0, 1, 5, 1}, "ext32", raw{0xc9, 0, 0, 0, 1, 5, 1}, "f32", float32(1.5), "i8", int8(-3), "i16", int16(-300), "i32", int32(-70000), "i64", int64(-1<<40),
			"u8", uint8(200), "u16", uint16(60000), "u32", uint32(1<<31), "u64", uint64(1<<63), "s8", strings.Repeat("x", 40), "s16", strings.Repeat("x", 300),
			"s32", raw(msgp.AppendString(nil, strings.Repeat("y", 70000))), "b8", []byte("bin"), "arr16", raw(append([]byte{0xdc, 0, 1}, 0xc3)), "arr32", raw(append([]byte{0xdd, 0, 0, 0, 1}, 0xc2)),
			"map16", raw([]byte{0xde, 0, 1, 0xa1, 'k', 0xc0}), "map32", raw([]byte{0xdf, 0, 0, 0, 1, 0xa1, 'k', 0xc0}), "neg", -5, "nil", nil),
		nested(t, event.MaxDepth),
	} {
		want, err := msgp.Skip(append(append([]byte{}, rec...), 0xc0))
		if err != nil {
			t.Fatal(err)
		}
		got, err := event.CheckRecord(append(append([]byte{}, rec...), 0xc0))
		if err != nil || len(got) != len(want) {
			t.Errorf("checkRecord: %v, %d left, want %d", err, len(got), len(want))
		}
		for i := 1; i < len(rec); i++ {
			if _, err := event.CheckRecord(rec[:i]); err == nil {
				t.Fatalf("record cut to %d of %d bytes accepted", i, len(rec))
			}
		}
	}
	if _, err := event.CheckRecord(nested(t, event.MaxDepth+1)); !errors.Is(err, event.ErrTooDeep) {
		t.Errorf("too deep: %v", err)
	}
	empty := bytes.Repeat([]byte{0x91}, event.MaxDepth-1) // record, then 99 arrays, the last empty
	empty = append(append([]byte{0x81, 0xa1, 'k'}, empty[:len(empty)-1]...), 0x90)
	if _, err := event.CheckRecord(empty); err != nil {
		t.Errorf("empty array at level %d: %v", event.MaxDepth, err)
	}
	if _, err := event.CheckRecord(append(append([]byte{0x81, 0xa1, 'k'}, bytes.Repeat([]byte{0x91}, event.MaxDepth-1)...), 0x90)); !errors.Is(err, event.ErrTooDeep) {
		t.Errorf("empty array at level %d: %v", event.MaxDepth+1, err)
	}
}

// goldenRecordBytes is the awkward record of the golden files.
func goldenRecordBytes(t testing.TB) []byte {
	f := goldenFrames(t)
	_, entries, _ := f.Next()
	_, entries, _ = f.Next()
	rec, err := event.ReadHead(entries)
	if err == nil {
		rec, _, _, err = event.ReadTime(rec)
	}
	if err != nil {
		t.Fatal(err)
	}
	rest, err := msgp.Skip(rec)
	if err != nil {
		t.Fatal(err)
	}
	return rec[:len(rec)-len(rest)]
}

// FuzzCheckRecord checks the Encoder's record check against msgp: a record
// it accepts is one msgp reads, ending where msgp says; one it refuses for
// other reasons than its depth is one msgp cannot read. And encoding never
// fails the chunk.
func FuzzCheckRecord(f *testing.F) {
	f.Add(record(f, "a", 1, "b", kvs{"c", []any{1, "x"}}))
	f.Add([]byte{0x81, 0xa1, 'k', 0xc7, 0x01, 0x05, 0x00})
	f.Add([]byte{0x81, 0xa1, 'k', 0xdb, 0xff, 0xff, 0xff, 0xff})
	f.Add(nested(f, event.MaxDepth+1))
	enc, err := NewEncoder(EncoderConfig{Format: DefaultConfig(), Compress: "none"}, EncoderOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rest, err := event.CheckRecord(b)
		mrest, merr := msgp.Skip(b)
		switch {
		case err == nil && (merr != nil || len(rest) != len(mrest)):
			t.Fatalf("checkRecord accepted what msgp reads as %v, %d left (ours %d)", merr, len(mrest), len(rest))
		case err != nil && !errors.Is(err, event.ErrTooDeep) && merr == nil && len(b) > 0 && msgp.NextType(b) == msgp.MapType:
			t.Fatalf("checkRecord refused a map msgp reads: %v", err)
		}
		exact := err == nil && len(rest) == 0
		e := entry(nil, 1, 0, b)
		var out bytes.Buffer
		stats, err := enc.Encode(&out, &sliceFrames{frames: []frame{{"t", e}}})
		if err != nil || stats.In != int64(len(e)) || exact && (stats.Records != 1 || len(stats.Rejects) != 0) {
			t.Fatalf("Encode: %v, stats %+v", err, stats)
		}
		if exact {
			sc := bufio.NewScanner(&out)
			sc.Buffer(nil, 1<<24)
			for sc.Scan() {
				if !json.Valid(sc.Bytes()) {
					t.Fatalf("invalid JSON %q", sc.Bytes())
				}
			}
		}
	})
}
