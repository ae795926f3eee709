package bqtest

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/bigquery"
)

const (
	h13 = "2026-11-22T13:05:00.123456Z"
	h14 = "2026-11-22T14:59:59Z"
)

func TestLoadNDJSONAndGzipAppend(t *testing.T) {
	for _, jsonReads := range []bool{true, false} {
		t.Run(fmt.Sprintf("jsonReads=%v", jsonReads), func(t *testing.T) { testLoadNDJSONAndGzip(t, jsonReads) })
	}
}

func testLoadNDJSONAndGzip(t *testing.T, jsonReads bool) {
	e := newEnvReads(t, jsonReads)
	e.createTable()
	plain := e.put("a.json", ndjson(h13, h13, h14), "")
	gzipped := e.put("b.json.gz", gz(ndjson(h13)), "")
	transcoded := e.put("c.json.gz", gz(ndjson(h14, "2026-11-22 13:10:00+00:00")), "gzip")

	st := e.load(tableID, "job_plain", []string{plain})
	mustSucceed(t, st)
	if ls := st.Statistics.Details.(*bigquery.LoadStatistics); ls.OutputRows != 3 || ls.InputFiles != 1 {
		t.Fatalf("load statistics %+v", ls)
	}
	mustSucceed(t, e.load(tableID, "job_gzip", []string{gzipped}))
	mustSucceed(t, e.load(tableID, "job_transcoded", []string{transcoded}))

	want := map[string]int{"2026112213": 4, "2026112214": 2}
	if got := e.countByPartition(tableID); !maps.Equal(got, want) {
		t.Fatalf("rows per partition %v, want %v", got, want)
	}
	if ids := e.srv.PartitionIDs(dsID, tableID); fmt.Sprint(ids) != "[2026112213 2026112214]" {
		t.Fatalf("partition ids %v", ids)
	}
	r := e.srv.Rows(dsID, tableID)[0]
	if r["time"] != h13 || r["seq"] != json.Number("0") || r["message"] != "m0" {
		t.Fatalf("stored row %v", r)
	}
	md, err := e.bq.Dataset(dsID).Table(tableID).Metadata(ctx(t))
	if err != nil || md.NumRows != 6 {
		t.Fatalf("numRows %v, %v", md.NumRows, err)
	}
	jobs := e.srv.Jobs()
	if len(jobs) != 3 || jobs[0].Type != "load" || jobs[0].Destination != "logs.events" || jobs[0].WriteDisposition != "WRITE_APPEND" ||
		jobs[0].State != "DONE" || jobs[0].OutputRows != 3 || jobs[0].SourceURIs[0] != plain {
		t.Fatalf("jobs %+v", jobs)
	}
}

func TestLoadFailures(t *testing.T) {
	e := newEnv(t)
	e.createTable()
	good := e.put("good.json", ndjson(h13), "")
	for _, tc := range []struct {
		name   string
		uris   []string
		want   string
		reason string
	}{
		{"missing object", []string{"gs://archive/nope.json"}, "Not found: URI gs://archive/nope.json", "notFound"},
		{"missing bucket", []string{"gs://nope/a.json"}, "Not found: URI gs://nope/a.json", "notFound"},
		{"wildcard matching nothing", []string{"gs://archive/nope/*.json"}, "Not found: URI gs://archive/nope/*.json", "notFound"},
		{"mixed compression", []string{good, e.put("z.json.gz", gz(ndjson(h13)), "")}, "Compressed and uncompressed files", "invalid"},
		{"mixed compression, content-encoding gzip", []string{good, e.put("y.json.gz", gz(ndjson(h13)), "gzip")}, "Compressed and uncompressed files", "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := e.load(tableID, "job_"+strings.NewReplacer(" ", "_", ",", "").Replace(tc.name), tc.uris)
			mustFail(t, st, tc.want)
			if len(st.Errors) == 0 || st.Errors[0].Reason != tc.reason {
				t.Fatalf("errors %v", st.Errors)
			}
		})
	}
	if n := len(e.srv.Rows(dsID, tableID)); n != 0 {
		t.Fatalf("%d rows written by failed jobs", n)
	}
}

func TestLoadRejectedAtInsert(t *testing.T) {
	e := newEnv(t)
	e.createTable()
	many := make([]string, 10001)
	for i := range many {
		many[i] = fmt.Sprintf("gs://archive/o%d.json", i)
	}
	for _, tc := range []struct {
		name string
		ld   *bigquery.Loader
	}{
		{"too many URIs", e.loader(tableID, "job_many", many)},
		{"CSV", e.loader(tableID, "job_csv", []string{"gs://archive/a.csv"}, func(r *bigquery.GCSReference, _ *bigquery.Loader) { r.SourceFormat = bigquery.CSV })},
		{"two wildcards", e.loader(tableID, "job_wild", []string{"gs://archive/*/*.json"})},
		{"schema update with whole-table truncate", e.loader(tableID, "job_sut", []string{"gs://archive/a.json"}, func(_ *bigquery.GCSReference, l *bigquery.Loader) {
			l.WriteDisposition = bigquery.WriteTruncate
			l.SchemaUpdateOptions = []string{"ALLOW_FIELD_ADDITION"}
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.ld.Run(ctx(t))
			if code, reason := apiCode(err); code != 400 || reason != "invalid" {
				t.Fatalf("err %v", err)
			}
		})
	}
	if n := len(e.srv.Jobs()); n != 0 {
		t.Fatalf("%d jobs created by rejected inserts", n)
	}
	if n := e.srv.InsertAttempts(); n != 4 {
		t.Fatalf("%d insert attempts, want 4", n)
	}
}

func TestDecoratorLoad(t *testing.T) {
	e := newEnv(t)
	e.createTable()
	uri13 := e.put("13.json", ndjson(h13, h13), "")
	mustSucceed(t, e.load(tableID+"$2026112213", "job_13", []string{uri13}))
	if got := e.countByPartition(tableID); !maps.Equal(got, map[string]int{"2026112213": 2}) {
		t.Fatalf("rows %v", got)
	}
	if j := e.srv.Jobs()[0]; j.Destination != "logs.events$2026112213" {
		t.Fatalf("destination %q", j.Destination)
	}
	if md, err := e.bq.Dataset(dsID).Table(tableID + "$2026112214").Metadata(ctx(t)); err != nil || md.NumRows != 0 {
		t.Fatalf("empty partition metadata %+v, %v", md, err)
	}
	if md, err := e.bq.Dataset(dsID).Table(tableID + "$2026112213").Metadata(ctx(t)); err != nil || md.NumRows != 2 {
		t.Fatalf("partition metadata %+v, %v", md, err)
	}

	t.Run("rows of another partition fail the job", func(t *testing.T) {
		mixed := e.put("mixed.json", ndjson(h13, h14), "")
		st := e.load(tableID+"$2026112213", "job_mixed", []string{mixed})
		mustFail(t, st, "Some rows belong to different partitions rather than destination partition 2026112213")
		if n := len(e.srv.Rows(dsID, tableID)); n != 2 {
			t.Fatalf("%d rows after a failed load", n)
		}
	})
	t.Run("DAY decorator on an HOUR table", func(t *testing.T) {
		mustFail(t, e.load(tableID+"$20261122", "job_day", []string{uri13}), "Invalid partition decorator")
	})
	t.Run("decorator on a table not partitioned", func(t *testing.T) {
		if err := e.bq.Dataset(dsID).Table("flat").Create(ctx(t), &bigquery.TableMetadata{Schema: eventSchema}); err != nil {
			t.Fatal(err)
		}
		mustFail(t, e.load("flat$2026112213", "job_flat", []string{uri13}), "not partitioned")
	})
}

func TestTruncatePartitionKeepsOthers(t *testing.T) {
	e := newEnv(t)
	e.createTable()
	mustSucceed(t, e.load(tableID, "job_1", []string{e.put("1.json", ndjson(h13, h13, h13, h14), "")}))
	replacement := e.put("2.json", ndjson("2026-11-22T13:30:00+01:00", h13), "") // 12:30Z then 13:05Z
	st := e.load(tableID+"$2026112213", "job_2", []string{replacement}, func(_ *bigquery.GCSReference, l *bigquery.Loader) {
		l.WriteDisposition = bigquery.WriteTruncate
	})
	mustFail(t, st, "destination partition 2026112213")

	replacement = e.put("3.json", ndjson(h13), "")
	mustSucceed(t, e.load(tableID+"$2026112213", "job_3", []string{replacement}, func(_ *bigquery.GCSReference, l *bigquery.Loader) {
		l.WriteDisposition = bigquery.WriteTruncate
	}))
	if got := e.countByPartition(tableID); !maps.Equal(got, map[string]int{"2026112213": 1, "2026112214": 1}) {
		t.Fatalf("rows %v", got)
	}

	t.Run("WRITE_EMPTY on a partition with rows", func(t *testing.T) {
		mustFail(t, e.load(tableID+"$2026112214", "job_4", []string{e.put("4.json", ndjson(h14), "")}, func(_ *bigquery.GCSReference, l *bigquery.Loader) {
			l.WriteDisposition = bigquery.WriteEmpty
		}), "Already Exists")
	})
	t.Run("whole-table truncate", func(t *testing.T) {
		mustSucceed(t, e.load(tableID, "job_5", []string{e.put("5.json", ndjson(h14), "")}, func(_ *bigquery.GCSReference, l *bigquery.Loader) {
			l.WriteDisposition = bigquery.WriteTruncate
		}))
		if got := e.countByPartition(tableID); !maps.Equal(got, map[string]int{"2026112214": 1}) {
			t.Fatalf("rows %v", got)
		}
	})
}

func TestBadRows(t *testing.T) {
	e := newEnv(t)
	e.createTable()
	data := string(ndjson(h13, h13)) + `{"time":"` + h13 + `","seq":"not a number"}` + "\n"
	uri := e.put("bad.json.gz", gz([]byte(data)), "")

	st := e.load(tableID, "job_bad", []string{uri})
	mustFail(t, st, "JSON table encountered too many errors, giving up. Rows: 3; errors: 1.")
	var row *bigquery.Error
	for _, er := range st.Errors {
		if er.Location == uri {
			row = er
		}
	}
	pos := len(ndjson(h13, h13))
	if row == nil || row.Reason != "invalid" || !strings.Contains(row.Message, fmt.Sprintf("JSON parsing error in row starting at position %d:", pos)) ||
		!strings.HasSuffix(row.Message, "File: "+uri) || !strings.Contains(row.Message, "seq") {
		t.Fatalf("row error %+v in %v", row, st.Errors)
	}
	if n := len(e.srv.Rows(dsID, tableID)); n != 0 {
		t.Fatalf("%d rows written by a failed load", n)
	}
	if j := e.srv.Jobs()[0]; j.State != "DONE" || !strings.Contains(j.Err, "too many errors") {
		t.Fatalf("job %+v", j)
	}

	t.Run("maxBadRecords tolerates", func(t *testing.T) {
		st := e.load(tableID, "job_tolerant", []string{uri}, func(r *bigquery.GCSReference, _ *bigquery.Loader) { r.MaxBadRecords = 1 })
		mustSucceed(t, st)
		ls := st.Statistics.Details.(*bigquery.LoadStatistics)
		if ls.OutputRows != 2 || len(st.Errors) != 1 || st.Errors[0].Location != uri {
			t.Fatalf("statistics %+v, errors %v", ls, st.Errors)
		}
		if n := len(e.srv.Rows(dsID, tableID)); n != 2 {
			t.Fatalf("%d rows", n)
		}
	})
	t.Run("a REQUIRED field missing", func(t *testing.T) {
		st := e.load(tableID, "job_required", []string{e.put("req.json", []byte(`{"seq":1}`+"\n"), "")})
		mustFail(t, st, "too many errors")
		if !strings.Contains(st.Errors[len(st.Errors)-1].Message, "Missing required field: time.") {
			t.Fatalf("errors %v", st.Errors)
		}
	})
	t.Run("nanosecond timestamps are refused", func(t *testing.T) {
		st := e.load(tableID, "job_nanos", []string{e.put("nanos.json", ndjson("2026-11-22T13:05:00.123456789Z"), "")})
		mustFail(t, st, "too many errors")
	})
}

func TestIgnoreUnknownValues(t *testing.T) {
	e := newEnv(t)
	e.createTable()
	uri := e.put("extra.json", []byte(`{"time":"`+h13+`","seq":1,"host":"a"}`+"\n"), "")
	st := e.load(tableID, "job_strict", []string{uri})
	mustFail(t, st, "too many errors")
	if msg := st.Errors[len(st.Errors)-1].Message; !strings.Contains(msg, "No such field: host.") {
		t.Fatalf("row error %q", msg)
	}
	mustSucceed(t, e.load(tableID, "job_lenient", []string{uri}, func(r *bigquery.GCSReference, _ *bigquery.Loader) { r.IgnoreUnknownValues = true }))
	rows := e.srv.Rows(dsID, tableID)
	if len(rows) != 1 || rows[0]["host"] != nil {
		t.Fatalf("rows %v", rows)
	}
}

func TestSchemaUpdateOptions(t *testing.T) {
	e := newEnv(t)
	e.createTable()
	uri := e.put("host.json", []byte(`{"time":"`+h13+`","seq":1,"host":"a"}`+"\n"), "")
	withHost := append(bigquery.Schema{}, eventSchema...)
	withHost = append(withHost, &bigquery.FieldSchema{Name: "host", Type: bigquery.StringFieldType})

	st := e.load(tableID, "job_no_option", []string{uri}, func(r *bigquery.GCSReference, _ *bigquery.Loader) { r.Schema = withHost })
	mustFail(t, st, "Provided Schema does not match Table proj:logs.events. Cannot add fields (field: host)")

	mustSucceed(t, e.load(tableID, "job_addition", []string{uri}, func(r *bigquery.GCSReference, l *bigquery.Loader) {
		r.Schema = withHost
		l.SchemaUpdateOptions = []string{"ALLOW_FIELD_ADDITION"}
	}))
	md, err := e.bq.Dataset(dsID).Table(tableID).Metadata(ctx(t))
	if err != nil || len(md.Schema) != 4 || md.Schema[3].Name != "host" {
		t.Fatalf("schema %+v, %v", md, err)
	}
	if rows := e.srv.Rows(dsID, tableID); len(rows) != 1 || rows[0]["host"] != "a" {
		t.Fatalf("rows %v", rows)
	}

	relaxed := append(bigquery.Schema{{Name: "time", Type: bigquery.TimestampFieldType}}, withHost[1:]...)
	mustFail(t, e.load(tableID, "job_no_relax", []string{uri}, func(r *bigquery.GCSReference, _ *bigquery.Loader) { r.Schema = relaxed }),
		"Field time has changed mode from REQUIRED to NULLABLE")
	mustSucceed(t, e.load(tableID, "job_relax", []string{uri}, func(r *bigquery.GCSReference, l *bigquery.Loader) {
		r.Schema = relaxed
		l.SchemaUpdateOptions = []string{"ALLOW_FIELD_RELAXATION"}
	}))
	if md, _ := e.bq.Dataset(dsID).Table(tableID).Metadata(ctx(t)); md.Schema[0].Required {
		t.Fatal("time still REQUIRED")
	}
}

func TestCreateDispositions(t *testing.T) {
	e := newEnv(t)
	if err := e.bq.Dataset(dsID).Create(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	uri := e.put("a.json", ndjson(h13, h14), "")
	mustFail(t, e.load("new", "job_never", []string{uri}, func(_ *bigquery.GCSReference, l *bigquery.Loader) {
		l.CreateDisposition = bigquery.CreateNever
	}), "Not found: Table proj:logs.new")
	mustFail(t, e.load("new", "job_noschema", []string{uri}), "No schema specified on job or table.")
	if _, err := e.bq.Dataset(dsID).Table("new").Metadata(ctx(t)); err == nil {
		t.Fatal("a failed load created the table")
	}
	mustSucceed(t, e.load("new", "job_create", []string{uri}, func(r *bigquery.GCSReference, l *bigquery.Loader) {
		r.Schema = eventSchema
		l.TimePartitioning = &bigquery.TimePartitioning{Type: bigquery.DayPartitioningType, Field: "time"}
	}))
	md, err := e.bq.Dataset(dsID).Table("new").Metadata(ctx(t))
	if err != nil || md.TimePartitioning == nil || md.TimePartitioning.Type != bigquery.DayPartitioningType {
		t.Fatalf("created table %+v, %v", md, err)
	}
	if got := e.countByPartition("new"); !maps.Equal(got, map[string]int{"20261122": 2}) {
		t.Fatalf("rows %v", got)
	}
	mustSucceed(t, e.load("auto", "job_auto", []string{uri}, func(r *bigquery.GCSReference, _ *bigquery.Loader) { r.AutoDetect = true }))
	md, err = e.bq.Dataset(dsID).Table("auto").Metadata(ctx(t))
	if err != nil || len(md.Schema) != 3 || md.Schema[2].Name != "time" || md.Schema[2].Type != bigquery.TimestampFieldType {
		t.Fatalf("autodetected %+v, %v", md.Schema, err)
	}
}

func TestWildcardAndIngestionTime(t *testing.T) {
	e := newEnv(t)
	if err := e.bq.Dataset(dsID).Create(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	if err := e.bq.Dataset(dsID).Table("ing").Create(ctx(t), &bigquery.TableMetadata{Schema: eventSchema,
		TimePartitioning: &bigquery.TimePartitioning{Type: bigquery.DayPartitioningType}}); err != nil {
		t.Fatal(err)
	}
	e.put("w/1.json", ndjson(h13), "")
	e.put("w/2/x.json", ndjson(h13, h13), "")
	e.put("w/3.txt", ndjson(h13), "")
	st := e.load("ing$20200101", "job_wild", []string{"gs://archive/w/*.json"})
	mustSucceed(t, st)
	if ls := st.Statistics.Details.(*bigquery.LoadStatistics); ls.InputFiles != 2 || ls.OutputRows != 3 {
		t.Fatalf("statistics %+v", ls)
	}
	if got := e.countByPartition("ing"); !maps.Equal(got, map[string]int{"20200101": 3}) {
		t.Fatalf("rows %v", got)
	}
}

func TestConcurrentLoads(t *testing.T) {
	e := newEnv(t)
	e.createTable()
	const n = 8
	uris := make([]string, n)
	for i := range uris {
		uris[i] = e.put(fmt.Sprintf("c%d.json", i), ndjson(h13, h14), "")
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			job, err := e.loader(tableID, fmt.Sprintf("job_c%d", i), uris[i:i+1]).Run(ctx(t))
			if err == nil {
				var st *bigquery.JobStatus
				if st, err = job.Wait(ctx(t)); err == nil {
					err = st.Err()
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := e.countByPartition(tableID); !maps.Equal(got, map[string]int{"2026112213": n, "2026112214": n}) {
		t.Fatalf("rows %v", got)
	}
}
