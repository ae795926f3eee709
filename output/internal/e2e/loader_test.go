package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
	"github.com/barge-dev/barge/output/internal/bqtest"
	"github.com/barge-dev/barge/output/internal/faultproxy"
)

// loaderEnv is fake-gcs-server and the BigQuery test server in this
// process, each behind a fault proxy that the barge processes reach.
type loaderEnv struct {
	gcs    *gcsServer
	gproxy *faultproxy.Proxy
	bqs    *bqtest.Server
	bproxy *faultproxy.Proxy
	bucket string
	env    []string
}

func newLoaderEnv(t *testing.T) *loaderEnv {
	t.Helper()
	e := &loaderEnv{gcs: startGCS(t), bucket: "archive"}
	e.gcs.fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: e.bucket})
	e.gproxy = startProxy(t, e.gcs.fake.URL())
	e.bqs = bqtest.Start(t, bqtest.Options{Project: "proj", Storage: e.gcs.read})
	e.bproxy = startProxy(t, e.bqs.URL())
	e.env = []string{"STORAGE_EMULATOR_HOST=" + e.gproxy.Addr()}
	createEventsTable(t, e.bqs.Client(t))
	return e
}

// createEventsTable makes the dataset logs and its table events, HOUR
// partitioned on time, with the columns of bargetest.SendAcked's records.
func createEventsTable(t *testing.T, c *bq.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Dataset("logs").Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	err := c.Dataset("logs").Table("events").Create(ctx, &bq.TableMetadata{
		Schema: bq.Schema{
			{Name: "time", Type: bq.TimestampFieldType},
			{Name: "seq", Type: bq.IntegerFieldType},
			{Name: "msg", Type: bq.StringFieldType},
			{Name: "level", Type: bq.StringFieldType},
		},
		TimePartitioning: &bq.TimePartitioning{Type: bq.HourPartitioningType, Field: "time"},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// producerConfig is barge forwarding into the gcs output, a chunk per
// second, with the event time as the partition column.
func (e *loaderEnv) producerConfig() string {
	return fmt.Sprintf(`<source>
  @type forward
  bind 127.0.0.1
  port 0
</source>
<match app.**>
  @type gcs
  @id archive
  bucket %s
  path logs/%%Y%%m%%d/
%s</match>
`, e.bucket, loadableArchive)
}

// loadableArchive is the part of a gcs or s3 output that writes objects a
// loader takes: JSON lines with BigQuery column names, the event time in
// the partition column, one object per chunk of one UTC hour, a chunk per
// second.
const loadableArchive = `  store_as gzip
  <format>
    @type json
    key_style bigquery
  </format>
  <inject>
    time_key time
    time_type string
    time_format %Y-%m-%dT%H:%M:%S.%6N%:z
    utc true
  </inject>
  <buffer time>
    @type file
    path buffer
    timekey 1h
    timekey_use_utc true
    flush_mode interval
    flush_interval 1s
  </buffer>
`

// loaderConfig is a loader of the same archive, reaching BigQuery through
// the proxy.
func (e *loaderEnv) loaderConfig(extra string) string {
	return fmt.Sprintf(`<loader bq>
  @type bigquery
  project proj
  dataset logs
  table events
  source gs://%s/logs/%%Y%%m%%d/
  partition_type HOUR
  partition_field time
  endpoint %s
  poll_interval 50ms
  load_interval 1s
%s</loader>
`, e.bucket, e.bproxy.URL(), extra)
}

// produce sends n records through a barge producer and waits until the
// archive holds them all.
func (e *loaderEnv) produce(t *testing.T, from, to int) {
	t.Helper()
	p := startBargeEnv(t, t.TempDir(), e.producerConfig(), e.env)
	bargetest.SendAcked(t, p.Addr, "app.loader", from, to)
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("producer exit code %d", code)
	}
}

func (e *loaderEnv) loadOnce(t *testing.T, dir string) *bargetest.Proc {
	t.Helper()
	return bargetest.StartCommand(t, bargeBin, dir, e.loaderConfig(""), e.env, "load", "--once")
}

// checkLoaded asserts that the table holds seqs [0, n) exactly once each
// and that no object was in two jobs.
func (e *loaderEnv) checkLoaded(t *testing.T, n int) {
	t.Helper()
	count := map[string]int{}
	for _, r := range e.bqs.Rows("logs", "events") {
		count[fmt.Sprint(r["seq"])]++
	}
	for i := 0; i < n; i++ {
		if c := count[fmt.Sprint(i)]; c != 1 {
			t.Fatalf("seq %d is in the table %d times (%d rows in all, want %d)", i, c, len(e.bqs.Rows("logs", "events")), n)
		}
	}
	if len(count) != n {
		t.Fatalf("table holds %d distinct seqs, want %d", len(count), n)
	}
	// Appends: no object in two of them. (A replay's WRITE_TRUNCATE
	// reloads every object of its partition, replacing what was there.)
	seen := map[string]string{}
	for _, j := range e.bqs.Jobs() {
		if j.State != "DONE" || j.Err != "" || j.WriteDisposition != "WRITE_APPEND" {
			continue
		}
		for _, u := range j.SourceURIs {
			if other, ok := seen[u]; ok {
				t.Fatalf("%s loaded by jobs %s and %s", u, other, j.ID)
			}
			seen[u] = j.ID
		}
	}
}

// TestLoaderCrashes kills `barge load` with SIGKILL at each step of a
// commit and checks that after a restart every object is committed once.
func TestLoaderCrashes(t *testing.T) {
	jobsPath := "/projects/proj/jobs"
	cases := []struct {
		name string
		// arm sets the fault up and returns a channel closed once the
		// loader reached the point where it is killed.
		arm func(t *testing.T, e *loaderEnv, p func() *bargetest.Proc) (disarm func())
	}{
		{"before submit", func(t *testing.T, e *loaderEnv, p func() *bargetest.Proc) func() {
			// jobs.insert is held in the proxy: BigQuery never sees it.
			h := e.bproxy.Add(faultproxy.Rule{Match: faultproxy.Match{Method: "POST", PathPrefix: jobsPath}, Fault: faultproxy.Delay(time.Hour)})
			p().WaitLog(30*time.Second, msgIs("claimed job"))
			return func() { e.bproxy.Remove(h) }
		}},
		{"after submit, before the ledger write", func(t *testing.T, e *loaderEnv, p func() *bargetest.Proc) func() {
			// BigQuery runs the job; its answer never reaches the loader.
			h := e.bproxy.Add(faultproxy.Rule{Match: faultproxy.Match{Method: "POST", PathPrefix: jobsPath}, Fault: faultproxy.DelayResponse(time.Hour)})
			p()
			if err := e.bqs.WaitJobs(1, 30*time.Second); err != nil {
				t.Fatal(err)
			}
			return func() { e.bproxy.Remove(h) }
		}},
		{"while polling", func(t *testing.T, e *loaderEnv, p func() *bargetest.Proc) func() {
			e.bqs.HoldJobs(true)
			p().WaitLog(30*time.Second, msgIs("waiting for job"))
			return func() { e.bqs.HoldJobs(false) }
		}},
		{"after the job, before the ledger write", func(t *testing.T, e *loaderEnv, p func() *bargetest.Proc) func() {
			// The write that settles the job is held: the job is done,
			// the ledger still says pending.
			var once sync.Once
			reached := make(chan struct{})
			h := e.gproxy.Add(faultproxy.Rule{Match: faultproxy.Match{Method: "POST", PathPrefix: "/upload/", Func: func(r *http.Request) bool {
				name := r.URL.Query().Get("name")
				if !strings.HasPrefix(name, "_barge/ledger/logs.events/") || strings.Count(name, "/") != 3 || strings.Contains(name, "_quota") {
					return false
				}
				jobs := e.bqs.Jobs()
				if len(jobs) == 0 || jobs[0].State != "DONE" {
					return false
				}
				once.Do(func() { close(reached) })
				return true
			}}, Fault: faultproxy.Delay(time.Hour)})
			p()
			select {
			case <-reached:
			case <-time.After(30 * time.Second):
				t.Fatal("the loader never wrote the ledger after its job")
			}
			return func() { e.gproxy.Remove(h) }
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newLoaderEnv(t)
			const n = 300
			e.produce(t, 0, n)
			dir := t.TempDir()
			var first *bargetest.Proc
			start := func() *bargetest.Proc {
				first = e.loadOnce(t, dir)
				return first
			}
			disarm := c.arm(t, e, start)
			first.Kill9()
			disarm()
			second := e.loadOnce(t, dir)
			if code := second.Wait(60 * time.Second); code != 0 {
				t.Fatalf("second loader exit code %d\n%s", code, second.Stdout())
			}
			e.checkLoaded(t, n)
			// Once more: nothing left to do.
			third := e.loadOnce(t, dir)
			if code := third.Wait(60 * time.Second); code != 0 || !strings.Contains(third.Stdout(), ": 0 jobs") {
				t.Fatalf("third loader: exit %d, %s", code, third.Stdout())
			}
			e.checkLoaded(t, n)
		})
	}
}

// TestTwoLoaderProcesses runs two `barge load` replicas on one ledger while
// a producer keeps uploading: no object is loaded twice.
func TestTwoLoaderProcesses(t *testing.T) {
	e := newLoaderEnv(t)
	a := bargetest.StartCommand(t, bargeBin, t.TempDir(), e.loaderConfig(""), e.env, "load")
	b := bargetest.StartCommand(t, bargeBin, t.TempDir(), e.loaderConfig(""), e.env, "load")
	const n = 1200
	for i := 0; i < n; i += 200 {
		e.produce(t, i, i+200)
		// Both replicas cycle every second and race for each batch.
		if err := e.bqs.WaitRows("logs", "events", i+200, 60*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	a.Stop(30 * time.Second)
	b.Stop(30 * time.Second)
	e.checkLoaded(t, n)
	jobs := len(e.bqs.Jobs())
	if jobs < n/200 {
		t.Fatalf("%d jobs for %d rounds of uploads", jobs, n/200)
	}
	t.Logf("%d jobs for %d records: replica a committed %d, b %d", jobs, n, a.CountLog("committed job"), b.CountLog("committed job"))
}

// TestLoaderStatusAndReplay: `barge load status` reports the partition,
// `barge replay` rebuilds it after its rows were lost.
func TestLoaderStatusAndReplay(t *testing.T) {
	e := newLoaderEnv(t)
	const n = 200
	e.produce(t, 0, n)
	dir := t.TempDir()
	if code := e.loadOnce(t, dir).Wait(60 * time.Second); code != 0 {
		t.Fatalf("load --once exit %d", code)
	}
	st := bargetest.StartCommand(t, bargeBin, dir, e.loaderConfig(""), e.env, "load", "status")
	if code := st.Wait(30 * time.Second); code != 0 {
		t.Fatalf("status exit %d", code)
	}
	out := st.Stdout()
	if !strings.Contains(out, "PARTITION") || !strings.Contains(out, "done") {
		t.Fatalf("status:\n%s", out)
	}
	parts := e.bqs.PartitionIDs("logs", "events")
	if len(parts) == 0 {
		t.Fatal("no partition loaded")
	}
	for _, p := range parts {
		e.bqs.DeletePartitionRows("logs", "events", p)
	}
	for _, p := range parts {
		rp := bargetest.StartCommand(t, bargeBin, dir, e.loaderConfig(""), e.env, "replay", "--loader", "bq", "--partition", p)
		if code := rp.Wait(60 * time.Second); code != 0 {
			t.Fatalf("replay exit %d:\n%s", code, rp.Stdout())
		}
		if !strings.Contains(rp.Stdout(), "1 of 1 partitions replayed") {
			t.Fatalf("replay printed:\n%s", rp.Stdout())
		}
	}
	e.checkLoaded(t, n)
	// The ledger is lost: `barge ledger rebuild` recovers it from the
	// listing and BigQuery's job history, and the next load finds
	// nothing to do.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lost := 0
	ledger, _, err := e.gcs.fake.ListObjects(e.bucket, "_barge/ledger/", "", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ledger {
		if err := e.gcs.read.Bucket(e.bucket).Object(o.Name).Delete(ctx); err != nil {
			t.Fatal(err)
		}
		lost++
	}
	if lost == 0 {
		t.Fatal("no ledger objects to lose")
	}
	rb := bargetest.StartCommand(t, bargeBin, dir, e.loaderConfig(""), e.env, "ledger", "rebuild")
	if code := rb.Wait(60 * time.Second); code != 0 || !strings.Contains(rb.Stdout(), "0 not yet loaded") {
		t.Fatalf("ledger rebuild: exit %d\n%s", code, rb.Stdout())
	}
	again := e.loadOnce(t, dir)
	if code := again.Wait(60 * time.Second); code != 0 || !strings.Contains(again.Stdout(), ": 0 jobs") {
		t.Fatalf("load after the rebuild: exit %d, %s", code, again.Stdout())
	}
	e.checkLoaded(t, n)
}

func msgIs(msg string) func(map[string]any) bool {
	return func(l map[string]any) bool { return l["msg"] == msg }
}

// TestS3OutputToBigQuery is the S3 path with the real binary: one `barge
// run` whose s3 output archives to MinIO and whose loader follows it
// (source_output), copying each object to a GCS staging prefix before its
// load job; every record sent is in the table once.
func TestS3OutputToBigQuery(t *testing.T) {
	e := newLoaderEnv(t)
	m := minioServer(t)
	m.MakeBucket(t, "s3archive")
	config := fmt.Sprintf(`<source>
  @type forward
  bind 127.0.0.1
  port 0
</source>
<match app.**>
  @type s3
  @id archive
  s3_bucket s3archive
  s3_region %s
  s3_endpoint %s
  force_path_style true
  aws_key_id %s
  aws_sec_key %s
  path logs/%%Y%%m%%d%%H/
%s</match>
<loader bq>
  @type bigquery
  project proj
  dataset logs
  table events
  source_output archive
  staging gs://%s/staging/
  partition_type HOUR
  partition_field time
  endpoint %s
  poll_interval 50ms
  load_interval 1s
</loader>
`, m.Region, m.Endpoint, m.AccessKey, m.SecretKey, loadableArchive, e.bucket, e.bproxy.URL())
	p := startBargeEnv(t, t.TempDir(), config, e.env)
	const n = 600
	for i := 0; i < n; i += 200 {
		bargetest.SendAcked(t, p.Addr, "app.s3", i, i+200)
		if err := e.bqs.WaitRows("logs", "events", i+200, 60*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	e.checkLoaded(t, n)
	for _, j := range e.bqs.Jobs() {
		for _, u := range j.SourceURIs {
			if !strings.HasPrefix(u, "gs://"+e.bucket+"/staging/logs/") {
				t.Fatalf("job %s loads %s, want a staging copy", j.ID, u)
			}
		}
	}
	if p.CountLog("relayed objects from S3") == 0 {
		t.Fatal("no relay was logged")
	}
}

// TestSchemaInfer: `barge schema infer --output` samples the archive of a
// gcs output and prints a BigQuery JSON schema of its records, as does
// naming an object's URI.
func TestSchemaInfer(t *testing.T) {
	e := newLoaderEnv(t)
	e.produce(t, 0, 50)
	dir := t.TempDir()
	want := map[string]string{"time": "TIMESTAMP", "seq": "INTEGER", "msg": "STRING", "level": "STRING"}
	check := func(out string) {
		t.Helper()
		var fields []struct{ Name, Type, Mode string }
		if err := json.Unmarshal([]byte(out), &fields); err != nil {
			t.Fatalf("schema infer printed no JSON schema: %v\n%s", err, out)
		}
		got := map[string]string{}
		for _, f := range fields {
			got[f.Name] = f.Type
		}
		for name, typ := range want {
			if got[name] != typ {
				t.Fatalf("column %s is %q, want %s; schema:\n%s", name, got[name], typ, out)
			}
		}
	}
	conf := filepath.Join(dir, "barge.conf")
	if err := os.WriteFile(conf, []byte(e.producerConfig()), 0o644); err != nil {
		t.Fatal(err)
	}
	infer := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bargeBin, append([]string{"schema", "infer"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), e.env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("barge schema infer %v: %v\n%s", args, err, stderr.String())
		}
		return string(out)
	}
	check(infer("-c", conf, "--output", "archive"))
	objs, _, err := e.gcs.fake.ListObjects(e.bucket, "logs/", "", false)
	if err != nil || len(objs) == 0 {
		t.Fatalf("archive listing: %d objects, %v", len(objs), err)
	}
	check(infer("gs://" + e.bucket + "/" + objs[0].Name))
}
