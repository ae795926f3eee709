package bqemu

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"go.uber.org/goleak"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// started by go.opencensus.io's init, which the BigQuery and
		// storage clients pull in; it lives as long as the process
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}

func TestCacheDir(t *testing.T) {
	tools, err := ToolsDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BARGE_TEST_CACHE", "/x")
	dir, err := CacheDir(tools)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dir, "/x/bigquery-emulator-"+Version+"-") {
		t.Fatalf("CacheDir = %q, want /x/bigquery-emulator-%s-KEY", dir, Version)
	}
	again, err := CacheDir(tools)
	if err != nil || again != dir {
		t.Fatalf("CacheDir again = %q, %v; want %q", again, err, dir)
	}
	// Another go.sum is another key.
	other := t.TempDir()
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(tools, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "go.sum" {
			b = append(b, "example.com/x v1.0.0 h1:AAAA=\n"...)
		}
		if err := os.WriteFile(filepath.Join(other, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	changed, err := CacheDir(other)
	if err != nil {
		t.Fatal(err)
	}
	if changed == dir {
		t.Fatalf("CacheDir ignores go.sum: %q for both", dir)
	}
}

const (
	bucket  = "barge-bq"
	dataset = "ds"
	callMax = 30 * time.Second // every BigQuery call: the emulator's 500s are retried forever
)

// rig is one emulator reading from one in-process fake-gcs-server.
type rig struct {
	gcs *fakestorage.Server
	sc  *storage.Client
	bq  *bigquery.Client
	emu *Emulator
}

func newRig(t *testing.T) *rig {
	t.Helper()
	// PublicHost without a port matches 127.0.0.1 on any port, so the
	// emulator's reads of gs:// objects route to this server.
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:     "http",
		Host:       "127.0.0.1",
		Port:       0,
		PublicHost: "127.0.0.1",
	})
	if err != nil {
		t.Fatalf("fake-gcs-server: %v", err)
	}
	t.Cleanup(gcs.Stop)
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	sc := gcs.Client()
	t.Cleanup(func() { sc.Close() })
	emu := Start(t, Options{Project: "barge-test", StorageEmulatorHost: gcs.URL()})
	r := &rig{gcs: gcs, sc: sc, bq: emu.Client(t), emu: emu}
	ctx := callCtx(t)
	if err := r.bq.Dataset(dataset).Create(ctx, &bigquery.DatasetMetadata{Location: "US"}); err != nil {
		t.Fatalf("create dataset: %v", err)
	}
	return r
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), callMax)
	t.Cleanup(cancel)
	return ctx
}

var schema = bigquery.Schema{
	{Name: "time", Type: bigquery.TimestampFieldType},
	{Name: "message", Type: bigquery.StringFieldType},
	{Name: "seq", Type: bigquery.IntegerFieldType},
}

// createTable makes an HOUR-partitioned table on `time`, as barge does.
func (r *rig) createTable(t *testing.T, name string) {
	t.Helper()
	err := r.bq.Dataset(dataset).Table(name).Create(callCtx(t), &bigquery.TableMetadata{
		Schema:           schema,
		TimePartitioning: &bigquery.TimePartitioning{Type: bigquery.HourPartitioningType, Field: "time"},
	})
	if err != nil {
		t.Fatalf("create table %q: %v", name, err)
	}
	md, err := r.bq.Dataset(dataset).Table(name).Metadata(callCtx(t))
	if err != nil {
		t.Fatalf("table %q metadata: %v", name, err)
	}
	if tp := md.TimePartitioning; tp == nil || tp.Type != bigquery.HourPartitioningType || tp.Field != "time" {
		t.Fatalf("table %q partitioning = %+v, want HOUR on time", name, tp)
	}
}

// put stores an object the way barge's gcs output does, through the real
// storage client.
func (r *rig) put(t *testing.T, name, contentType, contentEncoding string, data []byte) string {
	t.Helper()
	w := r.sc.Bucket(bucket).Object(name).NewWriter(callCtx(t))
	w.ContentType = contentType
	w.ContentEncoding = contentEncoding
	if _, err := w.Write(data); err != nil {
		t.Fatalf("write %q: %v", name, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close %q: %v", name, err)
	}
	return "gs://" + bucket + "/" + name
}

// load runs a JSON load job with a fixed id appending to table, and waits
// for it. err is what Run or Wait returned.
func (r *rig) load(t *testing.T, table, jobID string, compression bigquery.Compression, uris ...string) (*bigquery.JobStatus, error) {
	t.Helper()
	ref := bigquery.NewGCSReference(uris...)
	ref.SourceFormat = bigquery.JSON
	ref.Compression = compression
	ld := r.bq.Dataset(dataset).Table(table).LoaderFrom(ref)
	ld.JobID = jobID
	ld.Location = "US"
	ld.WriteDisposition = bigquery.WriteAppend
	ld.CreateDisposition = bigquery.CreateNever
	job, err := ld.Run(callCtx(t))
	if err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	st, err := job.Wait(callCtx(t))
	if err != nil {
		return st, fmt.Errorf("wait: %w", err)
	}
	return st, st.Err()
}

// partitions counts rows per HOUR partition id, plus the total under "".
func (r *rig) partitions(t *testing.T, table string) map[string]int64 {
	t.Helper()
	counts := map[string]int64{}
	q := r.bq.Query(fmt.Sprintf("SELECT COUNT(*) AS n FROM `%s.%s.%s`", r.emu.Project, dataset, table))
	r.read(t, q, func(row []bigquery.Value) { counts[""] = row[0].(int64) })
	q = r.bq.Query(fmt.Sprintf("SELECT FORMAT_TIMESTAMP('%%Y%%m%%d%%H', time) AS p, COUNT(*) AS n FROM `%s.%s.%s` GROUP BY p ORDER BY p",
		r.emu.Project, dataset, table))
	r.read(t, q, func(row []bigquery.Value) { counts[row[0].(string)] = row[1].(int64) })
	return counts
}

func (r *rig) read(t *testing.T, q *bigquery.Query, each func([]bigquery.Value)) {
	t.Helper()
	it, err := q.Read(callCtx(t))
	if err != nil {
		t.Fatalf("query %q: %v", q.Q, err)
	}
	for {
		var row []bigquery.Value
		err := it.Next(&row)
		if err == iterator.Done {
			return
		}
		if err != nil {
			t.Fatalf("query %q: next: %v", q.Q, err)
		}
		each(row)
	}
}

func ndjson(seq0 int, times ...string) []byte {
	var b bytes.Buffer
	for i, ts := range times {
		fmt.Fprintf(&b, "{\"time\":%q,\"message\":\"m%d\",\"seq\":%d}\n", ts, seq0+i, seq0+i)
	}
	return b.Bytes()
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func apiCode(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

func describe(err error) string {
	if err == nil {
		return "ok"
	}
	return fmt.Sprintf("HTTP %d: %v", apiCode(err), err)
}

// TestLoad proves what barge's bigquery output may rely on from the
// emulator, and pins down what it may not (measured with v0.8.1):
//
//   - NDJSON loads from gs:// URIs into an HOUR-partitioned base table with
//     WRITE_APPEND work, several URIs per job, and rows land in the hour
//     partitions of their `time` field.
//   - A gzip object loads only if it is stored with Content-Encoding: gzip
//     (fake-gcs-server then serves it decompressed), whatever its
//     Content-Type and whether or not the job says Compression=GZIP. An
//     application/gzip object without Content-Encoding fails with HTTP 400
//     "expected { character for map value", with Compression=GZIP too.
//   - TIMESTAMP values: every form tried is accepted (RFC 3339 with Z or
//     an offset, 0, 6 or 9 fractional digits, and "YYYY-MM-DD HH:MM:SS[.f]
//     [UTC]"); offsets are converted to UTC and digits past the
//     microsecond are truncated, as in BigQuery.
//   - JobFromIDLocation finds a finished load job: State Done, Err nil, no
//     Errors; but Statistics.Details is nil (no *LoadStatistics, so no
//     OutputRows), and its times are off by a factor of 1000 (seconds
//     where the API has milliseconds: 1970-01-21). An unknown id is 404.
//   - A reused job id answers HTTP 400 (reason jobInternalError, "job ... is
//     already created"), not 409, and loads the rows a second time.
//   - Queries: FORMAT_TIMESTAMP drops a literal after %E6S ('%E6SZ' gives
//     no Z), so this test reads TIMESTAMPs back as time.Time instead.
//   - A load that fails answers HTTP 400 from jobs.insert (reason
//     jobInternalError), not a job that ends with an errorResult, and
//     leaves no job to look up.
func TestLoad(t *testing.T) {
	r := newRig(t)

	t.Run("json and gzip objects, one job", func(t *testing.T) {
		r.createTable(t, "events")
		plain := r.put(t, "a.json", "application/json", "",
			ndjson(0, "2026-11-22T13:04:05.123456789+00:00", "2026-11-22T13:59:59.999999Z", "2026-11-22T14:00:00Z"))
		gz := r.put(t, "b.json.gz", "application/gzip", "gzip",
			gzipped(t, ndjson(3, "2026-11-22T14:10:00.5Z", "2026-11-22T15:00:00Z")))
		st, err := r.load(t, "events", "barge_0001", bigquery.None, plain, gz)
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		if st.State != bigquery.Done {
			t.Fatalf("load state = %v, want Done", st.State)
		}
		want := map[string]int64{"": 5, "2026112213": 2, "2026112214": 2, "2026112215": 1}
		if got := r.partitions(t, "events"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("row counts = %v, want %v", got, want)
		}

		job, err := r.bq.JobFromIDLocation(callCtx(t), "barge_0001", "US")
		if err != nil {
			t.Fatalf("job lookup: %v", err)
		}
		st, err = job.Status(callCtx(t))
		if err != nil {
			t.Fatalf("job status: %v", err)
		}
		if st.State != bigquery.Done || st.Err() != nil || len(st.Errors) != 0 {
			t.Fatalf("looked-up job: state %v, err %v, errors %v; want Done without errors", st.State, st.Err(), st.Errors)
		}
		if st.Statistics == nil {
			t.Fatal("looked-up job has no statistics")
		}
		if ls, ok := st.Statistics.Details.(*bigquery.LoadStatistics); ok {
			t.Fatalf("emulator now reports load statistics (OutputRows %d): update the facts above and in doc.go", ls.OutputRows)
		}

		_, err = r.bq.JobFromIDLocation(callCtx(t), "barge_nosuchjob", "US")
		if apiCode(err) != 404 {
			t.Fatalf("unknown job lookup: %s, want HTTP 404", describe(err))
		}
	})

	t.Run("reused job id", func(t *testing.T) {
		r.createTable(t, "dup")
		uri := r.put(t, "dup.json", "application/json", "", ndjson(0, "2026-11-22T13:00:00Z", "2026-11-22T13:00:01Z"))
		if _, err := r.load(t, "dup", "barge_dup", bigquery.None, uri); err != nil {
			t.Fatalf("first load: %v", err)
		}
		_, err := r.load(t, "dup", "barge_dup", bigquery.None, uri)
		if apiCode(err) != 400 || !strings.Contains(err.Error(), "already created") {
			t.Fatalf("second load with the same id: %s, want HTTP 400 already created", describe(err))
		}
		if n := r.partitions(t, "dup")[""]; n != 4 {
			t.Fatalf("rows after a reused job id = %d, want 4 (the emulator loads them again)", n)
		}
	})

	t.Run("gzip forms", func(t *testing.T) {
		body := gzipped(t, ndjson(0, "2026-11-22T13:00:00Z", "2026-11-22T13:30:00Z"))
		for i, tc := range []struct {
			name, contentType, contentEncoding string
			compression                        bigquery.Compression
			loads                              bool
		}{
			{"application/gzip with Content-Encoding gzip", "application/gzip", "gzip", bigquery.None, true},
			{"application/gzip with Content-Encoding gzip, GZIP", "application/gzip", "gzip", bigquery.Gzip, true},
			{"application/json with Content-Encoding gzip", "application/json", "gzip", bigquery.None, true},
			{"application/gzip", "application/gzip", "", bigquery.None, false},
			{"application/gzip, GZIP", "application/gzip", "", bigquery.Gzip, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				table := fmt.Sprintf("gz%d", i)
				r.createTable(t, table)
				uri := r.put(t, table+".json.gz", tc.contentType, tc.contentEncoding, body)
				id := "barge_" + table
				_, err := r.load(t, table, id, tc.compression, uri)
				n := r.partitions(t, table)[""]
				if tc.loads {
					if err != nil || n != 2 {
						t.Fatalf("load: %s, %d rows; want 2 rows", describe(err), n)
					}
					return
				}
				if apiCode(err) != 400 || n != 0 {
					t.Fatalf("load: %s, %d rows; want HTTP 400 and no rows", describe(err), n)
				}
				_, err = r.bq.JobFromIDLocation(callCtx(t), id, "US")
				if apiCode(err) != 404 {
					t.Fatalf("lookup of the failed job: %s, want HTTP 404 (no job left)", describe(err))
				}
			})
		}
	})

	t.Run("timestamp forms", func(t *testing.T) {
		r.createTable(t, "ts")
		micro := time.Date(2026, 11, 22, 13, 4, 5, 123456000, time.UTC)
		whole := time.Date(2026, 11, 22, 13, 4, 5, 0, time.UTC)
		forms := []struct {
			in     string
			stored time.Time
		}{
			{"2026-11-22T13:04:05.123456789+00:00", micro}, // barge's %N%:z
			{"2026-11-22T13:04:05.123456789Z", micro},      // RFC3339Nano UTC
			{"2026-11-22T13:04:05.123456+00:00", micro},
			{"2026-11-22T13:04:05.123456Z", micro},
			{"2026-11-22T13:04:05Z", whole},
			{"2026-11-22T13:04:05+00:00", whole},
			{"2026-11-22T22:04:05.123456789+09:00", micro},
			{"2026-11-22 13:04:05.123456 UTC", micro},
			{"2026-11-22 13:04:05.123456", micro},
		}
		for i, f := range forms {
			uri := r.put(t, fmt.Sprintf("ts%d.json", i), "application/json", "", ndjson(i, f.in))
			if _, err := r.load(t, "ts", fmt.Sprintf("barge_ts_%d", i), bigquery.None, uri); err != nil {
				t.Errorf("load %q: %v", f.in, err)
			}
		}
		q := r.bq.Query(fmt.Sprintf("SELECT seq, time FROM `%s.%s.ts` ORDER BY seq", r.emu.Project, dataset))
		seen := 0
		r.read(t, q, func(row []bigquery.Value) {
			seen++
			f := forms[row[0].(int64)]
			if got, ok := row[1].(time.Time); !ok || !got.Equal(f.stored) {
				t.Errorf("%q stored as %v, want %v", f.in, row[1], f.stored)
			}
		})
		if seen != len(forms) {
			t.Fatalf("%d rows, want %d", seen, len(forms))
		}
	})
}
