package files

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"reflect"
	"testing"
)

// FuzzLedger: any bytes either fail to decode or decode to entries that
// encode back to a file decoding to the same entries, byte-stable. Each
// input is tried as it is and sealed with a valid end line, so that the
// fuzzer reaches the entry parser past the checksum.
func FuzzLedger(f *testing.F) {
	good := encodeLedger(7, sampleEntries())
	f.Add(good)
	f.Add(good[:bytes.LastIndex(good, []byte("end "))])
	f.Add(encodeLedger(0, map[string]*entry{}))
	f.Add([]byte("barge-files-ledger 1 gen=1\nend entries=0 crc32c=00000000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkLedgerRoundTrip(t, b)
		sealed := fmt.Appendf(bytes.Clone(b), "end entries=%d crc32c=%08x\n", bytes.Count(b, []byte{'\n'})-1, crc32.Checksum(b, castagnoli))
		checkLedgerRoundTrip(t, sealed)
	})
}

// FuzzJournal: any bytes either have no journal header or decode to
// changes (up to a torn line) that encode back to a journal decoding to
// the same changes, whole.
func FuzzJournal(f *testing.F) {
	good := fmt.Appendf(nil, "%s gen=3\n", journalMagic)
	for p, e := range sampleEntries() {
		good = appendChange(good, p, e)
	}
	good = appendChange(good, "/data/gone.csv", nil)
	f.Add(good)
	f.Add(good[:len(good)-20])
	f.Add(append(bytes.Clone(good), 0, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		gen, changes, torn, err := decodeJournal(b)
		if err != nil {
			return
		}
		if torn < 0 || torn > len(b) {
			t.Fatalf("torn %d of %d bytes", torn, len(b))
		}
		again := fmt.Appendf(nil, "%s gen=%d\n", journalMagic, gen)
		for _, c := range changes {
			again = appendChange(again, c.path, c.e)
		}
		gen2, changes2, torn2, err := decodeJournal(again)
		if err != nil || gen2 != gen || torn2 != 0 || !reflect.DeepEqual(changes, changes2) {
			t.Fatalf("round trip: %v torn %d\n%q\n%q", err, torn2, b, again)
		}
	})
}

func checkLedgerRoundTrip(t *testing.T, b []byte) {
	gen, entries, err := decodeLedger(b)
	if err != nil {
		return
	}
	{
		again := encodeLedger(gen, entries)
		gen2, entries2, err := decodeLedger(again)
		if err != nil || gen2 != gen || !reflect.DeepEqual(entries, entries2) {
			t.Fatalf("round trip: %v\n%q\n%q", err, b, again)
		}
		if !bytes.Equal(encodeLedger(gen2, entries2), again) {
			t.Fatal("encoding is not stable")
		}
	}
}

// FuzzNDJSON holds the transcoder to encoding/json on one line, and runs
// the ndjson reader over the bytes as a file: it fails or emits valid
// records, never panics.
func FuzzNDJSON(f *testing.F) {
	for _, s := range transcoderSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(ndjsonLines(1, 3)))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !bytes.ContainsAny(b, "\n") {
			checkTranscoder(t, b)
		}
		p := parseConfig("ndjson")
		p.MaxLineSize = 1024
		p.Types = map[string]string{"n": "integer"}
		p.TimeKey = "t"
		c, _ := readAll(t, p, "file", string(b))
		checkCursors(t, c, len(b))
	})
}

// FuzzCSV runs the csv reader (with and without a header, with types and
// time_key) over any bytes.
func FuzzCSV(f *testing.F) {
	f.Add([]byte("a,b\n1,2\n\"x\ny\",\"q\"\"\"\n"), true)
	f.Add([]byte("\xef\xbb\xbfi,t\n1,2024-05-01T00:00:00Z\n"), true)
	f.Add([]byte("1,2\n3\n"), false)
	f.Fuzz(func(t *testing.T, b []byte, header bool) {
		p := parseConfig("csv")
		p.MaxLineSize = 1024
		p.Header = header
		if !header {
			p.Columns = []string{"a", "b"}
		}
		p.Types = map[string]string{"i": "integer", "b": "bool"}
		p.TimeKey = "t"
		c, _ := readAll(t, p, "file", string(b))
		checkCursors(t, c, len(b))
	})
}

// FuzzJSONDocument runs the json reader over any document, with a few
// json_path queries.
func FuzzJSONDocument(f *testing.F) {
	f.Add([]byte(tasksDoc), uint8(1))
	f.Add([]byte(`[{"a":1},{"b":[1,{"c":null}]}]`), uint8(0))
	f.Add([]byte(`{"task":{"#TH":"1"}}`), uint8(2))
	paths := []string{"", "$.task", "$..task", "$.task[?@.CPU > '1']", "$.*"}
	f.Fuzz(func(t *testing.T, b []byte, q uint8) {
		p := parseConfig("json")
		p.JSONPath = paths[int(q)%len(paths)]
		p.Types = map[string]string{"PID": "integer"}
		c, err := readAll(t, p, "file", string(b))
		if err != nil && len(c.recs) > 0 {
			t.Fatalf("a bad document emitted %d records: %v", len(c.recs), err)
		}
		for i, cur := range c.cursors {
			if cur.records != int64(i+1) {
				t.Fatalf("cursor %d: %v", i, cur)
			}
		}
	})
}

func checkCursors(t *testing.T, c *collect, size int) {
	t.Helper()
	last := cursor{}
	for i, cur := range c.cursors {
		if cur.records != int64(i+1) || cur.offset <= last.offset || cur.offset > int64(size) {
			t.Fatalf("cursor %d: %v after %v (input %d bytes)", i, cur, last, size)
		}
		last = cur
	}
	for _, r := range c.recs {
		if r["file"] != "/in/x" {
			t.Fatalf("record without path_key: %v", r)
		}
	}
}
