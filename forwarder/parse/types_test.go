package parse

import (
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

func TestNone(t *testing.T) {
	runCases(t, "none", []typeCase{
		{name: "line", lines: []string{"hello world", ""}, want: []rec{at(testNow, "message", "hello world"), at(testNow, "message", "")}},
		{name: "message_key", edit: func(c *Config) { c.MessageKey = "log" }, lines: []string{"x"}, want: []rec{at(testNow, "log", "x")}},
		{name: "invalid UTF-8 kept", lines: []string{"a\xffb"}, want: []rec{at(testNow, "message", "a\xffb")}},
		{name: "no estimate_current_event", edit: func(c *Config) { c.EstimateCurrentEvent = false },
			lines: []string{"x"}, want: []rec{unmatched("x")}, unmatched: 1},
	})
}

func TestUnmatchedKey(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Type = "json"
	p, err := New(cfg, Options{UnmatchedKey: "unmatched_line"})
	if err != nil {
		t.Fatal(err)
	}
	check(t, run(t, p, "not json"), []rec{at(testNow, "unmatched_line", "not json")})
}

func eventTime(sec, nsec int64) *msgp.RawExtension {
	b := event.AppendEventTime(nil, sec, nsec)
	return &msgp.RawExtension{Type: 0, Data: b[2:]}
}

func TestJSON(t *testing.T) {
	iso := func(c *Config) { c.TimeFormat = "%Y-%m-%dT%H:%M:%S.%L%z" }
	deep := func(n int) string { return `{"a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}` }
	nest := func(n int) any {
		var v any = []any{}
		for i := 1; i < n; i++ {
			v = []any{v}
		}
		return v
	}
	runCases(t, "json", []typeCase{
		{name: "float time", lines: []string{`{"a":1,"b":"x","time":1700000000.5}`},
			want: []rec{at(time.Unix(1700000000, 5e8), "a", int64(1), "b", "x")}},
		{name: "float time as string", lines: []string{`{"time":"1700000000.123456789123"}`},
			want: []rec{at(time.Unix(1700000000, 123456789))}},
		{name: "integer time", lines: []string{`{"time":1700000000}`}, want: []rec{at(time.Unix(1700000000, 0))}},
		{name: "time_format", edit: iso, lines: []string{`{"time":"2024-05-01T10:00:00.123Z","msg":"hi"}`},
			want: []rec{at(utc(2024, 5, 1, 10, 0, 0, 123e6), "msg", "hi")}},
		{name: "keep_time_key", edit: func(c *Config) { iso(c); c.KeepTimeKey = "true" },
			lines: []string{`{"time":"2024-05-01T10:00:00.5+02:00"}`},
			want:  []rec{at(utc(2024, 5, 1, 8, 0, 0, 5e8), "time", "2024-05-01T10:00:00.5+02:00")}},
		{name: "time_key", edit: func(c *Config) { c.TimeKey = "ts"; c.TimeType = "unixtime" },
			lines: []string{`{"ts":"1700000000","time":1}`}, want: []rec{at(time.Unix(1700000000, 0), "time", int64(1))}},
		{name: "no time", lines: []string{` { "a" : [ ] } `}, want: []rec{at(testNow, "a", []any{})}},
		{name: "no time, no estimate", edit: func(c *Config) { c.EstimateCurrentEvent = false },
			lines: []string{`{"a":1}`}, want: []rec{unmatched(`{"a":1}`)}, unmatched: 1},
		{name: "bad time", edit: iso, lines: []string{`{"time":"yesterday"}`, `{"time":1}`},
			want: []rec{unmatched(`{"time":"yesterday"}`), unmatched(`{"time":1}`)}, unmatched: 2},
		{name: "time before 1970", lines: []string{`{"time":-5}`}, want: []rec{unmatched(`{"time":-5}`)}, unmatched: 1},
		{name: "not an object", lines: []string{`"s"`, `42`, `null`, `{`, `{} x`, ``, `{"a":1,}`, `[]`},
			want: []rec{unmatched(`"s"`), unmatched(`42`), unmatched(`null`), unmatched(`{`), unmatched(`{} x`), unmatched(``), unmatched(`{"a":1,}`), unmatched(`[]`)}, unmatched: 8},
		{name: "array", lines: []string{`[{"a":1},{"b":2}]`, `[{"a":1},2]`, `[{"a":1},{]`},
			want: []rec{at(testNow, "a", int64(1)), at(testNow, "b", int64(2)), at(testNow, "a", int64(1)), unmatched(`[{"a":1},2]`), unmatched(`[{"a":1},{]`)}, unmatched: 2},
		{name: "values", lines: []string{`{"a":{"b":[1,2,{"c":null}]},"d":true,"e":-1.5,"f":18446744073709551615,"g":-9223372036854775808,"h":1e400}`,
			`{"a":{"b":[1,2,{"c":null}]},"d":true,"e":-1.5,"f":18446744073709551615,"g":-9223372036854775808,"h":1e300,"i":123456789012345678901234}`},
			want: []rec{unmatched(`{"a":{"b":[1,2,{"c":null}]},"d":true,"e":-1.5,"f":18446744073709551615,"g":-9223372036854775808,"h":1e400}`),
				at(testNow, "a", map[string]any{"b": []any{int64(1), int64(2), map[string]any{"c": nil}}}, "d", true, "e", -1.5,
					"f", uint64(18446744073709551615), "g", int64(-9223372036854775808), "h", 1e300, "i", 123456789012345678901234.0)}, unmatched: 1},
		{name: "escapes", lines: []string{`{"s":"a\"b\\c\/\u00e9\ud83d\ude00\n\t\ud800x","\u006b":"\u00"}`, `{"s":"a\"b\\c\/\u00e9\ud83d\ude00\n\t\ud800x"}`, "{\"s\":\"\xff\"}", "{\"s\":\"\x01\"}"},
			want: []rec{unmatched(`{"s":"a\"b\\c\/\u00e9\ud83d\ude00\n\t\ud800x","\u006b":"\u00"}`), at(testNow, "s", "a\"b\\c/é😀\n\t\ufffdx"), at(testNow, "s", "\ufffd"), unmatched("{\"s\":\"\x01\"}")}, unmatched: 2},
		{name: "duplicate keys", lines: []string{`{"a":1,"b":2,"a":3}`}, want: []rec{at(testNow, "a", int64(3), "b", int64(2))}},
		{name: "depth", lines: []string{deep(event.MaxDepth - 1), deep(event.MaxDepth)},
			want: []rec{at(testNow, "a", nest(event.MaxDepth-1)), unmatched(deep(event.MaxDepth))}, unmatched: 1},
		{name: "long strings", lines: []string{`{"s":"` + strings.Repeat("x", 70000) + `","e":"` + strings.Repeat(`\n`, 300) + `"}`},
			want: []rec{at(testNow, "s", strings.Repeat("x", 70000), "e", strings.Repeat("\n", 300))}},
		{name: "null values", edit: func(c *Config) { c.NullEmptyString = true; c.NullValuePattern = `^(-|null)$` },
			lines: []string{`{"a":"","b":"-","c":"null","d":"x","e":0}`},
			want:  []rec{at(testNow, "a", nil, "b", nil, "c", nil, "d", "x", "e", int64(0))}},
		{name: "types", edit: func(c *Config) {
			c.Types = map[string]string{"i": "integer", "f": "float", "b": "bool", "t": "time:%Y-%m-%d %H:%M:%S", "arr": "array",
				"s": "string", "n": "integer", "fi": "integer", "bi": "integer", "if": "float", "ib": "bool", "fs": "string", "tu": "time:unixtime", "tz": "time:+0900:%H:%M", "sp": "array: "}
		}, lines: []string{`{"i":"42abc","f":"1.5e2x","b":"Yes","t":"2024-05-01 10:00:00","arr":"a,b,,","s":5,"n":null,"fi":-2.7,"bi":true,"if":3,"ib":1,"fs":0.5,"tu":1700000000,"tz":"10:30","sp":"  x  y "}`},
			want: []rec{at(testNow, "i", int64(42), "f", 150.0, "b", true, "t", eventTime(utc(2024, 5, 1, 10, 0, 0, 0).Unix(), 0), "arr", []any{"a", "b"},
				"s", "5", "n", nil, "fi", int64(-2), "bi", int64(0), "if", 3.0, "ib", true, "fs", "0.5", "tu", eventTime(1700000000, 0),
				"tz", eventTime(time.Date(2024, 5, 1, 10, 30, 0, 0, time.FixedZone("", 9*3600)).Unix(), 0), "sp", []any{"x", "y"})}},
		{name: "bad type time", edit: func(c *Config) { c.Types = map[string]string{"t": "time:%Y"} },
			lines: []string{`{"t":"x"}`}, want: []rec{at(testNow, "t", nil)}},
	})
}

func TestRegexp(t *testing.T) {
	expr := `/^(?<host>[^ ]*) (?<user>[^ ]*) \[(?<time>[^\]]*)\] (?<msg>.*)$/`
	runCases(t, "regexp", []typeCase{
		{name: "match", edit: func(c *Config) { c.Expression = expr; c.TimeFormat = "%d/%b/%Y:%H:%M:%S %z" },
			lines: []string{`1.2.3.4 - [01/May/2024:10:00:00 +0900] hello there`, `nope`},
			want:  []rec{at(utc(2024, 5, 1, 1, 0, 0, 0), "host", "1.2.3.4", "user", "-", "msg", "hello there"), unmatched("nope")}, unmatched: 1},
		{name: "optional group", edit: func(c *Config) { c.Expression = `^(?<a>x)(?<b>y)?(z)?` },
			lines: []string{"x", "xyz"}, want: []rec{at(testNow, "a", "x"), at(testNow, "a", "x", "b", "y")}},
		{name: "ignore case", edit: func(c *Config) { c.Expression = `/^(?<a>abc)$/i` },
			lines: []string{"ABC"}, want: []rec{at(testNow, "a", "ABC")}},
		{name: "lenient time", edit: func(c *Config) { c.Expression = `^(?<time>[^|]*)\|(?<m>.*)` },
			lines: []string{"2024-05-01 10:00:00|a", "2024-05-01T10:00:00.25+01:00|b", "01/May/2024:10:00:00 +0000|c", "Wed May  1 10:00:00 2024|d", "1 May|e"},
			want: []rec{at(utc(2024, 5, 1, 10, 0, 0, 0), "m", "a"), at(utc(2024, 5, 1, 9, 0, 0, 25e7), "m", "b"),
				at(utc(2024, 5, 1, 10, 0, 0, 0), "m", "c"), at(utc(2024, 5, 1, 10, 0, 0, 0), "m", "d"), unmatched("1 May|e")}, unmatched: 1},
		{name: "timezone", edit: func(c *Config) {
			c.Expression = `^(?<time>.*)$`
			c.TimeFormat = "%Y-%m-%d %H:%M"
			c.Timezone = "Asia/Tokyo"
		}, lines: []string{"2024-05-01 09:00"}, want: []rec{at(utc(2024, 5, 1, 0, 0, 0, 0))}},
		{name: "time_type float", edit: func(c *Config) { c.Expression = `^(?<time>.*)$`; c.TimeType = "float" },
			lines: []string{"1700000000.25"}, want: []rec{at(time.Unix(1700000000, 25e7))}},
		{name: "time_type mixed", edit: func(c *Config) {
			c.Expression = `^(?<time>.*)$`
			c.TimeType = "mixed"
			c.TimeFormat = "%d/%m/%Y"
			c.TimeFormatFallbacks = []string{"unixtime", "%Y-%m-%d"}
		}, lines: []string{"02/05/2024", "1700000000", "2024-05-03", "x"},
			want: []rec{at(utc(2024, 5, 2, 0, 0, 0, 0)), at(time.Unix(1700000000, 0)), at(utc(2024, 5, 3, 0, 0, 0, 0)), unmatched("x")}, unmatched: 1},
	})
}

func TestNginx(t *testing.T) {
	runCases(t, "nginx", []typeCase{
		{name: "line", lines: []string{`127.0.0.1 192.168.0.1 - [28/Feb/2013:12:00:00 +0900] "GET / HTTP/1.1" 200 777 "-" "Opera/12.0"`},
			want: []rec{at(utc(2013, 2, 28, 3, 0, 0, 0), "remote", "127.0.0.1", "host", "192.168.0.1", "user", "-", "method", "GET", "path", "/",
				"code", "200", "size", "777", "referer", "-", "agent", "Opera/12.0")}},
	})
}

func TestApache2(t *testing.T) {
	tm := utc(2013, 2, 28, 3, 0, 0, 0)
	runCases(t, "apache2", []typeCase{
		{name: "combined", lines: []string{`192.168.0.1 - - [28/Feb/2013:12:00:00 +0900] "GET / HTTP/1.1" 200 777 "-" "Opera/12.0"`},
			want: []rec{at(tm, "host", "192.168.0.1", "user", nil, "method", "GET", "path", "/", "code", int64(200), "size", int64(777), "referer", nil, "agent", "Opera/12.0")}},
		{name: "common", lines: []string{`::1 - bob [28/Feb/2013:12:00:00 +0900] "POST /a?b=\"c\" HTTP/1.0" 404 -`},
			want: []rec{at(tm, "host", "::1", "user", "bob", "method", "POST", "path", `/a?b=\"c\"`, "code", int64(404), "size", nil, "referer", nil, "agent", nil)}},
		{name: "keep_time_key", edit: func(c *Config) { c.KeepTimeKey = "yes" }, lines: []string{`h - - [28/Feb/2013:12:00:00 +0900] "-" - 0`},
			want: []rec{at(tm, "host", "h", "user", nil, "method", "-", "path", nil, "code", nil, "size", int64(0), "referer", nil, "agent", nil, "time", "28/Feb/2013:12:00:00 +0900")}},
		{name: "bad", lines: []string{`h - - [28/Foo/2013:12:00:00 +0900] "GET /" 200 1`, "x"},
			want: []rec{unmatched(`h - - [28/Foo/2013:12:00:00 +0900] "GET /" 200 1`), unmatched("x")}, unmatched: 2},
	})
}

func TestSyslog(t *testing.T) {
	pri := func(c *Config) { c.WithPriority = true }
	rfc5424 := func(c *Config) { c.WithPriority = true; c.MessageFormat = "rfc5424" }
	line5424 := `<16>1 2017-02-06T13:14:15.003Z 192.168.0.1 fluentd 11111 ID24224 [exampleSDID@20224 iut="3" eventSource="Application"][x a="\]"] Hi, from Fluentd!`
	runCases(t, "syslog", []typeCase{
		{name: "rfc3164", lines: []string{`Feb 28 12:00:00 192.168.0.1 fluentd[11111]: [error] Syslog test`, `Mar  1 01:02:03 host app: m`},
			want: []rec{at(utc(2024, 2, 28, 12, 0, 0, 0), "host", "192.168.0.1", "ident", "fluentd", "pid", "11111", "message", "[error] Syslog test"),
				at(utc(2024, 3, 1, 1, 2, 3, 0), "host", "host", "ident", "app", "message", "m")}},
		{name: "rfc3164 priority", edit: func(c *Config) { pri(c); c.KeepTimeKey = "true" }, lines: []string{`<6>Feb 28 12:00:00 192.168.0.1 fluentd[11111]: [error] Syslog test`, `Feb 28 12:00:00 x y: z`},
			want: []rec{at(utc(2024, 2, 28, 12, 0, 0, 0), "pri", int64(6), "time", "Feb 28 12:00:00", "host", "192.168.0.1", "ident", "fluentd", "pid", "11111", "message", "[error] Syslog test"),
				unmatched(`Feb 28 12:00:00 x y: z`)}, unmatched: 1},
		{name: "rfc5424", edit: rfc5424, lines: []string{line5424, `<16>1 2017-02-06T13:14:15Z h i p m -`, `<16>1 - h i p m -`},
			want: []rec{at(utc(2017, 2, 6, 13, 14, 15, 3e6), "pri", int64(16), "host", "192.168.0.1", "ident", "fluentd", "pid", "11111", "msgid", "ID24224",
				"extradata", `[exampleSDID@20224 iut="3" eventSource="Application"][x a="\]"]`, "message", "Hi, from Fluentd!"),
				at(utc(2017, 2, 6, 13, 14, 15, 0), "pri", int64(16), "host", "h", "ident", "i", "pid", "p", "msgid", "m", "extradata", "-"),
				unmatched(`<16>1 - h i p m -`)}, unmatched: 1},
		{name: "auto", edit: func(c *Config) { pri(c); c.MessageFormat = "auto" }, lines: []string{`<16>1 2017-02-06T13:14:15.003Z 192.168.0.1 fluentd 11111 ID24224 - x`, `<6>Feb 28 12:00:00 h a: b`},
			want: []rec{at(utc(2017, 2, 6, 13, 14, 15, 3e6), "pri", int64(16), "host", "192.168.0.1", "ident", "fluentd", "pid", "11111", "msgid", "ID24224", "extradata", "-", "message", "x"),
				at(utc(2024, 2, 28, 12, 0, 0, 0), "pri", int64(6), "host", "h", "ident", "a", "message", "b")}},
	})
}

func TestLTSV(t *testing.T) {
	runCases(t, "ltsv", []typeCase{
		{name: "pairs", lines: []string{"time:2024-05-01T10:00:00Z\thost:a\tnolabel\tmsg:x:y\t\thost:b"},
			want: []rec{at(utc(2024, 5, 1, 10, 0, 0, 0), "host", "b", "msg", "x:y")}},
		{name: "delimiters", edit: func(c *Config) { c.Delimiter = ","; c.LabelDelimiter = "=" }, lines: []string{"a=1,b=2=3,"},
			want: []rec{at(testNow, "a", "1", "b", "2=3")}},
		{name: "space", edit: func(c *Config) { c.Delimiter = " " }, lines: []string{"  a:1   b:2 "}, want: []rec{at(testNow, "a", "1", "b", "2")}},
		{name: "delimiter_pattern", edit: func(c *Config) { c.DelimiterPattern = `/[,;]+/` }, lines: []string{"a:1,;b:2"}, want: []rec{at(testNow, "a", "1", "b", "2")}},
		{name: "types", edit: func(c *Config) { c.Types = map[string]string{"n": "integer"} }, lines: []string{"n:12"}, want: []rec{at(testNow, "n", int64(12))}},
	})
}

func TestCSV(t *testing.T) {
	keys := func(c *Config) { c.Keys = []string{"a", "b", "c"} }
	runCases(t, "csv", []typeCase{
		{name: "quoted", edit: keys, lines: []string{`1,"x,""y""",`, `1`, `1,2,3,4`, `"",,`},
			want: []rec{at(testNow, "a", "1", "b", `x,"y"`, "c", nil), at(testNow, "a", "1", "b", nil, "c", nil),
				at(testNow, "a", "1", "b", "2", "c", "3"), at(testNow, "a", "", "b", nil, "c", nil)}},
		{name: "malformed", edit: keys, lines: []string{`"unclosed`, `a"b,c`, `"a"b,c`, ``},
			want: []rec{unmatched(`"unclosed`), unmatched(`a"b,c`), unmatched(`"a"b,c`), unmatched(``)}, unmatched: 4},
		{name: "delimiter", edit: func(c *Config) { keys(c); c.Delimiter = "||" }, lines: []string{`1||"2||x"||3`},
			want: []rec{at(testNow, "a", "1", "b", "2||x", "c", "3")}},
		{name: "time_key", edit: func(c *Config) { c.Keys = []string{"time", "m"}; c.TimeKey = "time"; c.TimeFormat = "%s" },
			lines: []string{"1700000000,x"}, want: []rec{at(time.Unix(1700000000, 0), "m", "x")}},
		{name: "no time_key by default", edit: func(c *Config) { c.Keys = []string{"time"} },
			lines: []string{"1700000000"}, want: []rec{at(testNow, "time", "1700000000")}},
	})
}

func TestTSV(t *testing.T) {
	runCases(t, "tsv", []typeCase{
		{name: "split", edit: func(c *Config) { c.Keys = []string{"a", "b"} }, lines: []string{"1\t2\t3", "1", "", "\t"},
			want: []rec{at(testNow, "a", "1", "b", "2\t3"), at(testNow, "a", "1", "b", nil), at(testNow, "a", nil, "b", nil), at(testNow, "a", "", "b", "")}},
	})
}

func TestMultilineFirstline(t *testing.T) {
	p := newParser(t, "multiline", func(c *Config) {
		c.FormatFirstline = `/\d{4}-\d{1,2}-\d{1,2}/`
		c.Format1 = `/^(?<time>\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{1,2}:\d{1,2}) \[(?<thread>.*)\] (?<level>[^\s]+)(?<message>.*)/`
	})
	lines := []string{
		"orphan",
		"2013-3-03 14:27:33 [main] INFO  Main - Start",
		"2013-3-03 14:27:33 [main] ERROR Main - Exception",
		"javax.management.RuntimeErrorException: null",
		"    at Main.main(Main.java:16) ~[bin/:na]",
		"2013-3-03 14:27:34 [main] INFO  Main - End",
	}
	held := []int{0, 1, 1, 2, 3, 1}
	var out []byte
	for i, l := range lines {
		out = p.Line(out, []byte(l), testNow)
		if p.Held() != held[i] {
			t.Errorf("after line %d: Held() = %d, want %d", i, p.Held(), held[i])
		}
	}
	out = p.Flush(out, testNow)
	tm := utc(2013, 3, 3, 14, 27, 33, 0)
	check(t, decode(t, out), []rec{
		unmatched("orphan"),
		at(tm, "thread", "main", "level", "INFO", "message", "  Main - Start"),
		at(tm, "thread", "main", "level", "ERROR", "message", " Main - Exception\njavax.management.RuntimeErrorException: null\n    at Main.main(Main.java:16) ~[bin/:na]"),
		at(tm.Add(time.Second), "thread", "main", "level", "INFO", "message", "  Main - End"),
	})
	if p.Held() != 0 || p.Stats() != (Stats{Records: 4, Unmatched: 1}) {
		t.Errorf("Held %d, Stats %+v", p.Held(), p.Stats())
	}
}

func TestMultilineJoin(t *testing.T) {
	p := newParser(t, "multiline", func(c *Config) {
		c.Format1 = `/^(?<a>start)\n/`
		c.Format2 = `/(?<b>.*)\nend$/`
	})
	check(t, run(t, p, "start", "mid", "end", "start", "x"), []rec{at(testNow, "a", "start", "b", "mid"), unmatched("start\nx")})
}

func TestMultilineLimit(t *testing.T) {
	p := newParser(t, "multiline", func(c *Config) {
		c.FormatFirstline = `/^S/`
		c.Format1 = `/^S(?<m>.*)/`
	})
	lines := []string{"S"}
	for range MaxHeldLines + 5 {
		lines = append(lines, "x")
	}
	got := run(t, p, lines...)
	if len(got) != 2 || got[0].r["m"] != strings.Repeat("\nx", MaxHeldLines-1) || got[1].r["message"] != "x"+strings.Repeat("\nx", 5) {
		t.Fatalf("got %d records, first %.40q", len(got), got[0].r["m"])
	}
}

func TestCRI(t *testing.T) {
	t1, t2, t3 := "2024-05-01T10:00:00.123456789Z", "2024-05-01T10:00:01Z", "2024-05-01T10:00:02.5+02:00"
	tm1 := utc(2024, 5, 1, 10, 0, 0, 123456789)
	runCases(t, "cri", []typeCase{
		{name: "full", lines: []string{t1 + " stdout F hello world", t2 + " stderr F ", "garbage", t1 + " stdout F"},
			want: []rec{at(tm1, "stream", "stdout", "logtag", "F", "message", "hello world", "time", t1),
				at(utc(2024, 5, 1, 10, 0, 1, 0), "stream", "stderr", "logtag", "F", "message", "", "time", t2),
				unmatched("garbage"), unmatched(t1 + " stdout F")}, unmatched: 2},
		{name: "partial", lines: []string{t1 + " stdout P part1 ", t2 + " stderr F err", t2 + " stdout P part2 ", t3 + " stdout F end", t3 + " stdout P open"},
			want: []rec{at(utc(2024, 5, 1, 10, 0, 1, 0), "stream", "stderr", "logtag", "F", "message", "err", "time", t2),
				at(tm1, "stream", "stdout", "logtag", "F", "message", "part1 part2 end", "time", t1),
				at(utc(2024, 5, 1, 8, 0, 2, 5e8), "stream", "stdout", "logtag", "P", "message", "open", "time", t3)}},
		{name: "keep_time_key false", edit: func(c *Config) { c.KeepTimeKey = "false" }, lines: []string{t1 + " stdout F x"},
			want: []rec{at(tm1, "stream", "stdout", "logtag", "F", "message", "x")}},
		{name: "bad time", lines: []string{"yesterday stdout F x", "yesterday stdout P x", t1 + " stdout F y"},
			want: []rec{unmatched("yesterday stdout F x"), unmatched("yesterday stdout F xy")}, unmatched: 2},
		{name: "nested json", edit: func(c *Config) { sub := DefaultConfig(); sub.Type = "json"; c.Parse = &sub },
			lines: []string{t1 + ` stdout F {"a":1,"stream":"x"}`, t1 + ` stdout P {"time":1700000000,`, t1 + ` stdout F "b":2}`, t1 + " stdout F not json"},
			want: []rec{at(tm1, "a", int64(1), "stream", "stdout", "logtag", "F"), at(time.Unix(1700000000, 0), "b", int64(2), "stream", "stdout", "logtag", "F"),
				unmatched(t1 + " stdout F not json")}, unmatched: 1},
		{name: "nested without merge", edit: func(c *Config) { sub := DefaultConfig(); sub.Type = "none"; c.Parse = &sub; c.MergeCRIFields = false },
			lines: []string{t1 + " stdout F x"}, want: []rec{at(tm1, "message", "x")}},
	})
}

func TestCRIHeld(t *testing.T) {
	p := newParser(t, "cri", nil)
	t1 := "2024-05-01T10:00:00Z"
	steps := []struct {
		line    string
		held, n int
	}{
		{t1 + " stdout P a", 1, 0},
		{t1 + " stderr P b", 2, 0},
		{t1 + " stdout P c", 3, 0},
		{t1 + " stdout F d", 3, 1}, // stderr's record is still open from line 2
		{t1 + " stderr F e", 0, 1},
		{t1 + " stdout F f", 0, 1},
	}
	for i, s := range steps {
		out := p.Line(nil, []byte(s.line), testNow)
		if got := len(decode(t, out)); got != s.n || p.Held() != s.held {
			t.Errorf("line %d: %d records, Held %d; want %d, %d", i, got, p.Held(), s.n, s.held)
		}
	}
}

func TestCRIStreams(t *testing.T) {
	p := newParser(t, "cri", nil)
	t1 := "2024-05-01T10:00:00Z"
	var out []byte
	for i := range maxStreams + 1 {
		out = p.Line(out, []byte(t1+" s"+string(rune('0'+i))+" P x"), testNow)
	}
	if got := decode(t, out); len(got) != 1 || got[0].r["stream"] != "s0" || got[0].r["logtag"] != "P" {
		t.Fatalf("got %v, want the oldest stream closed", got)
	}
	if p.Held() != maxStreams {
		t.Errorf("Held() = %d, want %d", p.Held(), maxStreams)
	}
}

func TestDocker(t *testing.T) {
	t1, t2 := "2024-05-01T10:00:00.123456789Z", "2024-05-01T10:00:01Z"
	tm1 := utc(2024, 5, 1, 10, 0, 0, 123456789)
	line := func(log, stream, ts string) string {
		return `{"log":"` + log + `","stream":"` + stream + `","time":"` + ts + `"}`
	}
	runCases(t, "docker", []typeCase{
		{name: "full", lines: []string{line(`hello\n`, "stdout", t1), `{"other":1}`, "not json", line(`x\n`, "stdout", "bad")},
			want: []rec{at(tm1, "log", "hello\n", "stream", "stdout"), at(testNow, "other", int64(1)), unmatched("not json"), unmatched(line(`x\n`, "stdout", "bad"))}, unmatched: 2},
		{name: "partial", lines: []string{line("aaa", "stdout", t1), line(`err\n`, "stderr", t2), line(`b\"b\n`, "stdout", t2), line("open", "stderr", t2)},
			want: []rec{at(utc(2024, 5, 1, 10, 0, 1, 0), "log", "err\n", "stream", "stderr"), at(tm1, "log", "aaab\"b\n", "stream", "stdout"),
				at(utc(2024, 5, 1, 10, 0, 1, 0), "log", "open", "stream", "stderr")}},
		{name: "attrs", lines: []string{`{"log":"a\n","attrs":{"k":"v"},"stream":"stdout","time":"` + t1 + `"}`},
			want: []rec{at(tm1, "log", "a\n", "attrs", map[string]any{"k": "v"}, "stream", "stdout")}},
	})
}
