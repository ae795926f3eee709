package files

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/forwarder/parse"
	"github.com/tinylib/msgp/msgp"
)

// collect is an emitter keeping records and times.
type collect struct {
	recs    []map[string]any
	raw     [][]byte
	times   []int64
	cursors []cursor
}

func (c *collect) add(rawTime, rec []byte, cur cursor) error {
	_, sec, _, err := event.ReadTime(rawTime)
	if err != nil {
		return err
	}
	if rest, err := event.CheckRecord(rec); err != nil || len(rest) != 0 {
		return fmt.Errorf("bad record %x: %v", rec, err)
	}
	m, _, err := msgp.ReadMapStrIntfBytes(rec, nil)
	if err != nil {
		return err
	}
	c.recs = append(c.recs, m)
	c.raw = append(c.raw, bytes.Clone(rec))
	c.times = append(c.times, sec)
	c.cursors = append(c.cursors, cur)
	return nil
}

const defaultSec = 1600000000

// readAll runs the reader of p over data.
func readAll(t testing.TB, p ParseConfig, pathKey, data string) (*collect, error) {
	t.Helper()
	if err := p.validate(); err != nil {
		t.Fatal(err)
	}
	f, err := newFormat(&p, pathKey)
	if err != nil {
		t.Fatal(err)
	}
	c := &collect{}
	r := newFileReader(f, pathKey, "/in/x", time.Unix(defaultSec, 0), c)
	in := strings.NewReader(data)
	switch p.Type {
	case "json":
		err = r.jsonDoc(in)
	case "ndjson":
		err = r.ndjson(in, cursor{}, 0)
	default:
		err = r.csv(in, cursor{}, 0, nil)
	}
	return c, err
}

func parseConfig(typ string) ParseConfig {
	p := DefaultParseConfig()
	p.Type = typ
	return p
}

func TestCSV(t *testing.T) {
	cases := []struct {
		name string
		edit func(*ParseConfig)
		data string
		want []map[string]any
		err  string
	}{
		{"header", nil, "a,b\n1,x\n2,\"y,\n z\"\n", []map[string]any{{"a": "1", "b": "x"}, {"a": "2", "b": "y,\n z"}}, ""},
		{"bom and crlf", nil, "\xef\xbb\xbfa,b\r\n1,2\r\n", []map[string]any{{"a": "1", "b": "2"}}, ""},
		{"columns without header", func(p *ParseConfig) { p.Header, p.Columns = false, []string{"k", "v"} }, "1,2\n3,4\n",
			[]map[string]any{{"k": "1", "v": "2"}, {"k": "3", "v": "4"}}, ""},
		{"columns override header", func(p *ParseConfig) { p.Columns = []string{"k", "v"} }, "a,b\n1,2\n", []map[string]any{{"k": "1", "v": "2"}}, ""},
		{"columns wider than header", func(p *ParseConfig) { p.Columns = []string{"k", "v", "w"} }, "a,b\n1,2\n", nil, "line 1: wrong number of fields"},
		{"ragged", nil, "a,b\n1,2\n3\n", []map[string]any{{"a": "1", "b": "2"}}, "line 3: wrong number of fields"},
		{"bad quote", nil, "a,b\n1,\"2\n", nil, "line 2"},
		{"types", func(p *ParseConfig) {
			p.Types = map[string]string{"i": "integer", "f": "float", "b": "bool", "s": "string"}
		},
			"i,f,b,s\n7,1.5,true,9\n,,,\n", []map[string]any{{"i": int64(7), "f": 1.5, "b": true, "s": "9"}, {"i": nil, "f": nil, "b": nil, "s": ""}}, ""},
		{"bad integer", func(p *ParseConfig) { p.Types = map[string]string{"i": "integer"} }, "i\n1\nx\n", []map[string]any{{"i": int64(1)}}, `line 3: i: "x" is not an integer`},
		{"empty", nil, "", nil, ""},
		{"header only", nil, "a,b\n", nil, ""},
		{"duplicate header", nil, "a,a\n1,2\n", nil, `line 1: column "a" repeated`},
		{"unnamed column", nil, "a,\n1,2\n", nil, "line 1: column 2 of the header has no name"},
		{"semicolon", func(p *ParseConfig) { p.Delimiter = ";" }, "a;b\n1;2\n", []map[string]any{{"a": "1", "b": "2"}}, ""},
		{"too long", func(p *ParseConfig) { p.MaxLineSize = 1024 }, "a\n\"" + strings.Repeat("x", 3<<20) + "\"\n", nil, "line 2: longer than max_line_size"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := parseConfig("csv")
			if tc.edit != nil {
				tc.edit(&p)
			}
			c, err := readAll(t, p, "", tc.data)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			if len(c.recs) != len(tc.want) || len(tc.want) > 0 && !reflect.DeepEqual(c.recs, tc.want) {
				t.Fatalf("records %v, want %v", c.recs, tc.want)
			}
		})
	}
}

func TestTSV(t *testing.T) {
	c, err := readAll(t, parseConfig("tsv"), "", "a\tb\n5\" disk\tx\n")
	if err != nil || len(c.recs) != 1 || c.recs[0]["a"] != `5" disk` {
		t.Fatalf("%v %v", c.recs, err)
	}
	p := parseConfig("tsv")
	p.Delimiter = `\t`
	if _, err := readAll(t, p, "", "a\tb\n1\t2\n"); err != nil {
		t.Fatal(err)
	}
}

func TestCSVOffsets(t *testing.T) {
	data := "\xef\xbb\xbfa,b\n1,2\n\"3\n\",4\n"
	c, err := readAll(t, parseConfig("csv"), "", data)
	if err != nil {
		t.Fatal(err)
	}
	want := []cursor{{1, int64(strings.Index(data, "\"3"))}, {2, int64(len(data))}}
	if !reflect.DeepEqual(c.cursors, want) {
		t.Fatalf("cursors %v, want %v", c.cursors, want)
	}
}

func TestTimeKey(t *testing.T) {
	p := parseConfig("csv")
	p.TimeKey = "ts"
	c, err := readAll(t, p, "", "ts,v\n2024-05-01T12:00:00Z,1\n1700000000.5,2\n,3\n")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.times, []int64{1714564800, 1700000000, defaultSec}) || c.recs[0]["ts"] != nil {
		t.Fatalf("times %v records %v", c.times, c.recs)
	}
	p = parseConfig("ndjson")
	p.TimeKey, p.TimeFormat, p.KeepTimeKey = "t", "%d/%b/%Y:%H:%M:%S %z", true
	c, err = readAll(t, p, "", `{"t":"01/May/2024:14:00:00 +0200","v":1}`+"\n"+`{"v":2,"t":null}`)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.times, []int64{1714564800, defaultSec}) || c.recs[0]["t"] != "01/May/2024:14:00:00 +0200" {
		t.Fatalf("times %v records %v", c.times, c.recs)
	}
	if _, err := readAll(t, p, "", `{"t":"yesterday"}`); err == nil || !strings.Contains(err.Error(), "line 1: t: time \"yesterday\" does not match time_format") {
		t.Fatalf("error %v", err)
	}
}

func TestNDJSON(t *testing.T) {
	data := "\xef\xbb\xbf{\"a\":1,\"file\":\"theirs\",\"b\":[true,null,{\"c\":-2.5e3}]}\r\n\n   \n{\"a\":\"\\u00e9\\ud83d\\ude00\"}\n{\"a\":2} x\n{\"a\":3}\n"
	c, err := readAll(t, parseConfig("ndjson"), "file", data)
	if err == nil || err.Error() != "line 5: column 9: invalid JSON: data after the object" {
		t.Fatalf("error %v", err)
	}
	want := []map[string]any{
		{"a": int64(1), "file": "/in/x", "b": []any{true, nil, map[string]any{"c": -2500.0}}},
		{"a": "é😀", "file": "/in/x"},
	}
	if !reflect.DeepEqual(c.recs, want) {
		t.Fatalf("records %v", c.recs)
	}
	// key order is kept, path_key last
	if !bytes.HasPrefix(c.raw[0], []byte{0x83, 0xa1, 'a', 0x01, 0xa1, 'b'}) {
		t.Errorf("record %x", c.raw[0])
	}
	if c.cursors[1].offset != int64(strings.Index(data, "{\"a\":2}")) {
		t.Errorf("cursor %v", c.cursors[1])
	}
	p := parseConfig("ndjson")
	p.MaxLineSize = 1024
	long := `{"a":"` + strings.Repeat("x", 2000) + `"}`
	if _, err := readAll(t, p, "", "{}\n"+long+"\n{}\n"); err == nil || err.Error() != "line 2: longer than max_line_size" {
		t.Fatalf("error %v", err)
	}
	deep := strings.Repeat(`{"a":`, event.MaxDepth) + "1" + strings.Repeat("}", event.MaxDepth)
	if _, err := readAll(t, parseConfig("ndjson"), "", deep); err != nil {
		t.Fatalf("%d levels: %v", event.MaxDepth, err)
	}
	deeper := strings.Repeat(`{"a":`, event.MaxDepth+1) + "1" + strings.Repeat("}", event.MaxDepth+1)
	if _, err := readAll(t, parseConfig("ndjson"), "", deeper); !errors.Is(err, event.ErrTooDeep) {
		t.Fatalf("%d levels: %v", event.MaxDepth+1, err)
	}
	if _, err := readAll(t, parseConfig("ndjson"), "", "[1]\n"); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Fatalf("array line: %v", err)
	}
}

// TestTranscoderMatchesEncodingJSON holds the ndjson transcoder to
// encoding/json's verdict and values.
func TestTranscoderMatchesEncodingJSON(t *testing.T) {
	for _, s := range transcoderSeeds {
		checkTranscoder(t, []byte(s))
	}
}

var transcoderSeeds = []string{
	`{}`, `{"a":1}`, ` { "a" : [ 1 , 2 ] } `, `{"a":"\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00"}`,
	`{"a":"\ud800"}`, `{"a":"\ud800\u0041"}`, `{"a":"\udc00\ud800"}`, "{\"a\":\"\xff\xfe\"}", "{\"a\":\"\xe9t\xc3\xa9\"}",
	`{"n":[0,-0,1.5,-1e10,1E+2,9223372036854775807,9223372036854775808,18446744073709551616,-9223372036854775809,123456789012345678]}`,
	`{"n":1e400}`, `{"n":01}`, `{"n":-}`, `{"n":1.}`, `{"n":.5}`, `{"n":1e}`, `{"a":tru}`, `{"a":nul}`, `{"a" 1}`,
	`{"a":1,}`, `{"a":[1,]}`, `{a:1}`, `{"a":1}}`, `{"a":"x` + "\t" + `"}`, `{"a":"\x"}`, `{"a":"\u12"}`,
	`{"a":{"b":{"c":[[],{}]}}}`, `{"dup":1,"dup":2}`, strings.Repeat(`[`, 5), `{"a":` + strings.Repeat("[", 120) + strings.Repeat("]", 120) + `}`,
	`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16}`,
}

func checkTranscoder(t *testing.T, line []byte) {
	t.Helper()
	var tr parse.Transcoder
	got, terr := tr.AppendObject(nil, line)

	var v any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	jerr := dec.Decode(&v)
	if jerr == nil {
		if _, err := dec.Token(); err != io.EOF {
			jerr = errors.New("data after the value")
		}
	}
	if _, ok := v.(map[string]any); jerr == nil && !ok {
		jerr = errors.New("not an object")
	}
	var want any
	if jerr == nil {
		want, jerr = jsonValue(v)
	}
	if errors.Is(terr, event.ErrTooDeep) && jerr == nil {
		return // encoding/json reads deeper than a record may nest
	}
	if (terr == nil) != (jerr == nil) {
		t.Fatalf("%q: transcoder error %v, encoding/json error %v", line, terr, jerr)
	}
	if terr != nil {
		return
	}
	if rest, err := event.CheckRecord(got); err != nil || len(rest) != 0 {
		t.Fatalf("%q: transcoded %x: %v", line, got, err)
	}
	// msgp's stream reader takes the empty keys ReadIntfBytes refuses
	gv, err := msgp.NewReader(bytes.NewReader(got)).ReadIntf()
	if err != nil || !reflect.DeepEqual(gv, want) {
		t.Fatalf("%q: transcoded %v, encoding/json %v (%v)", line, gv, want, err)
	}
}

// jsonValue is a value decoded by encoding/json (with UseNumber) as a
// record holds it: integers that fit are int64 (else uint64), other
// numbers float64; a number beyond float64 is an error.
func jsonValue(v any) (any, error) {
	var err error
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return u, nil
		}
		return strconv.ParseFloat(string(x), 64)
	case []any:
		for i := range x {
			if x[i], err = jsonValue(x[i]); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k := range x {
			if x[k], err = jsonValue(x[k]); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

func TestJSONDocument(t *testing.T) {
	cases := []struct {
		name, path, doc string
		n               int
		err             string
	}{
		{"root object", "", `{"a":1}`, 1, ""},
		{"root array", "", "\xef\xbb\xbf[{\"a\":1},{\"a\":2}]", 2, ""},
		{"empty array", "", `[]`, 0, ""},
		{"scalar root", "", `"x"`, 0, "record 1: is a string, want an object"},
		{"several selected", "$..task", `{"task":[{"a":1}],"x":{"task":{"a":2}}}`, 2, ""},
		{"filter", "$.task[?@.CPU > '1']", tasksDoc, 1, ""},
		{"nothing", "$.nope", tasksDoc, 0, "json_path $.nope selected nothing"},
		{"array of arrays", "$.sys", tasksDoc, 0, "record 1: is an array, want an object"},
		{"syntax", "", "{\"a\":\n\n1,}", 0, "line 3: invalid JSON"},
		{"trailing", "", "{}\n{}", 0, "line 2: data after the document"},
		{"empty", "", "  ", 0, "line 1: empty document"},
		{"too deep", "", strings.Repeat(`{"a":`, 101) + "1" + strings.Repeat("}", 101), 0, "record 1: " + event.ErrTooDeep.Error()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := parseConfig("json")
			p.JSONPath = tc.path
			c, err := readAll(t, p, "", tc.doc)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || err.Error() != tc.err && !strings.HasPrefix(err.Error(), tc.err)) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			if len(c.recs) != tc.n {
				t.Fatalf("records %v", c.recs)
			}
		})
	}
	p := parseConfig("json")
	p.MaxDocumentSize = 1024
	if _, err := readAll(t, p, "", `{"a":"`+strings.Repeat("x", 2000)+`"}`); err == nil || !strings.Contains(err.Error(), "max_document_size") {
		t.Fatalf("large document: %v", err)
	}
}
