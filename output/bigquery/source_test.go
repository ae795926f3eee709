package bigquery

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// jsonOutput is a gcs output whose objects a loader of HOUR partitions
// on time loads: JSON lines with BigQuery keys, gzip, hourly UTC chunks.
func jsonOutput(path string) *OutputSpec {
	return &OutputSpec{ID: "archive", Label: "<match app.**>", Type: "gcs", Bucket: "my-logs", Path: path, StoreAs: "gzip",
		Format: "json", KeyStyle: "bigquery", TimeKey: "time", TimeType: "string", TimeFormat: "%Y-%m-%dT%H:%M:%S.%6N%:z",
		ChunkKeys: []string{"tag", "time"}, Timekey: time.Hour, TimekeyLocation: time.UTC}
}

// TestCheckSourcePrefix shows the source prefix rule that barge check and
// barge schema infer share. The source is the output's path up to its
// first ${...}; its time conversions stay (a load cycle then lists only
// the open partitions' prefixes) when the output cuts chunks in UTC and
// they are only %Y (required), %m, %d and %H; else the source ends before
// the first '%'. A listing of every object starts at the fixed part,
// which is what schema infer samples.
func TestCheckSourcePrefix(t *testing.T) {
	tokyo := time.FixedZone("+09:00", 9*3600)
	for _, tc := range []struct {
		path         string
		loc          *time.Location
		source, list string
	}{
		{"logs/", time.UTC, "gs://my-logs/logs/", "gs://my-logs/logs/"},
		{"", time.UTC, "gs://my-logs/", "gs://my-logs/"},
		{"logs/app", time.UTC, "gs://my-logs/logs/app", "gs://my-logs/logs/app/"},
		{"logs/${tag}/", time.UTC, "gs://my-logs/logs/", "gs://my-logs/logs/"},
		{"${tag}/logs/", time.UTC, "gs://my-logs/", "gs://my-logs/"},
		{"logs/%Y%m%d/${tag}/", time.UTC, "gs://my-logs/logs/%Y%m%d/", "gs://my-logs/logs/"},
		{"logs/%Y/%m/%d/%H/", time.UTC, "gs://my-logs/logs/%Y/%m/%d/%H/", "gs://my-logs/logs/"},
		{"logs/app-%Y%m%d/", time.UTC, "gs://my-logs/logs/app-%Y%m%d/", "gs://my-logs/logs/"},
		// Cut in another zone, the time in the path is not UTC's.
		{"logs/%Y%m%d/${tag}/", tokyo, "gs://my-logs/logs/", "gs://my-logs/logs/"},
		{"logs/%Y%m%d/", nil, "gs://my-logs/logs/", "gs://my-logs/logs/"},
		// Conversions a source prefix cannot list by.
		{"logs/%m%d/", time.UTC, "gs://my-logs/logs/", "gs://my-logs/logs/"},
		{"logs/%Y/%j/", time.UTC, "gs://my-logs/logs/", "gs://my-logs/logs/"},
		{"logs/%Y/%{hostname}/", time.UTC, "gs://my-logs/logs/", "gs://my-logs/logs/"},
		{"logs/100%%/", time.UTC, "gs://my-logs/logs/", "gs://my-logs/logs/"},
	} {
		o := jsonOutput(tc.path)
		o.TimekeyLocation = tc.loc
		c := CheckSource(SourceSpec{PartitionType: "HOUR", Output: o})
		if c.Source != tc.source || c.List != tc.list {
			t.Errorf("path %q in %v: source %q, list %q; want %q, %q", tc.path, tc.loc, c.Source, c.List, tc.source, tc.list)
		}
		// The source is one a loader takes, and lists from List.
		cfg := DefaultConfig()
		cfg.Dataset, cfg.Table, cfg.Source = "logs", "events", c.Source
		l, err := New(cfg, Options{})
		if err != nil {
			t.Errorf("path %q: the loader refuses source %q: %v", tc.path, c.Source, err)
			continue
		}
		if got := "gs://" + l.bucket + "/" + l.prefix; got != c.List {
			t.Errorf("path %q: the loader lists %s, CheckSource says %s", tc.path, got, c.List)
		}
		// schema infer cut the path at its first '%' or '$' before it used
		// CheckSource: the same objects are listed.
		before := tc.path
		if i := strings.IndexAny(before, "%$"); i >= 0 {
			before = before[:strings.LastIndex(before[:i], "/")+1]
		}
		if _, prefix, _ := ParseGSURL("gs://my-logs/" + before); "gs://my-logs/"+prefix != c.List {
			t.Errorf("path %q: schema infer listed gs://my-logs/%s, now %s", tc.path, prefix, c.List)
		}
	}
	o := jsonOutput("logs/%Y%m%d/")
	o.Type, o.Bucket = "s3", "s3-logs"
	if c := CheckSource(SourceSpec{PartitionType: "HOUR", Staging: "gs://stage/", Output: o}); c.Source != "s3://s3-logs/logs/%Y%m%d/" || c.List != "s3://s3-logs/logs/" {
		t.Errorf("s3 output: source %q, list %q", c.Source, c.List)
	}
}

func TestCheckSourceRules(t *testing.T) {
	dir := t.TempDir()
	schema := filepath.Join(dir, "schema.json")
	if err := os.WriteFile(schema, []byte(`[{"name": "time", "type": "STRING"}, {"name": "ts", "type": "TIMESTAMP"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`[{"name": "a.b", "type": "STRING"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name           string
		spec           SourceSpec
		edit           func(*OutputSpec)
		errs, warnings []SourceProblem // messages: a prefix of each
	}{
		{name: "loadable", spec: SourceSpec{PartitionField: "time"}},
		{name: "no output", spec: SourceSpec{PartitionField: "time"}, edit: nil},
		{name: "s3 without staging", edit: func(o *OutputSpec) { o.Type = "s3" },
			errs: []SourceProblem{{"source_output", `'source_output' "archive" is an s3 output: set 'staging'`}}},
		{name: "msgpack", edit: func(o *OutputSpec) { o.Format = "msgpack" },
			errs: []SourceProblem{{"source_output", `'source_output' "archive" writes <format> msgpack`}}},
		{name: "zstd", edit: func(o *OutputSpec) { o.StoreAs = "zstd" },
			errs: []SourceProblem{{"source_output", `'source_output' "archive" stores zstd objects`}}},
		{name: "not chunked by time", edit: func(o *OutputSpec) { o.ChunkKeys = []string{"tag"} },
			errs: []SourceProblem{{"source_output", `'source_output' "archive" must chunk by time so that each object holds one partition: <buffer time> with a timekey that divides one hour`}}},
		{name: "timekey 2h", edit: func(o *OutputSpec) { o.Timekey = 2 * time.Hour },
			errs: []SourceProblem{{"source_output", `'source_output' "archive": timekey 2h0m0s would mix hour partitions`}}},
		{name: "India", edit: func(o *OutputSpec) { o.TimekeyLocation = time.FixedZone("+05:30", 5*3600+1800) },
			errs: []SourceProblem{{"source_output", `'source_output' "archive": timekey 1h0m0s cut in zone +05:30`}}},
		{name: "partition column not injected", spec: SourceSpec{PartitionField: "ts"},
			errs: []SourceProblem{{"source_output", `'partition_field' ts needs the output "archive" to write the event time there`}}},
		{name: "unixtime_millis", spec: SourceSpec{PartitionField: "time"}, edit: func(o *OutputSpec) { o.TimeType = "unixtime_millis" },
			errs: []SourceProblem{{"source_output", `'partition_field' time: the output "archive" writes it as time_type unixtime_millis`}}},
		{name: "%N partition", spec: SourceSpec{PartitionField: "time"}, edit: func(o *OutputSpec) { o.TimeFormat = "%Y-%m-%dT%H:%M:%S.%N%:z" },
			errs: []SourceProblem{{"source_output", `'source_output' "archive" writes the partition column time with time_format`}}},
		{name: "%N elsewhere", edit: func(o *OutputSpec) { o.TimeFormat = "%Y-%m-%dT%H:%M:%S.%N%:z" },
			warnings: []SourceProblem{{"source_output", `'source_output' "archive" writes 'time_key' time with time_format`}}},
		{name: "as_is keys", edit: func(o *OutputSpec) { o.KeyStyle = "" },
			warnings: []SourceProblem{{"source_output", `'source_output' "archive" writes record keys as they are (key_style as_is)`}}},
		{name: "partition column a STRING", spec: SourceSpec{PartitionField: "time", SchemaPath: schema},
			errs: []SourceProblem{{"partition_field", "'partition_field' time is a STRING column of schema_path " + schema}}},
		{name: "clustering on what is not a column", spec: SourceSpec{SchemaPath: schema, AutoCreateTable: true, ClusteringFields: []string{"x"}},
			errs: []SourceProblem{{"clustering_fields", "'clustering_fields' x is not a top-level column"}}},
		// The schema's problems come first, alone.
		{name: "invalid schema", spec: SourceSpec{SchemaPath: bad}, edit: func(o *OutputSpec) { o.Format = "msgpack" },
			errs: []SourceProblem{{"schema_path", "'schema_path' " + bad + `: fields[0] "a.b"`}}},
		{name: "schema file missing", spec: SourceSpec{SchemaPath: filepath.Join(dir, "missing.json")},
			warnings: []SourceProblem{{"schema_path", "'schema_path': open " + filepath.Join(dir, "missing.json")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			spec.PartitionType = "HOUR"
			if tc.name != "no output" {
				spec.Output = jsonOutput("logs/")
				if tc.edit != nil {
					tc.edit(spec.Output)
				}
			}
			c := CheckSource(spec)
			match := func(what string, got, want []SourceProblem) {
				t.Helper()
				ok := len(got) == len(want)
				for i := 0; ok && i < len(got); i++ {
					ok = got[i].Param == want[i].Param && strings.HasPrefix(got[i].Msg, want[i].Msg)
				}
				if !ok {
					t.Errorf("%s %v, want %v", what, got, want)
				}
			}
			match("errors", c.Errors, tc.errs)
			match("warnings", c.Warnings, tc.warnings)
		})
	}
}

func TestConfigSourceSpec(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PartitionField, cfg.ClusteringFields, cfg.AutoCreateTable, cfg.SchemaPath, cfg.Staging = "time", []string{"host"}, true, "s.json", "gs://stage/"
	o := jsonOutput("logs/")
	want := SourceSpec{PartitionType: "DAY", PartitionField: "time", ClusteringFields: []string{"host"}, AutoCreateTable: true, SchemaPath: "s.json", Staging: "gs://stage/", Output: o}
	if got := cfg.SourceSpec(o); !reflect.DeepEqual(got, want) {
		t.Errorf("SourceSpec %+v, want %+v", got, want)
	}
}
