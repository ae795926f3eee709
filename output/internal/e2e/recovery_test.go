package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/iterator"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
	"github.com/barge-dev/barge/output/internal/bqemu"
	"github.com/barge-dev/barge/output/objkey"
)

// The recovery paths of the loader (ledger rebuild, replay, the
// quarantine of an object BigQuery refuses, the first failure to reach
// BigQuery) against github.com/goccy/bigquery-emulator and fake-gcs-server,
// driving the real barge binary. The archive is written directly, as
// barge's gcs output writes it (plain NDJSON with barge's metadata), so
// that every object and record is known.

// recoveryEnv is fake-gcs-server with the bucket archive and, unless
// the test reaches no BigQuery, an emulator reading from it, with the
// table logs.events.
type recoveryEnv struct {
	gcs *gcsServer
	em  *bqemu.Emulator
	bq  *bq.Client
	env []string
	// hour is the UTC hour the records are in: the current one, so that
	// the loader (on the real clock) holds the partition open.
	hour time.Time
}

const recoveryBucket = "archive"

func newRecoveryEnv(t *testing.T, emulator bool) *recoveryEnv {
	t.Helper()
	e := &recoveryEnv{gcs: startGCS(t), hour: time.Now().UTC().Truncate(time.Hour)}
	e.gcs.fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: recoveryBucket})
	e.env = []string{"STORAGE_EMULATOR_HOST=" + strings.TrimPrefix(e.gcs.fake.URL(), "http://")}
	if emulator {
		e.em = bqemu.Start(t, bqemu.Options{Project: "proj", StorageEmulatorHost: e.gcs.fake.URL()})
		e.bq = e.em.Client(t)
		createEventsTable(t, e.bq)
	}
	return e
}

// partition is the HOUR partition id of the records.
func (e *recoveryEnv) partition() string { return e.hour.Format("2006010215") }

// config is a loader of gs://archive/logs/ into proj:logs.events at
// endpoint. lateness 24h keeps the partition open whenever the test runs.
func (e *recoveryEnv) config(endpoint, extra string) string {
	return fmt.Sprintf(`<loader bq>
  @type bigquery
  project proj
  dataset logs
  table events
  source gs://%s/logs/
  partition_type HOUR
  partition_field time
  endpoint %s
  poll_interval 100ms
  load_interval 1s
  lateness 24h
%s</loader>
`, recoveryBucket, endpoint, extra)
}

// putObject writes the records seq from..to-1 as one object of the
// partition, with the metadata barge's gcs output gives it, and returns
// its name. The record with seq bad (if in range) has "seq": "abc".
func (e *recoveryEnv) putObject(t *testing.T, index, from, to, bad int) string {
	t.Helper()
	name := fmt.Sprintf("logs/%s/%s_%d.json", e.hour.Format("20060102"), e.partition(), index)
	var b bytes.Buffer
	var first, last time.Time
	for seq := from; seq < to; seq++ {
		ts := e.hour.Add(time.Duration(seq) * time.Second)
		if seq == from {
			first = ts
		}
		last = ts
		s := strconv.Itoa(seq)
		if seq == bad {
			s = `"abc"`
		}
		fmt.Fprintf(&b, `{"time":%q,"seq":%s,"msg":"record %d","level":"info"}`+"\n", ts.Format("2006-01-02T15:04:05.000000Z"), s, seq)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := e.gcs.read.Bucket(recoveryBucket).Object(name).NewWriter(ctx)
	w.ContentType = "application/json"
	w.Metadata = map[string]string{
		objkey.MetaChunkID:  fmt.Sprintf("%032x", index+1),
		objkey.MetaRecords:  strconv.Itoa(to - from),
		objkey.MetaFirst:    first.Format(time.RFC3339Nano),
		objkey.MetaLast:     last.Format(time.RFC3339Nano),
		objkey.MetaTimeKey:  e.hour.Format(time.RFC3339),
		objkey.MetaHost:     "e2e",
		objkey.MetaVersion:  "test",
		objkey.MetaFormat:   "json",
		objkey.MetaCompress: "none",
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		t.Fatalf("write gs://%s/%s: %v", recoveryBucket, name, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("write gs://%s/%s: %v", recoveryBucket, name, err)
	}
	return name
}

// putObjects writes n objects of per records each, seqs from 0.
func (e *recoveryEnv) putObjects(t *testing.T, n, per int) []string {
	t.Helper()
	var names []string
	for i := range n {
		names = append(names, e.putObject(t, i, i*per, (i+1)*per, -1))
	}
	return names
}

// run starts a barge loader command in a new directory.
func (e *recoveryEnv) run(t *testing.T, config string, command ...string) *bargetest.Proc {
	t.Helper()
	return bargetest.StartCommand(t, bargeBin, t.TempDir(), config, e.env, command...)
}

// deleteLedger deletes every object under _barge/ledger/ and returns how
// many there were.
func (e *recoveryEnv) deleteLedger(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := e.gcs.read.Bucket(recoveryBucket)
	it := b.Objects(ctx, &storage.Query{Prefix: "_barge/ledger/"})
	n := 0
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Object(a.Name).Delete(ctx); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// statusLine returns the line of partition in `barge load status`'s
// table, split into fields by the header's column names ("LAST JOB" is
// one column).
func statusLine(t *testing.T, out, partition string) map[string]string {
	t.Helper()
	var header []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "PARTITION" {
			header = strings.Fields(strings.Replace(line, "LAST JOB", "LAST_JOB", 1))
			continue
		}
		if header == nil || len(f) == 0 || f[0] != partition {
			continue
		}
		if len(f) != len(header) {
			t.Fatalf("status line of partition %s has %d fields, the header %d:\n%s", partition, len(f), len(header), out)
		}
		m := map[string]string{"line": line}
		for i, h := range header {
			m[h] = f[i]
		}
		return m
	}
	t.Fatalf("barge load status has no line for partition %s:\n%s", partition, out)
	return nil
}

// TestRebuildOverListingWithoutConfigurations: the emulator's jobs.list
// gives barge's jobs without their configuration (no source URIs, no
// destination). A ledger rebuild must still find the objects committed,
// so that the next load commits nothing again.
//
// The archive is loaded in two jobs, as it grows between two cycles: a
// load after the ledger is lost then batches all three objects, a job id
// BigQuery has not seen, so nothing but the ledger stops it from loading
// them again. (The same batch would get the id of the first job, which
// BigQuery knows: the loader adopts it and loads nothing.)
func TestRebuildOverListingWithoutConfigurations(t *testing.T) {
	e := newRecoveryEnv(t, true)
	const objects, per = 3, 50
	cfg := e.config(e.em.URL, "")
	for i, upTo := range []int{2, objects} {
		for k := i * 2; k < upTo; k++ {
			e.putObject(t, k, k*per, (k+1)*per, -1)
		}
		ld := e.run(t, cfg, "load", "--once")
		if code := ld.Wait(120 * time.Second); code != 0 || !strings.Contains(ld.Stdout(), "loader bq: 1 jobs") {
			t.Fatalf("setup: load --once %d: exit %d, want 0 and one job:\n%s", i+1, code, ld.Stdout())
		}
		if n := countRows(t, e.bq); n != int64(upTo*per) {
			t.Fatalf("setup: load --once %d left %d rows in the table, want %d:\n%s", i+1, n, upTo*per, ld.Stdout())
		}
	}
	if n := e.deleteLedger(t); n == 0 {
		t.Fatal("setup: the loads wrote no ledger objects under _barge/ledger/")
	}

	rb := e.run(t, cfg, "ledger", "rebuild")
	code := rb.Wait(120 * time.Second)
	out := rb.Stdout()
	if code != 0 {
		t.Errorf("ledger rebuild exit %d, want 0:\n%s", code, out)
	}
	m := regexp.MustCompile(`(\d+) barge jobs found, (\d+) read`).FindStringSubmatch(out)
	switch {
	case m == nil:
		t.Errorf("ledger rebuild printed no \"N barge jobs found, N read\":\n%s", out)
	case m[1] == "0" || m[1] != m[2]:
		t.Errorf("ledger rebuild found %s barge jobs and read %s, want at least one found and every one read:\n%s", m[1], m[2], out)
	}
	if want := fmt.Sprintf("%d objects committed", objects); !strings.Contains(out, want) {
		t.Errorf("ledger rebuild does not say %q:\n%s", want, out)
	}

	again := e.run(t, cfg, "load", "--once")
	code = again.Wait(120 * time.Second)
	if n := countRows(t, e.bq); n != objects*per {
		t.Fatalf("load --once after the ledger rebuild: the table has %d rows, want %d (the rebuilt ledger did not hold the loaded objects, so they loaded again); load printed:\n%s",
			n, objects*per, again.Stdout())
	}
	if code != 0 || !strings.Contains(again.Stdout(), "loader bq: 0 jobs") {
		t.Fatalf("load --once after the ledger rebuild: exit %d, want 0 and \"loader bq: 0 jobs\":\n%s", code, again.Stdout())
	}
}

// TestReplayWhoseRowsDoNotArriveFails: the emulator takes a replay's
// WRITE_TRUNCATE load into events$PARTITION and reports success, but its
// rows go to a table literally named so: the partition of events stays
// empty. The replay must count the partition, fail, and leave the
// mismatch in the ledger for barge load status.
func TestReplayWhoseRowsDoNotArriveFails(t *testing.T) {
	e := newRecoveryEnv(t, true)
	const objects, per = 3, 50
	e.putObjects(t, objects, per)
	cfg := e.config(e.em.URL, "")
	p := e.partition()
	// The emulator takes a load into events$PARTITION only when a table
	// of that literal name exists (else it refuses the insert: "not
	// found"); it then loads the rows there and reports the job done.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	md, err := e.bq.Dataset("logs").Table("events").Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	literal := e.bq.Dataset("logs").Table("events$" + p)
	if err := literal.Create(ctx, &bq.TableMetadata{Schema: md.Schema, TimePartitioning: md.TimePartitioning}); err != nil {
		t.Fatalf("setup: create the literal table events$%s: %v", p, err)
	}

	rp := e.run(t, cfg, "replay", "--partition", p)
	code := rp.Wait(120 * time.Second)
	out, all := rp.Stdout(), rp.Stdout()+rp.LogText()
	if n := countRows(t, e.bq); n != 0 {
		t.Fatalf("setup: after the replay events holds %d rows; the test expects the emulator to put none in its partition", n)
	}
	if n := countQuery(t, e.bq, "SELECT COUNT(*) FROM `proj.logs.events$"+p+"`"); n != objects*per {
		t.Logf("the emulator put %d rows (not %d) into the literal table events$%s", n, objects*per, p)
	}
	if code != 1 {
		t.Errorf("replay of partition %s, whose rows are not in the table: exit %d, want 1:\n%s", p, code, out)
	}
	if want := "0 of 1 partitions replayed, 1 failed"; !strings.Contains(out, want) {
		t.Errorf("replay stdout does not say %q:\n%s", want, out)
	}
	for _, want := range []string{"rows mismatch", fmt.Sprintf("the table holds 0 rows, the archive has %d", objects*per)} {
		if !strings.Contains(all, want) {
			t.Errorf("replay output does not say %q; stdout:\n%s\nstderr:\n%s", want, out, rp.LogText())
		}
	}

	st := e.run(t, cfg, "load", "status")
	if code := st.Wait(60 * time.Second); code != 0 {
		t.Fatalf("load status exit %d:\n%s", code, st.Stdout())
	}
	line := statusLine(t, st.Stdout(), p)
	if line["STATE"] != "mismatch" || strings.Contains(line["line"], "done") {
		t.Fatalf("load status shows partition %s in state %q, want \"mismatch\" (and never \"done\"):\n%s", p, line["STATE"], st.Stdout())
	}
}

// TestInsertRefusalQuarantinesBadObject: one of four objects has a record
// the emulator cannot load ("seq": "abc"), and the emulator refuses the
// whole job at jobs.insert (HTTP 400, not a failed job). The loader must
// find and quarantine that object, load the other three, and say so in
// barge load status.
func TestInsertRefusalQuarantinesBadObject(t *testing.T) {
	e := newRecoveryEnv(t, true)
	const per = 50
	// The bad object is the first by name, so the first in every job's
	// source URIs: a refused insert is not atomic in the emulator, the
	// rows of the URIs before the bad one stay loaded (real BigQuery
	// loads nothing of a failed job).
	var bad string
	for i := range 4 {
		badSeq := -1
		if i == 0 {
			badSeq = i*per + 7
		}
		name := e.putObject(t, i, i*per, (i+1)*per, badSeq)
		if badSeq >= 0 {
			bad = name
		}
	}
	const good = 3 * per
	badURI := "gs://" + recoveryBucket + "/" + bad
	cfg := e.config(e.em.URL, "")
	p := e.partition()

	ld := e.run(t, cfg, "load")
	// The loader retries a refused insert, then bisects the batch, down
	// to the object BigQuery refuses; a loader that does neither logs
	// something else until the timeout.
	start := time.Now()
	quarantined := ld.WaitLog(120*time.Second, func(l map[string]any) bool {
		return l["msg"] == "object quarantined: BigQuery refused its data" ||
			time.Since(start) > 110*time.Second && l["msg"] != nil // give up with a clear message below
	})
	if quarantined["msg"] != "object quarantined: BigQuery refused its data" {
		t.Fatalf("after %v the loader has quarantined nothing (want \"object quarantined: BigQuery refused its data\" for %s); the partition stays pending",
			time.Since(start).Round(time.Second), badURI)
	}
	if quarantined["object"] != badURI {
		t.Fatalf("quarantined object %v, want %s", quarantined["object"], badURI)
	}
	// Each commit is followed by a count, until the good rows are all
	// there.
	got := countRows(t, e.bq)
	for k := 1; got < good; k++ {
		ld.WaitNth(60*time.Second, k, msgIs("committed job"))
		got = countRows(t, e.bq)
	}
	if got != good {
		t.Fatalf("table has %d rows, want %d (the records of the three good objects)", got, good)
	}
	if code := ld.Stop(30 * time.Second); code != 0 {
		t.Fatalf("load exit code %d", code)
	}

	st := e.run(t, cfg, "load", "status")
	if code := st.Wait(60 * time.Second); code != 0 {
		t.Fatalf("load status exit %d:\n%s", code, st.Stdout())
	}
	out := st.Stdout()
	if line := statusLine(t, out, p); line["QUARANTINED"] != "1" {
		t.Fatalf("load status shows %s quarantined objects in partition %s, want 1:\n%s", line["QUARANTINED"], p, out)
	}
	if !strings.Contains(out, "strconv.ParseInt") {
		t.Fatalf("load status does not give BigQuery's reason (strconv.ParseInt) for the quarantined object:\n%s", out)
	}
}

// TestFirstBigQueryFailureLoggedAtOnce: BigQuery cannot be reached (a
// closed port). The client retries until request_timeout (15s here); the
// loader must say so at the first failure, while it is still retrying,
// not only once the timeout ran out.
func TestFirstBigQueryFailureLoggedAtOnce(t *testing.T) {
	e := newRecoveryEnv(t, false)
	e.putObjects(t, 1, 10)
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", freePort(t)) // closed: nothing listens
	cfg := e.config(endpoint, "  request_timeout 15s\n")

	start := time.Now()
	ld := e.run(t, cfg, "load", "--once")
	const want = "cannot reach BigQuery: the client retries until request_timeout"
	// The first warning or error of the run must be this one.
	line := ld.WaitLog(120*time.Second, func(l map[string]any) bool {
		return l["msg"] == want || l["level"] == "WARN" || l["level"] == "ERROR"
	})
	seen := time.Since(start).Round(100 * time.Millisecond)
	alive := running(ld.Pid())
	if line["msg"] != want {
		t.Fatalf("the first warning or error of the run, after %v (process still running: %v), is %q (err %v), want %q while the client is still retrying",
			seen, alive, line["msg"], line["err"], want)
	}
	if !alive {
		t.Fatalf("%q was logged after %v, but only once the process had ended", want, seen)
	}
	if line["endpoint"] != endpoint || line["table"] != "proj:logs.events" {
		t.Fatalf("%q has endpoint %v and table %v, want %s and proj:logs.events", want, line["endpoint"], line["table"], endpoint)
	}
	code := ld.Wait(120 * time.Second)
	out := ld.Stdout()
	if code != 1 {
		t.Fatalf("load --once exit %d, want 1:\n%s", code, out)
	}
	for _, s := range []string{"1 jobs failed", "first error:"} {
		if !strings.Contains(out, s) {
			t.Fatalf("load --once summary does not say %q:\n%s", s, out)
		}
	}
}

// countQuery runs a query whose one row is one integer.
func countQuery(t *testing.T, c *bq.Client, sql string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it, err := c.Query(sql).Read(ctx)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var row []bq.Value
	if err := it.Next(&row); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	n, _ := row[0].(int64)
	return n
}

// running reports whether the process pid (a child not waited for yet)
// has not exited: it is in /proc and not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	return b[i+2] != 'Z' && b[i+2] != 'X'
}
