package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/output/bigquery/bqschema"
)

// list builds a msgpack array of values (as record takes them).
func list(t testing.TB, vals ...any) raw {
	b := msgp.AppendArrayHeader(nil, uint32(len(vals)))
	for _, v := range vals {
		b = appendValue(t, b, v)
	}
	return b
}

var validBigQueryName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,299}$`)

func TestBigQueryName(t *testing.T) {
	long := strings.Repeat("a", 400)
	tests := []struct{ in, want string }{
		{"level", "level"},
		{"Level_2", "Level_2"},
		{"_x", "_x"},
		{"#TH", "_TH"},
		{"a-b", "a_b"},
		{"a.b", "a_b"},
		{"a b", "a_b"},
		{"@timestamp", "_timestamp"},
		{"", "_"},
		{"1st", "_1st"},
		{"9", "_9"},
		{"café", "caf_"},
		{"日本語", "___"},
		{"\xff\xfe", "__"},
		{"_PARTITIONTIME", "__PARTITIONTIME"},
		{"_partition", "__partition"},
		{"_Table_suffix", "__Table_suffix"},
		{"_TABLE", "_TABLE"},
		{"__ROOT__", "___ROOT__"},
		{"__root__x", "___root__x"},
		{"_ROOT__", "_ROOT__"},
		{"_FILE_NAME", "__FILE_NAME"},
		{"_ROW_TIMESTAMP", "__ROW_TIMESTAMP"},
		{"_COLIDENTIFIER1", "__COLIDENTIFIER1"},
		{"_change_type", "__change_type"},
		{"_CHANGE_SEQUENCE_NUMBER", "__CHANGE_SEQUENCE_NUMBER"},
		{"_CHANGE_TIMESTAMP", "__CHANGE_TIMESTAMP"},
		{"_CHANGE", "_CHANGE"},
		{"_FILE.x", "__FILE_x"},
		{long, long[:300]},
		{"1" + long, "_1" + long[:298]},
		{"_partition" + long, "__partition" + long[:289]},
		{strings.Repeat("é", 400), strings.Repeat("_", 300)},
	}
	for _, tt := range tests {
		got := bqschema.Name(tt.in)
		if got != tt.want {
			t.Errorf("bqschema.Name(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if !bqschema.IsName(got) || !validBigQueryName.MatchString(got) {
			t.Errorf("bqschema.Name(%q) = %q is not valid", tt.in, got)
		}
		if bqschema.IsName(tt.in) != (tt.in == tt.want) {
			t.Errorf("bqschema.IsName(%q) = %v", tt.in, bqschema.IsName(tt.in))
		}
	}
}

func TestSuffixedName(t *testing.T) {
	long := strings.Repeat("b", 300)
	tests := []struct {
		base string
		k    int
		want string
	}{
		{"a_b", 2, "a_b_2"},
		{"a_b", 10, "a_b_10"},
		{"_TABLE", 2, "__TABLE_2"},
		{"__ROOT_", 3, "___ROOT__3"},
		{long, 2, long[:298] + "_2"},
		{long, 123, long[:296] + "_123"},
	}
	for _, tt := range tests {
		if got := suffixedName(tt.base, tt.k); got != tt.want || !bqschema.IsName(got) {
			t.Errorf("suffixedName(%q, %d) = %q, want %q", tt.base, tt.k, got, tt.want)
		}
	}
}

// bqEncode encodes records (msgpack maps) with key_style bigquery.
func bqEncode(t testing.TB, format Config, inject InjectConfig, opts EncoderOptions, recs ...[]byte) string {
	t.Helper()
	format.KeyStyle = KeyStyleBigQuery
	enc, err := NewEncoder(EncoderConfig{Format: format, Inject: inject, Compress: "none"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	var entries []byte
	for i, r := range recs {
		entries = entry(entries, 1795341845+int64(i), 0, r)
	}
	var out bytes.Buffer
	if _, err := enc.Encode(&out, &sliceFrames{frames: []frame{{"app.web", entries}}}); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestKeyStyleBigQueryJSON(t *testing.T) {
	tests := []struct {
		name   string
		rec    []byte
		inject InjectConfig
		want   string
	}{
		{"valid keys unchanged", record(t, "a", 1, "B_2", kvs{"c", "x"}), InjectConfig{}, `{"a":1,"B_2":{"c":"x"}}`},
		{"rewritten", record(t, "#TH", 1, "a.b", 2, "", 3, "1st", 4, "_PARTITIONTIME", 5, "日本", 6), InjectConfig{},
			`{"_TH":1,"a_b":2,"_":3,"_1st":4,"__PARTITIONTIME":5,"__":6}`},
		{"nested and in arrays", record(t, "a-b", kvs{"c.d", list(t, 1, raw(record(t, "e f", 2)), list(t, raw(record(t, "g/h", 3))))}), InjectConfig{},
			`{"a_b":{"c_d":[1,{"e_f":2},[{"g_h":3}]]}}`},
		{"collisions", record(t, "a.b", 1, "a-b", 2, "a_b", 3), InjectConfig{}, `{"a_b_3":1,"a_b_2":2,"a_b":3}`},
		{"collisions other order", record(t, "a_b", 3, "a-b", 2, "a.b", 1), InjectConfig{}, `{"a_b":3,"a_b_2":2,"a_b_3":1}`},
		{"case", record(t, "id", 1, "ID", 2, "Id", 3), InjectConfig{}, `{"id_3":1,"ID":2,"Id_2":3}`},
		{"valid key keeps its name", record(t, "a.B", 1, "A_b", 2), InjectConfig{}, `{"a_B_2":1,"A_b":2}`},
		{"suffix taken", record(t, "a.b", 1, "a_b_2", 2, "a-b", 3), InjectConfig{}, `{"a_b_3":1,"a_b_2":2,"a_b":3}`},
		{"suffix completes a reserved prefix", record(t, "_table", 1, "_TABLE", 2), InjectConfig{}, `{"__table_2":1,"_TABLE":2}`},
		{"duplicate keys", record(t, "x", 1, "x", 2), InjectConfig{}, `{"x":1,"x_2":2}`},
		{"non-string keys", raw{0x83, 0x01, 0xa1, 'a', 0xc0, 0xa1, 'b', 0xc3, 0xa1, 'c'}, InjectConfig{}, `{"_1":"a","_":"b","true":"c"}`},
		{"nested collision", record(t, "k", kvs{"x-y", 1, "X_Y", 2}), InjectConfig{}, `{"k":{"x_y_2":1,"X_Y":2}}`},
		{"injected keys win", record(t, "Time", 1, "time", 2, "tag", 3, "@host", 4), InjectConfig{TagKey: "tag", TimeKey: "time", HostnameKey: "@host", Hostname: "h", TimeType: "unixtime"},
			`{"_host":"h","tag":"app.web","time":1795341845,"Time_2":1}`},
		{"record key takes an injected name", record(t, "_host", 1), InjectConfig{HostnameKey: "@host", Hostname: "h"}, `{"_host":"h","_host_2":1}`},
		{"injected keys collide", record(t, "a", 1), InjectConfig{TagKey: "a.b", TimeKey: "a-b", TimeType: "unixtime"}, `{"a_b_2":"app.web","a_b":1795341845,"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.TrimSuffix(bqEncode(t, DefaultConfig(), tt.inject, EncoderOptions{}, tt.rec), "\n")
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("invalid JSON %s", got)
			}
		})
	}
}

func TestKeyStyleAsIsUnchanged(t *testing.T) {
	rec := record(t, "a.b", 1, "a-b", kvs{"#x", 2})
	enc, err := NewEncoder(EncoderConfig{Format: DefaultConfig(), Compress: "none"}, EncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := enc.Encode(&out, &sliceFrames{frames: []frame{{"t", entry(nil, 1, 0, rec)}}}); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), `{"a.b":1,"a-b":{"#x":2}}`+"\n"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestKeyStyleBigQueryFormats(t *testing.T) {
	rec := record(t, "a.b", 1, "a-b", kvs{"#x", "v", "l", list(t, raw(record(t, "y z", nil)))}, "message", "hi", "time", "old")
	inject := InjectConfig{TagKey: "@tag", TimeKey: "time", TimeType: "unixtime"}

	t.Run("ltsv", func(t *testing.T) {
		got := bqEncode(t, withType("ltsv"), inject, EncoderOptions{}, rec)
		want := "_tag:app.web\ttime:1795341845\ta_b_2:1\ta_b:{\"_x\":\"v\",\"l\":[{\"y_z\":null}]}\tmessage:hi\n"
		if got != want {
			t.Errorf("got  %q\nwant %q", got, want)
		}
	})
	t.Run("single_value", func(t *testing.T) {
		c := withType("single_value")
		c.MessageKey = "a-b"
		got := bqEncode(t, c, inject, EncoderOptions{}, rec)
		if want := "{\"#x\":\"v\",\"l\":[{\"y z\":null}]}\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("stdout", func(t *testing.T) {
		got := bqEncode(t, withType("stdout"), inject, EncoderOptions{Location: time.UTC}, rec)
		want := `2026-11-22 10:04:05.000000000 +0000 app.web: {"_tag":"app.web","time":1795341845,"a_b_2":1,"a_b":{"_x":"v","l":[{"y_z":null}]},"message":"hi"}` + "\n"
		if got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
	t.Run("msgpack", func(t *testing.T) {
		got := []byte(bqEncode(t, withType("msgpack"), inject, EncoderOptions{}, rec, record(t, "ok", 1)))
		var lines []string
		for len(got) > 0 {
			rest, err := msgp.Skip(got)
			if err != nil {
				t.Fatal(err)
			}
			js, _, err := AppendJSON(nil, got[:len(got)-len(rest)])
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, string(js))
			got = rest
		}
		want := []string{
			`{"_tag":"app.web","time":1795341845,"a_b_2":1,"a_b":{"_x":"v","l":[{"y_z":null}]},"message":"hi"}`,
			`{"_tag":"app.web","time":1795341846,"ok":1}`,
		}
		if !slices.Equal(lines, want) {
			t.Errorf("got  %q\nwant %q", lines, want)
		}
	})
}

func TestKeyStyleGolden(t *testing.T) {
	all := InjectConfig{HostnameKey: "host", TagKey: "tag", TimeKey: "time", TimeType: "string", TimeFormat: "%Y-%m-%dT%H:%M:%S.%N%:z", Timezone: "+09:00"}
	for _, typ := range []string{"json", "ltsv", "msgpack"} {
		t.Run(typ, func(t *testing.T) {
			c := withType(typ)
			c.KeyStyle = KeyStyleBigQuery
			enc, err := NewEncoder(EncoderConfig{Format: c, Inject: all, Compress: "none"}, EncoderOptions{Hostname: "h0"})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			frames := goldenFrames(t)
			awkward := entry(nil, 1795341849, 0, record(t,
				"@timestamp", "x", "a.b", 1, "a-b", 2, "a_b", 3, "Tag", "record's", "1st", true, "_PARTITIONTIME", 0, "名前", "n",
				"kubernetes", kvs{"labels", kvs{"app.kubernetes.io/name", "web", "pod-template-hash", "7f9c"}},
				"list", list(t, raw(record(t, "k-1", 1, "K_1", 2)), list(t, raw(record(t, "", nil)))),
			))
			frames.frames = append(frames.frames, frame{"app.odd", awkward})
			if _, err := enc.Encode(&out, frames); err != nil {
				t.Fatal(err)
			}
			got := out.Bytes()
			if typ == "msgpack" {
				got = msgpackDump(t, got)
			}
			golden(t, "testdata/format/"+typ+"_bigquery.golden", got)
		})
	}
}

func TestKeyCollisionReported(t *testing.T) {
	var mu sync.Mutex
	var got []KeyCollision
	opts := EncoderOptions{OnKeyCollision: func(c KeyCollision) {
		mu.Lock()
		got = append(got, c)
		mu.Unlock()
	}}
	c := DefaultConfig()
	c.KeyStyle = KeyStyleBigQuery
	enc, err := NewEncoder(EncoderConfig{Format: c, Inject: InjectConfig{TimeKey: "time", TimeType: "unixtime"}, Compress: "none"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	var entries []byte
	for i := range 50 {
		entries = entry(entries, int64(i), 0, record(t, "a.b", 1, "a-b", 2, "ok", 3))
		entries = entry(entries, int64(i), 0, record(t, "a-b", 2, "a.b", 1))
		entries = entry(entries, int64(i), 0, record(t, "n", kvs{"X", 1, "x", 2}, "Time", 1))
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := enc.Encode(io.Discard, &sliceFrames{frames: []frame{{"t", entries}}}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	slices.SortFunc(got, func(a, b KeyCollision) int { return strings.Compare(fmt.Sprint(a.Keys), fmt.Sprint(b.Keys)) })
	want := []KeyCollision{
		{Keys: []string{"Time", "time"}, Names: []string{"Time_2", "time"}},
		{Keys: []string{"X", "x"}, Names: []string{"X", "x_2"}},
		{Keys: []string{"a-b", "a.b"}, Names: []string{"a_b", "a_b_2"}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("reported %v, want %v", got, want)
	}
}

func TestLogKeyCollisions(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	LogKeyCollisions(log)(KeyCollision{Keys: []string{"a-b", "a.b"}, Names: []string{"a_b", "a_b_2"}})
	if got := buf.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, "keys=\"[a-b a.b]\"") || !strings.Contains(got, "names=\"[a_b a_b_2]\"") {
		t.Errorf("logged %q", got)
	}
}

func TestCollisionReporterBounded(t *testing.T) {
	n := 0
	r := &collisionReporter{hook: func(KeyCollision) { n++ }}
	for i := range maxReportedCollisions + 10 {
		r.report(KeyCollision{Keys: []string{fmt.Sprint(i), "x"}})
		r.report(KeyCollision{Keys: []string{fmt.Sprint(i), "x"}})
	}
	if n != maxReportedCollisions || len(r.seen) != maxReportedCollisions {
		t.Errorf("reported %d, remembered %d, want %d", n, len(r.seen), maxReportedCollisions)
	}
}

// TestKeyStyleFastPathAllocs checks that records whose keys are valid cost
// no allocation per record more than with key_style as_is.
func TestKeyStyleFastPathAllocs(t *testing.T) {
	const records = 500
	frames := bigFrames(t, records)
	allocs := func(style string) float64 {
		c := DefaultConfig()
		c.KeyStyle = style
		enc, err := NewEncoder(EncoderConfig{Format: c, Inject: InjectConfig{TimeKey: "time", TimeType: "string", TimeFormat: "%Y-%m-%dT%H:%M:%S.%N%:z"}, Compress: "none"}, EncoderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return testing.AllocsPerRun(20, func() {
			frames.i = 0
			if _, err := enc.Encode(io.Discard, frames); err != nil {
				t.Fatal(err)
			}
		})
	}
	// The pooled scratch may be dropped (the race detector drops pooled
	// items at random) and regrown, a few allocations per Encode (a CI
	// run under -race saw 5 more than as_is); an allocation per record
	// would show as 500 more, so a tenth of that tells the two apart.
	asIs, bq := allocs(KeyStyleAsIs), allocs(KeyStyleBigQuery)
	if bq > asIs+records/10 {
		t.Errorf("key_style bigquery: %v allocs per Encode of %d records, as_is: %v", bq, records, asIs)
	}
}

func TestFormatConfigKeyStyle(t *testing.T) {
	c := DefaultConfig()
	if c.KeyStyle != KeyStyleAsIs {
		t.Errorf("default key_style %q", c.KeyStyle)
	}
	c.KeyStyle = "snake"
	if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "'key_style' \"snake\"") {
		t.Errorf("got %v", err)
	}
	for _, s := range []string{"", KeyStyleAsIs, KeyStyleBigQuery} {
		c.KeyStyle = s
		if err := c.Validate(); err != nil {
			t.Errorf("key_style %q: %v", s, err)
		}
	}
}

// TestInjectBigQueryTimestamp checks the <inject> recommended for BigQuery
// TIMESTAMP columns: RFC 3339 with nanoseconds and a colon in the offset.
func TestInjectBigQueryTimestamp(t *testing.T) {
	inject := InjectConfig{TimeKey: "time", TimeType: "string", TimeFormat: "%Y-%m-%dT%H:%M:%S.%N%:z"}
	for _, tt := range []struct {
		tz   string
		want string
	}{
		{"UTC", "2026-11-22T10:04:05.000000042+00:00"},
		{"+09:00", "2026-11-22T19:04:05.000000042+09:00"},
		{"-0530", "2026-11-22T04:34:05.000000042-05:30"},
	} {
		inject.Timezone = tt.tz
		enc, err := NewEncoder(EncoderConfig{Format: DefaultConfig(), Inject: inject, Compress: "none"}, EncoderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := enc.Encode(&out, &sliceFrames{frames: []frame{{"t", entry(nil, 1795341845, 42, record(t, "a", 1))}}}); err != nil {
			t.Fatal(err)
		}
		var rec struct{ Time string }
		if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Time != tt.want {
			t.Errorf("%s: time %q, want %q", tt.tz, rec.Time, tt.want)
		}
		parsed, err := time.Parse(time.RFC3339Nano, rec.Time)
		if err != nil || !parsed.Equal(time.Unix(1795341845, 42)) {
			t.Errorf("%s: %q parses as %v, %v", tt.tz, rec.Time, parsed, err)
		}
	}
}

func withKeyStyle(c Config, style string) Config {
	c.KeyStyle = style
	return c
}

func BenchmarkEncodeJSONBigQuery(b *testing.B) {
	benchEncode(b, EncoderConfig{Format: withKeyStyle(DefaultConfig(), KeyStyleBigQuery), Compress: "none"})
}

func BenchmarkEncodeJSONInjectBigQuery(b *testing.B) {
	benchEncode(b, EncoderConfig{Format: withKeyStyle(DefaultConfig(), KeyStyleBigQuery), Compress: "none",
		Inject: InjectConfig{TagKey: "tag", TimeKey: "time", TimeType: "string", TimeFormat: "%Y-%m-%dT%H:%M:%S.%N%z"}})
}

func BenchmarkEncodeMsgpackZstdBigQuery(b *testing.B) {
	benchEncode(b, EncoderConfig{Format: withKeyStyle(withType("msgpack"), KeyStyleBigQuery), Compress: "zstd"})
}

func BenchmarkEncodeLTSVBigQuery(b *testing.B) {
	benchEncode(b, EncoderConfig{Format: withKeyStyle(withType("ltsv"), KeyStyleBigQuery), Compress: "none"})
}

// BenchmarkBigQueryRewrite encodes records whose keys all need rewriting,
// two of them colliding: the slow path.
func BenchmarkBigQueryRewrite(b *testing.B) {
	var entries []byte
	for i := range 1000 {
		entries = entry(entries, int64(i), 0, record(b, "@timestamp", "x", "http.method", "GET", "http-method", "PUT", "k8s.pod", "web-1", "status", 200))
	}
	enc, err := NewEncoder(EncoderConfig{Format: withKeyStyle(DefaultConfig(), KeyStyleBigQuery), Compress: "none"}, EncoderOptions{})
	if err != nil {
		b.Fatal(err)
	}
	frames := &sliceFrames{frames: []frame{{"t", entries}}}
	b.SetBytes(int64(len(entries)))
	b.ReportAllocs()
	for b.Loop() {
		frames.i = 0
		if _, err := enc.Encode(io.Discard, frames); err != nil {
			b.Fatal(err)
		}
	}
}
