package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
)

// checkConfig is a gcs output archiving app.** and a loader of its
// objects. FORMAT, INJECT and LOADER are replaced by each case's lines,
// BUF by a buffer directory and SCHEMA by the schema file's path.
const checkConfig = `<source>
  @type forward
  bind 127.0.0.1
  port 0
</source>
<match app.**>
  @type gcs
  @id archive
  bucket my-logs
  path logs/%Y%m%d/${tag}/
  store_as gzip
FORMAT
INJECT
  <buffer tag,time>
    path BUF
    timekey 1h
    timekey_use_utc true
  </buffer>
</match>
<loader bq>
  @type bigquery
  dataset logs
  table events
  partition_type HOUR
  source_output archive
LOADER
</loader>
`

const (
	bigqueryKeys = "  <format>\n    @type json\n    key_style bigquery\n  </format>"
	asIsKeys     = "  <format>\n    @type json\n  </format>"
)

// injectTime is an <inject> writing the event time to key as a string.
func injectTime(key, format string) string {
	return fmt.Sprintf("  <inject>\n    time_key %s\n    time_type string\n    time_format %s\n    utc true\n  </inject>", key, format)
}

// at is an expected stderr line: the config line whose text is line (its
// first occurrence), and the message after FILE:LINE: .
type at struct{ line, msg string }

// writeCheckConfig writes the config and, when schema is not empty, the
// schema file; it returns the config's path and text and the schema's
// path.
func writeCheckConfig(t *testing.T, format, inject, loader, schema string) (path, text, schemaPath string) {
	t.Helper()
	dir := t.TempDir()
	schemaPath = filepath.Join(dir, "events.schema.json")
	if schema != "" {
		if err := os.WriteFile(schemaPath, []byte(schema), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	loader = strings.ReplaceAll(loader, "SCHEMA", schemaPath)
	text = strings.NewReplacer("FORMAT", format, "INJECT", inject, "LOADER", loader,
		"BUF", filepath.Join(dir, "buf")).Replace(checkConfig)
	path = filepath.Join(dir, "barge.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, text, schemaPath
}

// lineOf is the number of the first line of text that is exactly line.
func lineOf(t *testing.T, text, line string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if l == line {
			return i + 1
		}
	}
	t.Fatalf("config has no line %q", line)
	return 0
}

func TestCheckLoaderTimeAndKeys(t *testing.T) {
	const (
		partition = "  partition_field time"
		source    = "  source_output archive"
		schemaAt  = "  schema_path SCHEMA"
		nanos     = "%Y-%m-%dT%H:%M:%S.%N%:z"
		micros    = "%Y-%m-%dT%H:%M:%S.%6N%:z"
	)
	keysAsIs := `'source_output' "archive" writes record keys as they are (key_style as_is): a record key that is not a BigQuery column name (#TH, a.b, -x, 1st) makes its record a bad row, which fails the load (with ignore_unknown_values, the key's value is dropped instead); set key_style bigquery in the <format> of <match app.**> (@id archive)`
	keysAsIsSchema := `'source_output' "archive" writes record keys as they are (key_style as_is): the columns of schema_path SCHEMA are valid names, but a record key that is not (#TH, a.b, -x, 1st) matches none and makes its record a bad row, which fails the load (with ignore_unknown_values, the key's value is dropped instead); set key_style bigquery in the <format> of <match app.**> (@id archive)`
	partitionDigits := func(format string) string {
		return fmt.Sprintf(`'source_output' "archive" writes the partition column time with time_format %q: more than 6 fractional-second digits, which a BigQuery TIMESTAMP column refuses in loads (it keeps microseconds): use %%6N`, format)
	}
	const tsSchema = `[{"name": "ts", "type": "TIMESTAMP"}, {"name": "message", "type": "STRING"}]`
	const timeSchema = `[{"name": "time", "type": "TIMESTAMP"}, {"name": "message", "type": "STRING"}]`
	for _, tc := range []struct {
		name                   string
		format, inject, loader string
		schema                 string // schema file contents, "" for none
		code                   int
		stderr                 []at // errors (code 1) or warnings (code 0)
		summary                string
	}{
		{name: "correct", format: bigqueryKeys, inject: injectTime("time", micros), loader: partition},
		{name: "correct with schema", format: bigqueryKeys, inject: injectTime("time", micros), loader: partition + "\n" + schemaAt, schema: timeSchema},
		{name: "milliseconds", format: bigqueryKeys, inject: injectTime("time", "%Y-%m-%dT%H:%M:%S.%3N%:z"), loader: partition},
		{name: "default format", format: bigqueryKeys, inject: injectTime("time", "%Y-%m-%dT%H:%M:%S.%L%z"), loader: partition},
		{name: "unixtime seconds", format: bigqueryKeys, inject: "  <inject>\n    time_key time\n    time_type unixtime\n  </inject>", loader: partition},
		{name: "key_style as_is", format: asIsKeys, inject: injectTime("time", micros), loader: partition,
			stderr: []at{{source, "warning: " + keysAsIs}}, summary: ", 1 warning"},
		{name: "no format section", format: "", inject: injectTime("time", micros), loader: partition,
			stderr: []at{{source, "warning: " + keysAsIs}}, summary: ", 1 warning"},
		{name: "key_style as_is with a schema", format: asIsKeys, inject: injectTime("time", micros), loader: partition + "\n" + schemaAt, schema: timeSchema,
			stderr: []at{{source, "warning: " + keysAsIsSchema}}, summary: ", 1 warning"},
		{name: "%N partition", format: bigqueryKeys, inject: injectTime("time", nanos), loader: partition, code: 1,
			stderr: []at{{source, partitionDigits(nanos)}}},
		{name: "%9N partition", format: bigqueryKeys, inject: injectTime("time", "%Y-%m-%dT%H:%M:%S.%9NZ"), loader: partition, code: 1,
			stderr: []at{{source, partitionDigits("%Y-%m-%dT%H:%M:%S.%9NZ")}}},
		{name: "%12N partition", format: bigqueryKeys, inject: injectTime("time", "%Y-%m-%dT%H:%M:%S.%12N%:z"), loader: partition, code: 1,
			stderr: []at{{source, partitionDigits("%Y-%m-%dT%H:%M:%S.%12N%:z")}}},
		{name: "%7N partition", format: bigqueryKeys, inject: injectTime("time", "%Y-%m-%d %H:%M:%S.%7N"), loader: partition, code: 1,
			stderr: []at{{source, partitionDigits("%Y-%m-%d %H:%M:%S.%7N")}}},
		{name: "%N into a TIMESTAMP column of the schema", format: bigqueryKeys, inject: injectTime("ts", nanos), loader: schemaAt, schema: tsSchema, code: 1,
			stderr: []at{{source, `'source_output' "archive" writes 'time_key' ts with time_format "%Y-%m-%dT%H:%M:%S.%N%:z": more than 6 fractional-second digits, which a BigQuery TIMESTAMP column refuses in loads (it keeps microseconds): use %6N`}}},
		{name: "%N into a STRING column of the schema", format: bigqueryKeys, inject: injectTime("ts", nanos), loader: schemaAt,
			schema: `[{"name": "ts", "type": "STRING"}]`},
		{name: "%N into a column of unknown type", format: bigqueryKeys, inject: injectTime("ts", nanos), loader: "",
			stderr:  []at{{source, `warning: 'source_output' "archive" writes 'time_key' ts with time_format "%Y-%m-%dT%H:%M:%S.%N%:z": more than 6 fractional-second digits, which a BigQuery TIMESTAMP or DATETIME column refuses in loads (it keeps microseconds): use %6N, unless the column is a STRING`}},
			summary: ", 1 warning"},
		{name: "two warnings", format: asIsKeys, inject: injectTime("ts", nanos), loader: "",
			stderr: []at{
				{source, "warning: " + keysAsIs},
				{source, `warning: 'source_output' "archive" writes 'time_key' ts with time_format "%Y-%m-%dT%H:%M:%S.%N%:z": more than 6 fractional-second digits, which a BigQuery TIMESTAMP or DATETIME column refuses in loads (it keeps microseconds): use %6N, unless the column is a STRING`},
			},
			summary: ", 2 warnings"},
		{name: "unixtime_millis partition", format: bigqueryKeys, inject: "  <inject>\n    time_key time\n    time_type unixtime_millis\n  </inject>", loader: partition, code: 1,
			stderr: []at{{source, `'partition_field' time: the output "archive" writes it as time_type unixtime_millis, a number BigQuery reads as seconds since the epoch (out of its range): use time_type string, time_format %Y-%m-%dT%H:%M:%S.%6N%:z, utc true`}}},
		{name: "schema file missing", format: bigqueryKeys, inject: injectTime("time", micros), loader: partition + "\n" + schemaAt,
			stderr:  []at{{schemaAt, "warning: 'schema_path': open SCHEMA: no such file or directory; its columns were not checked"}},
			summary: ", 1 warning"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, text, schemaPath := writeCheckConfig(t, tc.format, tc.inject, tc.loader, tc.schema)
			var stdout, stderr bytes.Buffer
			code := cmdCheck([]string{"-c", path}, &stdout, &stderr)
			var want strings.Builder
			for _, a := range tc.stderr {
				fmt.Fprintf(&want, "%s:%d: %s\n", path, lineOf(t, text, strings.ReplaceAll(a.line, "SCHEMA", schemaPath)), strings.ReplaceAll(a.msg, "SCHEMA", schemaPath))
			}
			if code != tc.code || stderr.String() != want.String() {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d, stderr:\n%s", code, stderr.String(), tc.code, want.String())
			}
			wantOut := ""
			if tc.code == 0 {
				wantOut = path + ": ok (1 sources, 0 filters, 1 matches, 1 loaders)" + tc.summary + "\n"
			}
			if stdout.String() != wantOut {
				t.Errorf("stdout %q, want %q", stdout.String(), wantOut)
			}
		})
	}
}

func TestCheckLoaderSchema(t *testing.T) {
	const schema = `[
  {"name": "time", "type": "TIMESTAMP"},
  {"name": "day", "type": "DATE"},
  {"name": "label", "type": "STRING"},
  {"name": "host", "type": "STRING"},
  {"name": "tags", "type": "STRING", "mode": "REPEATED"},
  {"name": "stamps", "type": "TIMESTAMP", "mode": "REPEATED"},
  {"name": "latency", "type": "FLOAT"},
  {"name": "req", "type": "RECORD", "fields": [{"name": "path", "type": "STRING"}]}
]`
	inject := injectTime("time", "%Y-%m-%dT%H:%M:%S.%6N%:z")
	for _, tc := range []struct {
		name, inject, loader, schema string
		errs                         []at // empty: check passes without warnings
	}{
		{name: "partition column", loader: "  partition_field time"},
		{name: "partition column in another case", inject: injectTime("TIME", "%Y-%m-%dT%H:%M:%S.%6N%:z"), loader: "  partition_field TIME"},
		{name: "not a column", inject: injectTime("ts", "%Y-%m-%dT%H:%M:%S.%6N%:z"), loader: "  partition_field ts",
			errs: []at{{"  partition_field ts", "'partition_field' ts is not a top-level column of schema_path SCHEMA"}}},
		{name: "nested column", inject: injectTime("path", "%Y-%m-%dT%H:%M:%S.%6N%:z"), loader: "  partition_field path",
			errs: []at{{"  partition_field path", "'partition_field' path is not a top-level column of schema_path SCHEMA"}}},
		{name: "STRING column", inject: injectTime("label", "%Y-%m-%dT%H:%M:%S.%6N%:z"), loader: "  partition_field label",
			errs: []at{{"  partition_field label", "'partition_field' label is a STRING column of schema_path SCHEMA: BigQuery partitions on TIMESTAMP, DATE or DATETIME"}}},
		{name: "REPEATED column", inject: injectTime("stamps", "%Y-%m-%dT%H:%M:%S.%6N%:z"), loader: "  partition_field stamps",
			errs: []at{{"  partition_field stamps", "'partition_field' stamps is a REPEATED column of schema_path SCHEMA: BigQuery cannot partition on it"}}},
		{name: "DATE column by the hour", inject: injectTime("day", "%Y-%m-%d"), loader: "  partition_field day",
			errs: []at{{"  partition_field day", "'partition_field' day is a DATE column of schema_path SCHEMA: partition_type HOUR needs a TIMESTAMP or DATETIME column"}}},
		{name: "clustering", loader: "  partition_field time\n  auto_create_table true\n  clustering_fields label,host"},
		{name: "clustering on what is not a column", loader: "  auto_create_table true\n  clustering_fields host,path,nope",
			errs: []at{
				{"  clustering_fields host,path,nope", "'clustering_fields' path is not a top-level column of schema_path SCHEMA"},
				{"  clustering_fields host,path,nope", "'clustering_fields' nope is not a top-level column of schema_path SCHEMA"},
			}},
		{name: "clustering on columns BigQuery refuses", loader: "  auto_create_table true\n  clustering_fields tags,latency,req",
			errs: []at{
				{"  clustering_fields tags,latency,req", "'clustering_fields' tags is a REPEATED STRING column of schema_path SCHEMA: BigQuery clusters only on columns that are not REPEATED, RECORD, JSON or FLOAT"},
				{"  clustering_fields tags,latency,req", "'clustering_fields' latency is a FLOAT column of schema_path SCHEMA: BigQuery clusters only on columns that are not REPEATED, RECORD, JSON or FLOAT"},
				{"  clustering_fields tags,latency,req", "'clustering_fields' req is a RECORD column of schema_path SCHEMA: BigQuery clusters only on columns that are not REPEATED, RECORD, JSON or FLOAT"},
			}},
		// Clustering is given to BigQuery only when the loader creates the table.
		{name: "clustering of an existing table", loader: "  clustering_fields nope"},
		{name: "invalid schema", loader: "  partition_field time", schema: `[{"name": "a.b", "type": "STRING"}]`,
			errs: []at{{"  schema_path SCHEMA", `'schema_path' SCHEMA: fields[0] "a.b": name has characters other than letters, digits and _`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, s := tc.inject, tc.schema
			if in == "" {
				in = inject
			}
			if s == "" {
				s = schema
			}
			path, text, schemaPath := writeCheckConfig(t, bigqueryKeys, in, "  schema_path SCHEMA\n"+tc.loader, s)
			var stdout, stderr bytes.Buffer
			code := cmdCheck([]string{"-c", path}, &stdout, &stderr)
			var want strings.Builder
			for _, a := range tc.errs {
				fmt.Fprintf(&want, "%s:%d: %s\n", path, lineOf(t, text, strings.ReplaceAll(a.line, "SCHEMA", schemaPath)), strings.ReplaceAll(a.msg, "SCHEMA", schemaPath))
			}
			wantCode, wantOut := 0, path+": ok (1 sources, 0 filters, 1 matches, 1 loaders)\n"
			if len(tc.errs) > 0 {
				wantCode, wantOut = 1, ""
			}
			if code != wantCode || stderr.String() != want.String() || stdout.String() != wantOut {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit %d, stdout %q, stderr:\n%s", code, stdout.String(), stderr.String(), wantCode, wantOut, want.String())
			}
		})
	}
}

// TestCheckWarningsAtRunStart checks that barge run logs check's warnings
// when it starts.
func TestCheckWarningsAtRunStart(t *testing.T) {
	dir := t.TempDir()
	config := strings.NewReplacer("FORMAT", asIsKeys, "INJECT", injectTime("time", "%Y-%m-%dT%H:%M:%S.%6N%:z"),
		"LOADER", "  partition_field time\n  endpoint http://127.0.0.1:1\n  load_interval 1h",
		"BUF", filepath.Join(dir, "buf")).Replace(checkConfig)
	p := bargetest.StartCommand(t, bargeBin, dir, config, []string{"STORAGE_EMULATOR_HOST=127.0.0.1:1"}, "run")
	l := p.WaitLog(10*time.Second, func(l map[string]any) bool {
		return l["level"] == "WARN" && strings.Contains(fmt.Sprint(l["msg"]), "key_style")
	})
	wantPath := fmt.Sprintf("%s:%d", filepath.Join(dir, "barge.conf"), lineOf(t, config, "  source_output archive"))
	if l["path"] != wantPath || !strings.HasPrefix(fmt.Sprint(l["msg"]), `'source_output' "archive" writes record keys as they are (key_style as_is)`) {
		t.Errorf("warning logged as %v, want path %s and the key_style warning", l, wantPath)
	}
	p.Stop(10 * time.Second)
}

// TestLoaderSourcePrefix: a loader of an output whose path has the date
// before its tag, cut in UTC, lists by the date; barge schema infer
// samples from the fixed part of the same source (bigquery.CheckSource).
func TestLoaderSourcePrefix(t *testing.T) {
	path, _, _ := writeCheckConfig(t, bigqueryKeys, injectTime("time", "%Y-%m-%dT%H:%M:%S.%6N%:z"), "  partition_field time", "")
	p, err := loadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.loaders[0].cfg.Source, "gs://my-logs/logs/%Y%m%d/"; got != want {
		t.Errorf("loader source %s, want %s", got, want)
	}
	if got, want := sampleSource(p.matchByID("archive"), "archive"), "gs://my-logs/logs/"; got != want {
		t.Errorf("schema infer lists %s, want %s", got, want)
	}
	// Cut in another zone, the date is not UTC's: the source is the fixed part.
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Replace(text, []byte("timekey_use_utc true"), []byte("timekey_zone +09:00"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err = loadPlan(path); err != nil {
		t.Fatal(err)
	}
	if got, want := p.loaders[0].cfg.Source, "gs://my-logs/logs/"; got != want {
		t.Errorf("loader source in +09:00 %s, want %s", got, want)
	}
}
