package bqtest

import (
	"encoding/json"
	"testing"
	"time"

	bq "google.golang.org/api/bigquery/v2"
)

func TestParseTimestamp(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // RFC 3339 in UTC; "" when refused
	}{
		{"2026-11-22T13:05:00Z", "2026-11-22T13:05:00Z"},
		{"2026-11-22 13:05:00", "2026-11-22T13:05:00Z"},
		{"2026-11-22T13:05:00.123456+01:00", "2026-11-22T12:05:00.123456Z"},
		{"2026-11-22T13:05:00.1-0530", "2026-11-22T18:35:00.1Z"},
		{"2026-11-22 13:05:00 UTC", "2026-11-22T13:05:00Z"},
		{"2026/11/22 13:05", "2026-11-22T13:05:00Z"},
		{"2026-1-2 3:04:05", "2026-01-02T03:04:05Z"},
		{"2026-11-22", "2026-11-22T00:00:00Z"},
		{"2026-11-22T13:05:00.1234567Z", ""}, // more than microseconds
		{"2026-11-22T13:05:00.123456789+00:00", ""},
		{"2026-11-22T25:00:00Z", ""},
		{"2026-02-30T00:00:00Z", ""},
		{"22/11/2026", ""},
		{"0000-01-01T00:00:00Z", ""},
		{"2026-11-22T13:05:00+15:00", ""},
	} {
		got, ok := parseTimestamp(tc.in)
		s := ""
		if ok {
			s = got.Format(time.RFC3339Nano)
		}
		if s != tc.want {
			t.Errorf("parseTimestamp(%q) = %q, want %q", tc.in, s, tc.want)
		}
	}
}

func TestRowChecker(t *testing.T) {
	fields, err := normalizeSchema([]*bq.TableFieldSchema{
		{Name: "ts", Type: "TIMESTAMP", Mode: "REQUIRED"},
		{Name: "n", Type: "INT64"},
		{Name: "f", Type: "FLOAT64"},
		{Name: "num", Type: "NUMERIC"},
		{Name: "b", Type: "BOOL"},
		{Name: "d", Type: "DATE"},
		{Name: "dt", Type: "DATETIME"},
		{Name: "raw", Type: "BYTES"},
		{Name: "j", Type: "JSON"},
		{Name: "tags", Type: "STRING", Mode: "REPEATED"},
		{Name: "kv", Type: "STRUCT", Fields: []*bq.TableFieldSchema{{Name: "k", Type: "STRING", Mode: "REQUIRED"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	chk := &rowChecker{fields: fields}
	for _, tc := range []struct {
		row string
		bad bool
	}{
		{`{"ts":1764000000.5,"n":"12","f":"NaN","num":"1.5","b":"true","d":"2026-11-22","dt":"2026-11-22T13:00:00.5","raw":"aGk=","j":{"a":[1]},"tags":["x"],"kv":{"K":"v"}}`, false},
		{`{"TS":"2026-11-22T13:00:00Z","n":12,"tags":null,"kv":null}`, false},
		{`{"n":1}`, true},
		{`{"ts":null}`, true},
		{`{"ts":"2026-11-22T13:00:00Z","n":1.5}`, true},
		{`{"ts":"2026-11-22T13:00:00Z","n":"x"}`, true},
		{`{"ts":"2026-11-22T13:00:00Z","num":"1.0123456789"}`, true},
		{`{"ts":"2026-11-22T13:00:00Z","b":1}`, true},
		{`{"ts":"2026-11-22T13:00:00Z","d":"2026-11-22T00:00:00"}`, true},
		{`{"ts":"2026-11-22T13:00:00Z","dt":"2026-11-22T00:00:00Z"}`, true},
		{`{"ts":"2026-11-22T13:00:00Z","raw":"***"}`, true},
		{`{"ts":"2026-11-22T13:00:00Z","tags":"x"}`, true},
		{`{"ts":"2026-11-22T13:00:00Z","tags":["x",null]}`, true},
		{`{"ts":"2026-11-22T13:00:00Z","n":[1]}`, true},
		{`{"ts":"2026-11-22T13:00:00Z","kv":{}}`, true},
		{`{"ts":"2026-11-22T13:00:00Z","kv":{"k":"v","z":1}}`, true},
		{`{"ts":"2026-11-22T13:00:00Z","ts":"2026-11-22T13:00:00Z"}`, false}, // the JSON decoder keeps the last
		{`[1]`, true},
		{`{"ts":"2026-11-22T13:00:00Z"} x`, true},
	} {
		obj, msg := decodeLine([]byte(tc.row))
		if msg == "" {
			_, msg = chk.check(obj)
		}
		if (msg != "") != tc.bad {
			t.Errorf("%s: message %q, want bad=%v", tc.row, msg, tc.bad)
		}
	}
}

func TestPartitionOfValues(t *testing.T) {
	tp := &bq.TimePartitioning{Type: "DAY", Field: "ts"}
	fields := []*bq.TableFieldSchema{{Name: "ts", Type: "TIMESTAMP", Mode: "NULLABLE"}}
	for in, want := range map[any]string{
		"2026-11-22T23:30:00-01:00": "20261123",
		json.Number("0"):            "19700101",
		"1900-01-01T00:00:00Z":      partitionUnpartitioned,
		nil:                         partitionNull,
	} {
		if got := rowPartition(map[string]any{"ts": in}, tp, fields, "", time.Time{}); got != want {
			t.Errorf("partition of %v = %q, want %q", in, got, want)
		}
	}
}
