package parse

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer/event"
)

// fuzzConfigs are the configurations FuzzParse runs lines through; the
// first byte of its input picks one.
var fuzzConfigs = []struct {
	typ  string
	edit func(*Config)
}{
	{"none", nil},
	{"json", nil},
	{"json", func(c *Config) {
		c.TimeFormat = "%Y-%m-%dT%H:%M:%S.%N%z"
		c.KeepTimeKey = "true"
		c.NullEmptyString = true
		c.NullValuePattern = "^-$"
		c.Types = map[string]string{"a": "integer", "b": "float", "c": "bool", "d": "array", "e": "time:%s", "f": "string", "time": "time"}
	}},
	{"regexp", func(c *Config) {
		c.Expression = `/^(?<time>[^ ]*) (?<a>[^ ]*)(?: (?<b>.*))?$/m`
		c.TimeFormat = "%d/%b/%Y:%H:%M:%S %z"
	}},
	{"regexp", func(c *Config) {
		c.Expression = `^(?<time>\S+) (?<a>.*)`
		c.TimeType = "mixed"
		c.TimeFormatFallbacks = []string{"float", "%Y-%m-%d"}
	}},
	{"ltsv", func(c *Config) { c.Types = map[string]string{"n": "integer", "t": "time"} }},
	{"csv", func(c *Config) { c.Keys = []string{"a", "time", "a"}; c.TimeKey = "time"; c.TimeType = "unixtime" }},
	{"tsv", func(c *Config) { c.Keys = []string{"a", "b"}; c.Delimiter = " " }},
	{"apache2", nil},
	{"nginx", nil},
	{"syslog", nil},
	{"syslog", func(c *Config) { c.MessageFormat = "auto"; c.WithPriority = true; c.KeepTimeKey = "true" }},
	{"multiline", func(c *Config) {
		c.FormatFirstline = `/^\d/`
		c.Format1 = `/^(?<time>\d+) (?<m>.*)/`
		c.TimeType = "unixtime"
	}},
	{"multiline", func(c *Config) { c.Format1 = `/^(?<a>[a-z]+)\n(?<b>.*)\n\./` }},
	{"cri", nil},
	{"cri", func(c *Config) { sub := DefaultConfig(); sub.Type = "json"; c.Parse = &sub }},
	{"docker", nil},
}

func FuzzParse(f *testing.F) {
	seeds := map[string][]string{
		"none":      {"hello", "", "a\xffb"},
		"json":      {`{"a":1,"b":"x","time":1700000000.5}`, `[{"a":"-"},{"d":"x,y"}]`, `{"time":"2024-05-01T10:00:00.123456789Z","e":"17","c":"yes"}`, `{"a":{"b":[1,{"c":null}]}}`},
		"regexp":    {"01/May/2024:10:00:00 +0900 x y", "1700000000.5 a", "2024-05-01 b", "x"},
		"ltsv":      {"time:2024-05-01T10:00:00Z\tn:12\tt:2024-05-01"},
		"csv":       {`1,1700000000,"x""y"`, `"a`},
		"tsv":       {"1 2 3", ""},
		"apache2":   {`192.168.0.1 - - [28/Feb/2013:12:00:00 +0900] "GET / HTTP/1.1" 200 777 "-" "Opera/12.0"`},
		"nginx":     {`127.0.0.1 192.168.0.1 - [28/Feb/2013:12:00:00 +0900] "GET / HTTP/1.1" 200 777 "-" "Opera/12.0"`},
		"syslog":    {`Feb 28 12:00:00 192.168.0.1 fluentd[11111]: [error] Syslog test`, `<16>1 2017-02-06T13:14:15.003Z h i p m [a b="\]"] msg`},
		"multiline": {"1700000000 start", "more", "abc", "def", ".", "2 x"},
		"cri":       {"2024-05-01T10:00:00.1Z stdout P a", "2024-05-01T10:00:00Z stderr F {\"a\":1}", "2024-05-01T10:00:00Z stdout F b"},
		"docker":    {`{"log":"a","stream":"stdout","time":"2024-05-01T10:00:00Z"}`, `{"log":"b\n","stream":"stdout","time":"2024-05-01T10:00:01Z"}`},
	}
	for i, c := range fuzzConfigs {
		f.Add(append([]byte{byte(i)}, strings.Join(seeds[c.typ], "\n")...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		c := fuzzConfigs[int(data[0])%len(fuzzConfigs)]
		cfg := DefaultConfig()
		cfg.Type = c.typ
		if c.edit != nil {
			c.edit(&cfg)
		}
		p, err := New(cfg, Options{Location: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(data[1:], []byte("\n"))
		var out []byte
		for _, l := range lines {
			out = p.Line(out, l, testNow)
			if p.Held() < 0 || p.Held() > len(lines) {
				t.Fatalf("Held() = %d after %d lines", p.Held(), len(lines))
			}
		}
		out = p.Flush(out, testNow)
		if p.Held() != 0 {
			t.Fatalf("Held() = %d after Flush", p.Held())
		}
		n := 0
		for rest := out; len(rest) > 0; n++ {
			e, r, err := event.Next(rest)
			if err != nil {
				t.Fatalf("entry %d: %v", n, err)
			}
			if r, err := event.CheckRecord(e.Record); err != nil || len(r) != 0 {
				t.Fatalf("entry %d: CheckRecord: %v", n, err)
			}
			rest = r
		}
		s := p.Stats()
		if s.Records != uint64(n) || s.Unmatched > s.Records {
			t.Fatalf("Stats %+v for %d entries", s, n)
		}
		switch c.typ {
		case "none", "regexp", "ltsv", "csv", "tsv", "apache2", "nginx", "syslog":
			if n != len(lines) {
				t.Fatalf("%d lines made %d entries", len(lines), n)
			}
		case "json":
			if n < len(lines) {
				t.Fatalf("%d lines made %d entries", len(lines), n)
			}
		}
	})
}

// FuzzJSON checks the transcoder against encoding/json: the same texts
// are accepted (but those nested deeper than event.MaxDepth) and decode
// to the same values.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,-2.5e3,"x\u00e9\ud800",true,null,{}]`, `"\ud83d\ude00"`, `18446744073709551616`, `-0`, "\"\xff\"", `{"a":1,"a":2}`, ` 1 `, `1e400`, `[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want any
		jerr := json.Unmarshal(b, &want)
		got, end, err := appendJSON(nil, b, 0, 0)
		if err == nil && skipWS(b, end) != len(b) {
			err = errJSON
		}
		if err != nil {
			if jerr == nil && err != errDeep {
				t.Fatalf("transcoder: %v, encoding/json: ok (%q)", err, b)
			}
			return
		}
		if jerr != nil {
			t.Fatalf("transcoder: ok, encoding/json: %v (%q)", jerr, b)
		}
		v, rest, err := decodeValue(got)
		if err != nil || len(rest) != 0 {
			t.Fatalf("msgpack: %v, %d left", err, len(rest))
		}
		if n, err := event.Skip(got); err != nil || n != len(got) {
			t.Fatalf("event.Skip: %d, %v", n, err)
		}
		if g := normalize(v); !reflect.DeepEqual(g, want) {
			t.Fatalf("transcoded %#v, encoding/json %#v (%q)", g, want, b)
		}
	})
}

// normalize makes msgpack-decoded numbers float64, as encoding/json has them.
func normalize(v any) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case float64:
		if x == 0 {
			return math.Copysign(0, x)
		}
		return x
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalize(x[k])
		}
	}
	return v
}

// FuzzTime checks that no format and value make the time parsers panic,
// and that what they read is an EventTime.
func FuzzTime(f *testing.F) {
	f.Add("%Y-%m-%dT%H:%M:%S.%N%z", "2024-05-01T10:00:00.123+09:00")
	f.Add("%d/%b/%Y:%H:%M:%S %z", "01/May/2024:10:00:00 -0700")
	f.Add("%s", "1700000000")
	f.Add("%b %e %l:%M %p %Z", "May  1  3:04 PM EST")
	f.Add("%j %y %C", "123 24 20")
	f.Fuzz(func(t *testing.T, format, value string) {
		loc := time.FixedZone("x", 3600)
		for _, typ := range []string{"string", "unixtime", "float", "mixed"} {
			tp, err := newTimeParser(typ, format, []string{"float", format})
			if err != nil {
				continue
			}
			for _, v := range []timeValue{{b: []byte(value)}, {b: []byte(value), number: true}} {
				if sec, nsec, ok := tp.parse(v, loc, testNow); ok && (sec < 0 || sec > math.MaxUint32 || nsec < 0 || nsec >= 1e9) {
					t.Fatalf("%s %q %q: %d.%d", typ, format, value, sec, nsec)
				}
			}
		}
		if sec, nsec, _, ok := parseLenient([]byte(value), loc, testNow); ok && (nsec < 0 || nsec >= 1e9) {
			t.Fatalf("lenient %q: %d.%d", value, sec, nsec)
		}
	})
}
