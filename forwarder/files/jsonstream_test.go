package files

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/barge-dev/barge/buffer/event"
)

// diffPaths are the json_path queries of the differential tests: the
// straight walks that stream, and two that fall back to jsonWhole (the
// fallback's wildcards and descendants are left out: they visit an
// object's members in Go's map order, which differs from run to run).
var diffPaths = []string{
	"", "$", "$.task", "$.sys", "$.a.b", "$['a b'].x", `$["ta\u0073k"]`, "$.task[0]", "$.task[1].a",
	"$[0]", "$[1]", "$[0][0]", "$.x.task", "$.task[-1]", "$.task[0:2]",
}

// diffDocs are documents written to reach the corners: repeated keys at
// every level, escaped keys, BOMs, trailing data, every syntax error of
// encoding/json's scanner, truncations, nesting limits.
var diffDocs = []string{
	tasksDoc,
	`{"task":[{"a":1}],"task":[{"a":2},{"a":3}]}`,
	`{"task":[{"a":1}],"task":7}`,
	`{"task":7,"task":[{"a":1}]}`,
	`{"a":{"b":[{"k":1}]},"a":{"c":1}}`,
	`{"a":{"b":[{"k":1}]},"a":{"b":{"k":2}},"z":1}`,
	`{"a":{"b":[{"k":1}],"b":[1]}}`,
	`{"a":{"b":[1]},"a":{"b":[{"k":3}]}}`,
	`{"ta\u0073k":[{"e":"\u00e9"}],"x":{"task":[{"n":1}]}}`,
	"{\"task\xff\":[{\"a\":1}],\"task\":[{\"b\":\"\xff\"}]}",
	`{"a b":{"x":{"k":"v"}},"a":{"b":[{"k":1},{"k":2,"k":3}]}}`,
	`[{"a":1},{"a":2}]`, `[[{"a":1}],[{"b":2},{"c":3}]]`, `[]`, `{}`, `[1,{"a":1}]`, `[{"a":1},"x"]`,
	"\xef\xbb\xbf{\"task\":[{\"a\":1}]}", "\xef\xbb\xbf", "\xef\xbb", "\xef\xbb\xbf\xef\xbb\xbf{}",
	``, `   `, "\n\n", `"x"`, `12`, `-0.5e+3`, `true`, `null`, `tru`, `-`, `1.`, `1e`, `01`, `1x`, `"a"x`,
	"{}\n{}", "{} x", "{}  \n\n ]", "[] \"long string\"", `{"task":[]} 1`, `{"task":[]}`, "{\"task\":[]}\n\t ",
	"{\"a\":\n\n1,}", `{"a" 1}`, `{"a":1 "b":2}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{a:1}`, `{"a":"x` + "\n" + `"}`,
	`{"a":"\x"}`, `{"a":"\u12g4"}`, `{"a":"\ud800"}`, `[1}`, `{"a":1]`, `{"task":[{"a":1},`, `{"task":[{"a":1}`,
	"{\"task\":[{\"a\":1}\n\n", `{"task":[{"a":{"b":`, `{"task":[{"PID":"12"},{"PID":"x"}]}`,
	`{"task":[{"PID":"1"},{"PID":"y"}],"task":[{"PID":"2"}]}`, `{"task":[{"n":1e400}]}`,
	`{"task":[{"t":"2024-05-01T00:00:00Z"},{"t":"yesterday"}]}`, `{"task":[{"t":1700000000,"file":"theirs"}]}`,
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	`{"task":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
	`{"task":[` + strings.Repeat(`{"a":`, event.MaxDepth+1) + "1" + strings.Repeat("}", event.MaxDepth+1) + `]}`,
	`{"task":[{"a":"` + strings.Repeat("x", 3000) + `"}]}`,
	`{"` + strings.Repeat("k", 3000) + `":1,"task":[{"a":1}]}`,
	`{"task":[{"a":"<&>"}],"sys":[["x"],{"k":[true,false,null]}]}`,
}

// checkStreamed reads doc both ways, the streaming passes and the whole
// document, and fails unless records, times, cursors and error are the
// same. pieces reads it a byte at a time.
func checkStreamed(t testing.TB, p ParseConfig, doc []byte, pieces bool) {
	t.Helper()
	if err := p.validate(); err != nil {
		t.Fatal(err)
	}
	read := func(stream bool) (*collect, error) {
		f, err := newFormat(&p, "file")
		if err != nil {
			t.Fatal(err)
		}
		c := &collect{}
		r := newFileReader(f, "file", "/in/x", time.Unix(defaultSec, 0), c)
		if !stream {
			return c, r.jsonWhole(bytes.NewReader(doc))
		}
		return c, r.jsonDocFrom(func() (io.Reader, error) {
			if pieces {
				return iotest.OneByteReader(bytes.NewReader(doc)), nil
			}
			return bytes.NewReader(doc), nil
		})
	}
	want, werr := read(false)
	got, gerr := read(true)
	if fmt.Sprint(gerr) != fmt.Sprint(werr) {
		t.Fatalf("json_path %q, %.200q: streamed error %v, whole document %v", p.JSONPath, doc, gerr, werr)
	}
	if !reflect.DeepEqual(got.raw, want.raw) || !reflect.DeepEqual(got.times, want.times) || !reflect.DeepEqual(got.cursors, want.cursors) {
		t.Fatalf("json_path %q, %.200q: streamed %d records %v, whole document %d records %v",
			p.JSONPath, doc, len(got.recs), got.recs, len(want.recs), want.recs)
	}
}

// diffConfig is the <parse> of a differential check; mode 1 converts
// types and reads time_key, mode 2 bounds the document to 1 KiB.
func diffConfig(path string, mode uint8) ParseConfig {
	p := parseConfig("json")
	p.JSONPath = path
	if mode&1 != 0 {
		p.Types = map[string]string{"PID": "integer"}
		p.TimeKey = "t"
	}
	if mode&2 != 0 {
		p.MaxDocumentSize = 1024
	}
	return p
}

func checkAllPaths(t testing.TB, doc []byte, mode uint8) {
	t.Helper()
	for _, path := range diffPaths {
		checkStreamed(t, diffConfig(path, mode), doc, mode&4 != 0)
	}
}

// TestStreamMatchesWhole holds the streaming passes to the whole
// document's decode, on the written documents and on generated ones.
func TestStreamMatchesWhole(t *testing.T) {
	t.Run("written", func(t *testing.T) {
		for _, doc := range diffDocs {
			for mode := range uint8(8) {
				checkAllPaths(t, []byte(doc), mode)
			}
		}
	})
	t.Run("generated", func(t *testing.T) {
		n := 3000
		if raceEnabled {
			n = 500 // the race detector makes a check 10 times slower
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range n {
			checkAllPaths(t, genDoc(rng), uint8(i%8))
		}
	})
}

// FuzzJSONStream: for any document the streaming passes give what the
// whole document's decode gives, for every path of diffPaths. Its seeds
// are FuzzJSONDocument's corpus, diffDocs and generated documents.
func FuzzJSONStream(f *testing.F) {
	for _, doc := range fuzzCorpus(f, "FuzzJSONDocument") {
		f.Add(doc, uint8(0))
	}
	for i, doc := range diffDocs {
		if len(doc) < 4096 {
			f.Add([]byte(doc), uint8(i%8))
		}
	}
	for _, s := range transcoderSeeds {
		f.Add([]byte(`{"task":[`+s+`]}`), uint8(1))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 32 {
		f.Add(genDoc(rng), uint8(i%8))
	}
	f.Fuzz(func(t *testing.T, doc []byte, mode uint8) {
		checkAllPaths(t, doc, mode)
	})
}

// fuzzCorpus returns the []byte arguments of a fuzz target's seed files.
func fuzzCorpus(t testing.TB, target string) [][]byte {
	dir := filepath.Join("testdata", "fuzz", target)
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, fi := range files {
		b, err := os.ReadFile(filepath.Join(dir, fi.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			line = strings.TrimSpace(line)
			if arg, ok := strings.CutPrefix(line, "[]byte("); ok {
				s, err := strconv.Unquote(strings.TrimSuffix(arg, ")"))
				if err != nil {
					t.Fatalf("%s: %v", fi.Name(), err)
				}
				out = append(out, []byte(s))
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no seeds in %s", dir)
	}
	return out
}

// genDoc writes a random document over few keys, so that paths meet
// repeated keys, arrays of records and scalars where objects were
// expected; one in three is then damaged.
func genDoc(rng *rand.Rand) []byte {
	var b []byte
	if rng.IntN(8) == 0 {
		b = append(b, bom...)
	}
	b = genSpace(rng, b)
	b = genValue(rng, b, 0)
	b = genSpace(rng, b)
	if rng.IntN(3) > 0 || len(b) == 0 {
		return b
	}
	const junk = "{}[],:\"\\ \n\t0-1.eE+aturlnx\x00\x1f\xff"
	i := rng.IntN(len(b))
	switch rng.IntN(5) {
	case 0:
		return b[:i]
	case 1:
		b[i] = junk[rng.IntN(len(junk))]
	case 2:
		b = append(b[:i], append([]byte{junk[rng.IntN(len(junk))]}, b[i:]...)...)
	case 3:
		b = append(b, []string{"x", " {}", "\n1", "]", `"s"`, "  \n"}[rng.IntN(6)]...)
	default:
		j := i + rng.IntN(len(b)-i)
		b = append(b[:j], append(bytes.Clone(b[i:j]), b[j:]...)...)
	}
	return b
}

var genKeys = []string{`"task"`, `"a"`, `"b"`, `"a b"`, `"x"`, `"sys"`, `"PID"`, `"t"`, `"ta\u0073k"`, `"k"`, `""`, "\"\xff\""}

var genScalars = []string{
	`0`, `-1`, `1.5`, `1e3`, `-0.0e-1`, `1E+2`, `12345678901234567890`, `1e400`, `"x"`, `""`, `"\u00e9\n"`,
	"\"\xff\"", `"12"`, `"y"`, `"2024-05-01T00:00:00Z"`, `1700000000`, `true`, `false`, `null`,
}

func genValue(rng *rand.Rand, b []byte, depth int) []byte {
	k := rng.IntN(10)
	if depth > 4 {
		k = 9
	}
	switch {
	case k < 4:
		b = append(b, '{')
		for i := range rng.IntN(5) {
			if i > 0 {
				b = append(b, ',')
			}
			b = genSpace(rng, b)
			b = append(b, genKeys[rng.IntN(len(genKeys))]...)
			b = append(genSpace(rng, b), ':')
			b = genValue(rng, genSpace(rng, b), depth+1)
		}
		return append(genSpace(rng, b), '}')
	case k < 7:
		b = append(b, '[')
		for i := range rng.IntN(5) {
			if i > 0 {
				b = append(b, ',')
			}
			b = genValue(rng, genSpace(rng, b), depth+1)
		}
		return append(genSpace(rng, b), ']')
	}
	return append(b, genScalars[rng.IntN(len(genScalars))]...)
}

func genSpace(rng *rand.Rand, b []byte) []byte {
	for range rng.IntN(4) {
		b = append(b, " \n\t\r"[rng.IntN(4)])
	}
	return b
}

func TestStreamSteps(t *testing.T) {
	cases := []struct {
		path string
		want []pathStep
		ok   bool
	}{
		{"", nil, true},
		{"$", nil, true},
		{"$.task", []pathStep{{"task", -1}}, true},
		{"$.data.items", []pathStep{{"data", -1}, {"items", -1}}, true},
		{"$['a b'].c", []pathStep{{"a b", -1}, {"c", -1}}, true},
		{"$.pages[0].rows", []pathStep{{"pages", -1}, {"", 0}, {"rows", -1}}, true},
		{"$[2]", []pathStep{{"", 2}}, true},
		{"$.task[-1]", nil, false},
		{"$.task[*]", nil, false},
		{"$.*", nil, false},
		{"$..task", nil, false},
		{"$.task[0:2]", nil, false},
		{"$['a','b']", nil, false},
		{"$.task[?@.CPU > '1']", nil, false},
	}
	for _, tc := range cases {
		p := parseConfig("json")
		p.JSONPath = tc.path
		f, err := newFormat(&p, "")
		if err != nil {
			t.Fatal(err)
		}
		if f.stream != tc.ok || !reflect.DeepEqual(f.steps, tc.want) {
			t.Errorf("%q: steps %v stream %v, want %v %v", tc.path, f.steps, f.stream, tc.want, tc.ok)
		}
	}
}
