package format

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// goldenFrames is the chunk every golden file is made from: two tags, a
// realistic record, one whose fields clash with injected keys, one with
// awkward values, an empty one.
func goldenFrames(t testing.TB) *sliceFrames {
	var web, db []byte
	web = entry(web, 1795341845, 123456789, logRecord(t, 1))
	web = entry(web, 1795341846, 0, record(t, "message", "tab\there", "tag", "from the record", "time", 1, "n", nil))
	db = entry(db, 1795341847, 999999999, record(t,
		"message", "line\nbreak: \"quoted\" \\ é \xff",
		"nested", kvs{"list", []any{int64(1), 2.5, "x", nil, true}, "empty", kvs{}},
		"float", 3.0,
		"big", uint64(18446744073709551615),
		"bin", []byte("b:in"),
	))
	db = entry(db, 1795341848, 0, record(t))
	return &sliceFrames{frames: []frame{{"app.web", web}, {"app.db", db}}}
}

func TestFormatsGolden(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	all := InjectConfig{HostnameKey: "host", TagKey: "tag", TimeKey: "time", TimeType: "string", TimeFormat: "%Y-%m-%dT%H:%M:%S.%3N%:z", Timezone: "+09:00", Localtime: true}
	tests := []struct {
		name   string
		format Config
		inject InjectConfig
	}{
		{"json", DefaultConfig(), DefaultInjectConfig()},
		{"json_inject_float", DefaultConfig(), InjectConfig{TagKey: "tag", TimeKey: "time", TimeType: "float", Localtime: true}},
		{"json_inject_unixtime", DefaultConfig(), InjectConfig{TimeKey: "ts", TimeType: "unixtime", Localtime: true}},
		{"json_inject_millis", DefaultConfig(), InjectConfig{TimeKey: "ts", TimeType: "unixtime_millis"}},
		{"json_inject_default_string", DefaultConfig(), InjectConfig{TimeKey: "time", TimeType: "string", Localtime: true}},
		{"json_inject_all", DefaultConfig(), all},
		{"ltsv", withType("ltsv"), DefaultInjectConfig()},
		{"ltsv_inject_all", withType("ltsv"), all},
		{"single_value", withType("single_value"), DefaultInjectConfig()},
		{"single_value_no_newline", func() Config { c := withType("single_value"); c.AddNewline = false; return c }(), DefaultInjectConfig()},
		{"single_value_tag", func() Config { c := withType("single_value"); c.MessageKey = "tag"; return c }(), InjectConfig{TagKey: "tag"}},
		{"msgpack", withType("msgpack"), DefaultInjectConfig()},
		{"msgpack_inject_all", withType("msgpack"), all},
		{"msgpack_inject_float", withType("msgpack"), InjectConfig{TagKey: "tag", TimeKey: "time", TimeType: "float"}},
		{"stdout", withType("stdout"), DefaultInjectConfig()},
		{"stdout_inject_tag", withType("stdout"), InjectConfig{TagKey: "tag"}},
		{"stdout_utc", func() Config { c := withType("stdout"); c.UTC = true; return c }(), DefaultInjectConfig()},
		{"out_file", withType("out_file"), DefaultInjectConfig()},
		{"out_file_comma_no_tag", func() Config {
			c := withType("out_file")
			c.Delimiter, c.OutputTag, c.TimeFormat, c.Timezone = "COMMA", false, "%Y%m%d %H:%M:%S.%3N", "-05:00"
			return c
		}(), DefaultInjectConfig()},
		{"out_file_no_time", func() Config { c := withType("out_file"); c.OutputTime = false; c.Delimiter = "SPACE"; return c }(), DefaultInjectConfig()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := NewEncoder(EncoderConfig{Format: tt.format, Inject: tt.inject, Compress: "none"},
				EncoderOptions{Hostname: "node-1", Location: tokyo})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			stats, err := enc.Encode(&out, goldenFrames(t))
			if err != nil {
				t.Fatal(err)
			}
			if stats.Records != 4 || stats.Out != int64(out.Len()) {
				t.Errorf("stats %+v for %d bytes", stats, out.Len())
			}
			got := out.Bytes()
			if tt.format.Type == "msgpack" {
				got = msgpackDump(t, got)
			}
			golden(t, filepath.Join("testdata", "format", tt.name+".golden"), got)
		})
	}
}

func withType(typ string) Config {
	c := DefaultConfig()
	c.Type = typ
	return c
}

// msgpackDump renders concatenated msgpack maps one per line, as hex and
// as JSON, so the golden file is readable.
func msgpackDump(t *testing.T, b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		rest, err := msgp.Skip(b)
		if err != nil {
			t.Fatal(err)
		}
		rec := b[:len(b)-len(rest)]
		out = append(out, hex.EncodeToString(rec)...)
		out = append(out, "\n  "...)
		js, _, err := AppendJSON(nil, rec)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, js...)
		out = append(out, '\n')
		b = rest
	}
	return out
}

// golden compares got with the file, or writes it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestInjectTimezones(t *testing.T) {
	rec := entry(nil, 1795341845, 500000000, record(t, "a", 1))
	tests := []struct {
		inject InjectConfig
		local  *time.Location
		want   string
	}{
		{InjectConfig{TimeKey: "t", TimeType: "string", Localtime: true}, time.FixedZone("X", -3600), `{"t":"2026-11-22T09:04:05-0100","a":1}`},
		{InjectConfig{TimeKey: "t", TimeType: "string", Localtime: false}, time.FixedZone("X", -3600), `{"t":"2026-11-22T10:04:05+0000","a":1}`},
		{InjectConfig{TimeKey: "t", TimeType: "string", Localtime: true, UTC: true}, time.FixedZone("X", -3600), `{"t":"2026-11-22T10:04:05+0000","a":1}`},
		{InjectConfig{TimeKey: "t", TimeType: "string", Timezone: "Asia/Tokyo", UTC: true}, nil, `{"t":"2026-11-22T19:04:05+0900","a":1}`},
		{InjectConfig{TimeKey: "t", TimeType: "string", TimeFormat: "%s.%N", Timezone: "-05:30"}, nil, `{"t":"1795341845.500000000","a":1}`},
		{InjectConfig{TimeKey: "t", TimeType: "unixtime_micros"}, nil, `{"t":1795341845500000,"a":1}`},
		{InjectConfig{TimeKey: "t", TimeType: "unixtime_nanos"}, nil, `{"t":1795341845500000000,"a":1}`},
		{InjectConfig{TimeKey: "t"}, nil, `{"t":1795341845.5,"a":1}`},
		{InjectConfig{HostnameKey: "h", Hostname: "given"}, nil, `{"h":"given","a":1}`},
		{InjectConfig{TimeKey: "t", TimeType: "string", TimeFormat: "say \"%Y\"\t"}, time.UTC, `{"t":"say \"2026\"\t","a":1}`},
	}
	for _, tt := range tests {
		enc, err := NewEncoder(EncoderConfig{Format: DefaultConfig(), Inject: tt.inject, Compress: "none"}, EncoderOptions{Hostname: "h0", Location: tt.local})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := enc.Encode(&out, &sliceFrames{frames: []frame{{"t", rec}}}); err != nil {
			t.Fatal(err)
		}
		if got := string(bytes.TrimSuffix(out.Bytes(), []byte("\n"))); got != tt.want {
			t.Errorf("%+v: got %s, want %s", tt.inject, got, tt.want)
		}
	}
}

func TestFormatConfigValidate(t *testing.T) {
	tests := []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) {}, ""},
		{func(c *Config) { c.Type = "csv" }, `'@type' "csv" is not a format barge has (json, ltsv, msgpack, single_value, stdout, out_file)`},
		{func(c *Config) { c.Type = "ltsv"; c.Delimiter = "" }, `'delimiter' must not be empty`},
		{func(c *Config) { c.Type = "single_value"; c.MessageKey = "" }, `'message_key' must not be empty`},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		tt.mod(&c)
		if got := errString(c.Validate()); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestInjectConfigValidate(t *testing.T) {
	tests := []struct {
		c    InjectConfig
		want string
	}{
		{DefaultInjectConfig(), ""},
		{InjectConfig{TimeType: "iso"}, `'time_type' "iso" is not one of float, unixtime, unixtime_millis, unixtime_micros, unixtime_nanos, string`},
		{InjectConfig{Timezone: "Mars/Olympus"}, `'timezone' "Mars/Olympus" is not a known time zone`},
		{InjectConfig{Timezone: "+25:00"}, `'timezone' "+25:00" is not an offset like +09:00`},
		{InjectConfig{TagKey: "k", TimeKey: "k"}, `'time_key' "k" is also the 'tag_key'`},
	}
	for _, tt := range tests {
		if got := errString(tt.c.Validate()); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.c, got, tt.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
