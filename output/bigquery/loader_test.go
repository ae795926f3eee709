package bigquery

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var hour13 = time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC)

func TestCycleCommitsEveryObjectOnce(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	l := e.loader(nil)
	for i := 0; i < 3; i++ {
		e.upload(hour13.Add(time.Duration(i)*time.Minute), 10, false)
	}
	e.upload(hour13.Add(-30*time.Minute), 5, false) // hour 12, still open (lateness 1h)
	res := e.cycle(l)
	if res.Jobs != 2 || res.Objects != 4 || res.Rows != 35 {
		t.Fatalf("first cycle: %+v, want 2 jobs (one per partition), 4 objects, 35 rows", res)
	}
	if got := e.rows(); got["2026112213"] != 30 || got["2026112212"] != 5 {
		t.Fatalf("rows per partition = %v", got)
	}
	if res := e.cycle(l); res.Jobs != 0 {
		t.Fatalf("a cycle without new objects ran jobs: %+v", res)
	}
	e.upload(hour13.Add(10*time.Minute), 7, false)
	if res := e.cycle(l); res.Jobs != 1 || res.Objects != 1 || res.Rows != 7 {
		t.Fatalf("cycle with one new object: %+v", res)
	}
	for seq, n := range e.seqs() {
		if n != 1 {
			t.Fatalf("seq %s loaded %d times", seq, n)
		}
	}
	// Every job appended into the base table: the table is partitioned on
	// the time column and BigQuery routes the rows.
	for _, j := range e.bqs.Jobs() {
		if j.Destination != testDataset+"."+testTable || j.WriteDisposition != "WRITE_APPEND" {
			t.Fatalf("job %s: destination %s, %s", j.ID, j.Destination, j.WriteDisposition)
		}
	}
}

func TestIngestionTimeLoadsIntoPartitionDecorator(t *testing.T) {
	e := newEnv(t)
	e.createTable("")
	l := e.loader(func(c *Config) { c.PartitionField = "" })
	e.upload(hour13, 4, false)
	e.upload(hour13.Add(-time.Hour), 3, false)
	if res := e.cycle(l); res.Rows != 7 {
		t.Fatalf("cycle: %+v", res)
	}
	if got := e.rows(); got["2026112213"] != 4 || got["2026112212"] != 3 {
		t.Fatalf("rows per partition = %v", got)
	}
	dests := map[string]bool{}
	for _, j := range e.bqs.Jobs() {
		dests[j.Destination] = true
	}
	if !dests["logs.events$2026112213"] || !dests["logs.events$2026112212"] {
		t.Fatalf("destinations %v: ingestion-time loads must name the partition", dests)
	}
}

// A loader that crashed after BigQuery accepted its job left a pending
// record: the next one finds the job and adopts it instead of loading the
// objects again.
func TestPendingJobIsAdoptedNotRepeated(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	e.upload(hour13, 10, false)
	e.upload(hour13, 10, false)
	first := e.loader(nil)
	// Hold the job so that the first loader is still polling when it dies.
	e.bqs.HoldJobs(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan CycleResult)
	go func() {
		res, _ := first.Cycle(ctx)
		done <- res
	}()
	if err := e.bqs.WaitJobs(1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	cancel() // the "crash": the loader stops while the job runs
	<-done
	e.bqs.HoldJobs(false)

	second := e.loader(nil)
	res := e.cycle(second)
	if res.Jobs != 1 || res.Rows != 20 {
		t.Fatalf("second loader: %+v, want the first one's job settled with 20 rows", res)
	}
	if n := len(e.bqs.Jobs()); n != 1 {
		t.Fatalf("%d jobs exist; the pending one must be adopted, not resubmitted", n)
	}
	if got := e.rows()["2026112213"]; got != 20 {
		t.Fatalf("rows = %d, want 20", got)
	}
}

// A job id that BigQuery already has (another replica, or a client retry
// after a lost response) answers 409 and is adopted.
func TestDuplicateJobIDIsAdopted(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	e.upload(hour13, 5, false)
	l := e.loader(nil)
	// Submit the job the loader will claim, as a crashed replica would have.
	objs, err := l.listSourceForTest()
	if err != nil {
		t.Fatal(err)
	}
	d := newLedger(l.table, "2026112213")
	j := l.newJob(d, kindLoad, l.destination("2026112213"), d.uncommitted(objs), "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.submit(ctx, j); err != nil {
		t.Fatal(err)
	}
	// A second insert of the same id (a replica that looked the job up
	// before the first insert landed) gets 409 and adopts the job.
	before := e.bqs.InsertAttempts()
	job, err := l.submit(ctx, j)
	if err != nil {
		t.Fatalf("second insert: %v", err)
	}
	if job.ID() != j.ID || e.bqs.InsertAttempts() != before+1 {
		t.Fatalf("second insert gave job %q after %d attempts, want %q adopted after one 409", job.ID(), e.bqs.InsertAttempts()-before, j.ID)
	}
	// The cycle claims the same objects, finds the job and adopts it.
	res := e.cycle(l)
	if res.Rows != 5 || len(e.bqs.Jobs()) != 1 {
		t.Fatalf("cycle %+v with %d jobs", res, len(e.bqs.Jobs()))
	}
	if got := e.rows()["2026112213"]; got != 5 {
		t.Fatalf("rows = %d, want 5", got)
	}
}

func TestTwoLoadersNeverLoadTwice(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	a, b := e.loader(nil), e.loader(nil)
	want := 0
	for round := 0; round < 6; round++ {
		for i := 0; i < 3; i++ {
			e.upload(hour13.Add(time.Duration(round)*time.Minute), 4, false)
			want += 4
		}
		var wg sync.WaitGroup
		for _, l := range []*Loader{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if _, err := l.Cycle(ctx); err != nil {
					t.Errorf("cycle: %v", err)
				}
			}()
		}
		wg.Wait()
	}
	e.cycle(a)
	total := 0
	for seq, n := range e.seqs() {
		if n != 1 {
			t.Fatalf("seq %s loaded %d times", seq, n)
		}
		total++
	}
	if total != want {
		t.Fatalf("%d rows, want %d", total, want)
	}
	seen := map[string]bool{}
	for _, j := range e.bqs.Jobs() {
		for _, u := range j.SourceURIs {
			if seen[u] {
				t.Fatalf("%s was in two jobs", u)
			}
			seen[u] = true
		}
	}
}

func TestBadObjectIsQuarantinedAndTheRestLoads(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	l := e.loader(nil)
	var bad string
	for i := 0; i < 6; i++ {
		name := e.upload(hour13, 3, i == 4)
		if i == 4 {
			bad = name
		}
	}
	for i := 0; i < 6; i++ {
		e.cycle(l)
	}
	if got := e.rows()["2026112213"]; got != 15 {
		t.Fatalf("rows = %d, want the 15 of the five good objects", got)
	}
	st, err := l.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	st.Print(&out)
	p := st.Partitions[0]
	if p.Committed != 5 || p.Quarantined != 1 || p.Waiting != 0 {
		t.Fatalf("status:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "quarantined gs://"+testBucket+"/"+bad) {
		t.Fatalf("status does not name the quarantined object:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "failures in 2026112213") {
		t.Fatalf("status shows no failure:\n%s", out.String())
	}
}

func TestLateObjectsWaitForReplay(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	var logs bytes.Buffer
	cfg := DefaultConfig()
	cfg.Name, cfg.Project, cfg.Dataset, cfg.Table = "bq", "proj", testDataset, testTable
	cfg.Source, cfg.PartitionType, cfg.PartitionField = "gs://"+testBucket+"/logs/", "HOUR", "time"
	cfg.PollInterval, cfg.Lateness = 10*time.Millisecond, 10*time.Minute
	l, err := New(cfg, Options{Now: e.clock.Now, Storage: e.gcs, BigQuery: e.client(), ConfigPath: "/etc/barge/my conf.conf",
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	e.upload(hour13.Add(-2*time.Hour), 3, false) // hour 11 closed at 12:10
	res := e.cycle(l)
	if res.Jobs != 0 || res.Late != 1 {
		t.Fatalf("cycle: %+v, want the object reported late and not loaded", res)
	}
	// The warning gives the exact command to run.
	want := `run="barge replay -c '/etc/barge/my conf.conf' --loader bq --partition 2026112211"`
	if !strings.Contains(logs.String(), want) {
		t.Errorf("the late warning does not give the replay command %s:\n%s", want, logs.String())
	}
	// --partition takes the form with dashes too.
	out, err := l.Replay(context.Background(), ReplayOptions{Partitions: []string{"2026-11-22T11"}})
	if err != nil || len(out) != 1 || out[0].Rows != 3 {
		t.Fatalf("replay: %+v, %v", out, err)
	}
	if res := e.cycle(l); res.Late != 0 {
		t.Fatalf("after replay: %+v", res)
	}
}

func TestReplayRebuildsAPartition(t *testing.T) {
	for _, staged := range []bool{false, true} {
		name := "direct"
		if staged {
			name = "staged"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.createTable("time")
			l := e.loader(func(c *Config) {
				if staged {
					c.MaxObjectsPerJob = 2
				}
			})
			for i := 0; i < 5; i++ {
				e.upload(hour13.Add(time.Duration(i)*time.Minute), 4, false)
			}
			e.upload(hour13.Add(-time.Hour), 2, false)
			for i := 0; i < 3; i++ {
				e.cycle(l)
			}
			if got := e.rows(); got["2026112213"] != 20 {
				t.Fatalf("rows before = %v", got)
			}
			e.bqs.DeletePartitionRows(testDataset, testTable, "2026112213")
			var progress bytes.Buffer
			out, err := l.Replay(context.Background(), ReplayOptions{From: hour13, To: hour13.Add(time.Hour), Progress: &progress})
			if err != nil {
				t.Fatalf("replay: %v\n%s", err, progress.String())
			}
			if len(out) != 1 || out[0].Objects != 5 || out[0].Staged != staged {
				t.Fatalf("replay: %+v", out)
			}
			if got := e.rows(); got["2026112213"] != 20 || got["2026112212"] != 2 {
				t.Fatalf("rows after replay = %v: the partition must equal its archive, others untouched", got)
			}
			for seq, n := range e.seqs() {
				if n != 1 {
					t.Fatalf("seq %s present %d times", seq, n)
				}
			}
			if !strings.Contains(progress.String(), "[") || !strings.Contains(progress.String(), "done: 20 rows") {
				t.Fatalf("progress:\n%s", progress.String())
			}
			// Replay again: truncation makes it idempotent.
			if _, err := l.Replay(context.Background(), ReplayOptions{Partitions: []string{"2026112213"}}); err != nil {
				t.Fatal(err)
			}
			if got := e.rows()["2026112213"]; got != 20 {
				t.Fatalf("rows after a second replay = %d", got)
			}
			// The loader goes on appending new objects only.
			e.upload(hour13.Add(30*time.Minute), 1, false)
			if res := e.cycle(l); res.Objects != 1 {
				t.Fatalf("cycle after replay: %+v", res)
			}
		})
	}
}

func TestReplayDryRunChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	l := e.loader(nil)
	e.upload(hour13, 4, false)
	var progress bytes.Buffer
	out, err := l.Replay(context.Background(), ReplayOptions{Partitions: []string{"2026112213"}, DryRun: true, Progress: &progress})
	if err != nil || len(out) != 1 || out[0].Objects != 1 {
		t.Fatalf("dry run: %+v %v", out, err)
	}
	if len(e.bqs.Jobs()) != 0 {
		t.Fatal("a dry run submitted jobs")
	}
	if !strings.Contains(progress.String(), "would replay partition 2026112213: 1 objects") {
		t.Fatalf("dry run printed:\n%s", progress.String())
	}
}

func TestLedgerRebuild(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	l := e.loader(nil)
	for i := 0; i < 4; i++ {
		e.upload(hour13, 2, false)
	}
	e.cycle(l)
	e.upload(hour13, 2, false) // not loaded yet
	deleteLedgers(t, e)        // lose the ledger
	ctx := context.Background()
	fresh := e.loader(nil)
	res, err := fresh.RebuildLedger(ctx, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 1 || res.Committed != 4 || res.Uncommitted != 1 {
		t.Fatalf("rebuild: %+v", res)
	}
	if r := e.cycle(fresh); r.Objects != 1 {
		t.Fatalf("cycle after rebuild: %+v, want only the new object", r)
	}
	e.loadedOnce()
}

// A load into a missing table fails for a reason other than its data:
// the failure is recorded with BigQuery's message, nothing is quarantined
// or bisected, and once the table exists the objects commit.
func TestMissingTableRetriesTheObjects(t *testing.T) {
	e := newEnv(t)
	e.upload(hour13, 4, false)
	l := e.loader(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 2 {
		if res := e.cycle(l); res.Failed != 1 || res.Objects != 0 {
			t.Fatalf("cycle without the table: %+v, want one failed job", res)
		}
	}
	d, _, err := l.store.read(ctx, l.table, "2026112213")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Quarantined) != 0 || len(d.Groups) != 0 || d.Failures != 2 {
		t.Fatalf("ledger after two failures: quarantined %v, groups %v, failures %d", d.Quarantined, d.Groups, d.Failures)
	}
	if j := d.last(); j.State != stateFailed || !strings.Contains(j.Error, "Not found") {
		t.Fatalf("last job %+v: want failed with BigQuery's message", j)
	}
	e.createTable("time")
	if res := e.cycle(l); res.Objects != 1 || res.Rows != 4 {
		t.Fatalf("cycle with the table: %+v", res)
	}
	if got := e.rows()["2026112213"]; got != 4 {
		t.Fatalf("rows = %d, want 4", got)
	}
	if n, _ := l.store.used(ctx, l.table, hour13); n != 3 {
		t.Fatalf("%d jobs counted in the budget, want 3 (failed jobs count)", n)
	}
}

// fetch_schema reads the table's schema each cycle: a missing table is
// reported before anything is claimed.
func TestFetchSchema(t *testing.T) {
	e := newEnv(t)
	e.upload(hour13, 3, false)
	l := e.loader(func(c *Config) { c.FetchSchema = true })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := l.Cycle(ctx); err == nil || !strings.Contains(err.Error(), "fetch_schema: get table "+testDataset+"."+testTable) {
		t.Fatalf("cycle without the table: %v", err)
	}
	if n, _ := l.store.used(ctx, l.table, hour13); n != 0 {
		t.Fatalf("%d jobs counted before the table exists, want 0", n)
	}
	e.createTable("time")
	if res := e.cycle(l); res.Rows != 3 {
		t.Fatalf("cycle: %+v", res)
	}
	if len(l.schema) != 3 || l.schema[0].Name != "time" {
		t.Fatalf("schema used: %+v", l.schema)
	}
}

// A source prefix with the time in it: cycles list only the open
// partitions' prefixes, and the whole source once an hour, which is when
// an object that arrived in a closed partition is reported late.
func TestSourceTemplateListsOpenPartitions(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	// env.upload names objects logs/YYYYMMDDHH/NNNNNN.json.gz.
	l := e.loader(func(c *Config) { c.Source = "gs://" + testBucket + "/logs/%Y%m%d%H/" })
	e.upload(hour13, 5, false)
	e.upload(hour13.Add(-3*time.Hour), 2, false) // closed at 11:00
	if res := e.cycle(l); res.Objects != 1 || res.Rows != 5 || res.Late != 1 {
		t.Fatalf("first cycle (the whole source): %+v", res)
	}
	e.upload(hour13.Add(10*time.Minute), 3, false)
	e.upload(hour13.Add(-4*time.Hour), 2, false) // late, and not under an open prefix
	e.clock.Set(e.clock.Now().Add(5 * time.Minute))
	if res := e.cycle(l); res.Objects != 1 || res.Rows != 3 || res.Late != 0 {
		t.Fatalf("second cycle (open prefixes only): %+v", res)
	}
	e.clock.Set(e.clock.Now().Add(time.Hour))
	if res := e.cycle(l); res.Objects != 0 || res.Late != 2 {
		t.Fatalf("cycle an hour later (the whole source again): %+v", res)
	}
	if got := e.rows()["2026112213"]; got != 8 {
		t.Fatalf("rows = %d, want 8", got)
	}
}

// schema_update_options ALLOW_FIELD_ADDITION with schema_path: records
// with a new column load, and the table gains the column.
func TestSchemaUpdateAddsAColumn(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	schema := filepath.Join(t.TempDir(), "events.json")
	os.WriteFile(schema, []byte(`[
  {"name": "time", "type": "TIMESTAMP"},
  {"name": "seq", "type": "INTEGER"},
  {"name": "message", "type": "STRING"},
  {"name": "region", "type": "STRING", "mode": "NULLABLE"}
]`), 0o644)
	e.seq++
	e.uploadRaw(hour13, []byte(`{"time":"2026-11-22T13:00:00.000001Z","seq":1,"message":"m","region":"eu"}`+"\n"), 1)
	strict := e.loader(func(c *Config) { c.SchemaPath = schema })
	if res := e.cycle(strict); res.Failed != 1 || !strings.Contains(e.bqs.Jobs()[0].Err, "region") {
		t.Fatalf("without ALLOW_FIELD_ADDITION: %+v, %+v", res, e.bqs.Jobs())
	}
	e.seq++
	e.uploadRaw(hour13.Add(time.Minute), []byte(`{"time":"2026-11-22T13:01:00Z","seq":2,"message":"m","region":"us"}`+"\n"), 1)
	l := e.loader(func(c *Config) {
		c.SchemaPath = schema
		c.SchemaUpdateOptions = []string{"ALLOW_FIELD_ADDITION"}
	})
	if res := e.cycle(l); res.Rows != 1 {
		t.Fatalf("with ALLOW_FIELD_ADDITION: %+v", res)
	}
	md, err := e.client().Dataset(testDataset).Table(testTable).Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Schema) != 4 || md.Schema[3].Name != "region" {
		t.Fatalf("table schema after the load: %+v", md.Schema)
	}
	// The first object was quarantined by the strict loader. A replay
	// skips it; with RetryQuarantined it loads and is released.
	out, err := l.Replay(context.Background(), ReplayOptions{Partitions: []string{"2026112213"}})
	if err != nil || out[0].Rows != 1 || out[0].Quarantined != 1 {
		t.Fatalf("replay: %+v, %v", out, err)
	}
	out, err = l.Replay(context.Background(), ReplayOptions{Partitions: []string{"2026112213"}, RetryQuarantined: true})
	if err != nil || out[0].Rows != 2 || out[0].Quarantined != 0 {
		t.Fatalf("replay retrying the quarantined: %+v, %v", out, err)
	}
	d, _, err := l.store.read(context.Background(), l.table, "2026112213")
	if err != nil || len(d.Quarantined) != 0 {
		t.Fatalf("quarantine after the replay: %v, %v", d.Quarantined, err)
	}
	if got := e.rows()["2026112213"]; got != 2 {
		t.Fatalf("rows = %d, want 2", got)
	}
}

// When the pacing defers a partition the loader says so, once a day, and
// the deferred objects ride in a later, bigger job.
func TestBudgetWarning(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	var logs bytes.Buffer
	cfg := DefaultConfig()
	cfg.Name, cfg.Project, cfg.Dataset, cfg.Table = "bq", "proj", testDataset, testTable
	cfg.Source, cfg.PartitionType, cfg.PartitionField = "gs://"+testBucket+"/logs/", "HOUR", "time"
	cfg.PollInterval = 10 * time.Millisecond
	cfg.MaxJobsPerTablePerDay = 48 // a burst of one job, then one per half hour
	l, err := New(cfg, Options{Now: e.clock.Now, Storage: e.gcs, BigQuery: e.client(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	e.clock.Set(time.Date(2026, 11, 22, 0, 10, 0, 0, time.UTC))
	e.upload(e.clock.Now(), 2, false)
	e.upload(e.clock.Now().Add(-20*time.Minute), 3, false) // hour 23 of the day before, still open
	// Hour 23 sorts first and takes the one job; hour 0 waits.
	if res := e.cycle(l); res.Jobs != 1 || res.Rows != 3 || res.Deferred != 1 {
		t.Fatalf("first cycle: %+v, want one job and one partition deferred", res)
	}
	if n := strings.Count(logs.String(), "job budget paced"); n != 1 {
		t.Fatalf("%d pacing warnings:\n%s", n, logs.String())
	}
	e.upload(e.clock.Now(), 4, false)
	e.clock.Set(e.clock.Now().Add(time.Minute))
	if res := e.cycle(l); res.Jobs != 0 || res.Deferred != 1 {
		t.Fatalf("second cycle: %+v, want hour 0 deferred again", res)
	}
	if n := strings.Count(logs.String(), "job budget paced"); n != 1 {
		t.Fatalf("the warning was repeated: %d\n%s", n, logs.String())
	}
	e.clock.Set(time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC))
	if res := e.cycle(l); res.Jobs != 1 || res.Objects != 2 || res.Rows != 6 {
		t.Fatalf("an hour later: %+v, want one job carrying both objects of hour 0", res)
	}
}
