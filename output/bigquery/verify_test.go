package bigquery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/output/internal/bqtest"
)

// uploadClaiming writes an object of n good records whose barge-records
// says claim: an archive that disagrees with what loads.
func (e *env) uploadClaiming(at time.Time, n, claim int) string {
	e.t.Helper()
	e.seq++
	var raw bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&raw, `{"time":%q,"seq":%d,"message":"m"}`+"\n", at.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), e.seq*1000+i)
	}
	return e.uploadRaw(at, raw.Bytes(), claim)
}

func (e *env) status(l *Loader) string {
	e.t.Helper()
	st, err := l.Status(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	var out bytes.Buffer
	st.Print(&out)
	return out.String()
}

// statusLine is the table line of a partition.
func statusLine(status, partition string) string {
	for _, line := range strings.Split(status, "\n") {
		if strings.HasPrefix(line, partition+" ") {
			return line
		}
	}
	return ""
}

// A replay whose job succeeds with fewer rows than the objects hold fails,
// with both numbers, and status shows the partition as mismatch.
func TestReplayMismatchFails(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	l := e.loader(nil)
	e.upload(hour13, 4, false)
	e.uploadClaiming(hour13.Add(time.Minute), 3, 5) // says 5, holds 3
	var progress bytes.Buffer
	out, err := l.Replay(context.Background(), ReplayOptions{Partitions: []string{"2026112213"}, Progress: &progress})
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("replay err = %v, want a mismatch\n%s", err, progress.String())
	}
	if me.Expected != 9 || me.Got != 7 || me.By != byStatistics || me.Partition != "2026112213" {
		t.Fatalf("mismatch %+v, want expected 9 got 7 by job statistics", me)
	}
	if !strings.Contains(err.Error(), "the table holds 7 rows, the archive has 9") || !strings.Contains(err.Error(), "proj:logs.events") {
		t.Fatalf("message %q lacks the numbers or the table", err)
	}
	if len(out) != 1 || out[0].Err == nil {
		t.Fatalf("replay result %+v: want the partition failed", out)
	}
	if p := progress.String(); !strings.Contains(p, "0/1 replayed, 1 failed") || strings.Contains(p, "[####################]") {
		t.Fatalf("progress ends as if it succeeded:\n%s", p)
	}
	st := e.status(l)
	if line := statusLine(st, "2026112213"); !strings.HasSuffix(strings.TrimSpace(line), "mismatch") {
		t.Fatalf("status line %q, want state mismatch\n%s", line, st)
	}
	if !strings.Contains(st, "the table holds 7 rows, the archive has 9") || !strings.Contains(st, "barge replay") {
		t.Fatalf("status does not explain the mismatch:\n%s", st)
	}
}

// verify_rows checks every append: a good partition passes and records
// its check; an object that claims more rows than load fails the cycle.
func TestVerifyRowsAfterAppend(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	l := e.loader(func(c *Config) { c.VerifyRows = true })
	e.upload(hour13, 4, false)
	e.cycle(l)
	ctx := context.Background()
	d, _, err := l.store.read(ctx, l.table, "2026112213")
	if err != nil {
		t.Fatal(err)
	}
	if d.Check == nil || !d.Check.OK || d.Check.Expected != 4 || d.Check.Got != 4 {
		t.Fatalf("check after a good append: %+v", d.Check)
	}
	e.uploadClaiming(hour13.Add(time.Minute), 2, 3)
	res, err := l.Cycle(ctx)
	var me *MismatchError
	if !errors.As(err, &me) || me.Expected != 3 || me.Got != 2 {
		t.Fatalf("cycle err = %v, want mismatch 2 of 3", err)
	}
	if res.Failed != 1 || !strings.Contains(res.FirstError, "rows mismatch") {
		t.Fatalf("cycle result %+v: the mismatch is not counted", res)
	}
	if line := statusLine(e.status(l), "2026112213"); !strings.Contains(line, "mismatch") {
		t.Fatalf("status line %q, want mismatch", line)
	}
}

// Row counts the server does not report are unknown, never 0.
func TestUnknownRowsShowAsQuestionMark(t *testing.T) {
	if got := RowsText(0, true); got != "?" {
		t.Fatalf("RowsText(0, unknown) = %q", got)
	}
	if got := RowsText(12, true); got != "12+?" {
		t.Fatalf("RowsText(12, unknown) = %q", got)
	}
	if got := RowsText(0, false); got != "0" {
		t.Fatalf("RowsText(0, known) = %q", got)
	}
}

// A server that refuses a job at insert because of one object's data
// (HTTP 400, no job created), as the emulator does: the refusal is tried
// a few times, then the batch is bisected until the object is found and
// quarantined with the server's message; the good objects load.
func TestInsertRefusalIsBisectedAndQuarantined(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	l := e.loader(nil)
	var names []string
	for i := 0; i < 6; i++ {
		names = append(names, e.upload(hour13.Add(time.Duration(i)*time.Minute), 3, false))
	}
	bad := "gs://" + testBucket + "/" + names[1]
	e.bqs.RefuseInserts(func(uris []string) string {
		for _, u := range uris {
			if u == bad {
				return `failed to import from gcs: strconv.ParseInt: parsing "abc": invalid syntax`
			}
		}
		return ""
	})
	for i := 0; i < 4; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		l.Cycle(ctx)
		cancel()
	}
	if got := e.rows()["2026112213"]; got != 15 {
		t.Fatalf("rows = %d, want the 15 of the five good objects", got)
	}
	d, _, err := l.store.read(context.Background(), l.table, "2026112213")
	if err != nil {
		t.Fatal(err)
	}
	q, ok := d.Quarantined[names[1]]
	if len(d.Quarantined) != 1 || !ok {
		t.Fatalf("quarantined %v, want only %s", d.Quarantined, names[1])
	}
	if !strings.Contains(strings.Join(q.Errors, " "), "strconv.ParseInt") {
		t.Fatalf("quarantine errors %q lack the server's message", q.Errors)
	}
	if j := d.pending(); j != nil {
		t.Fatalf("a claim is still pending: %+v", j)
	}
	st := e.status(l)
	if !strings.Contains(st, "quarantined "+bad) || !strings.Contains(st, "strconv.ParseInt") {
		t.Fatalf("status does not explain the quarantine:\n%s", st)
	}
}

// When every insert is refused (the request is wrong, not the data),
// nothing is quarantined: the objects wait, and the refusal is in status.
func TestInsertRefusedForAllIsNotQuarantined(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	l := e.loader(nil)
	for i := 0; i < 2; i++ {
		e.upload(hour13.Add(time.Duration(i)*time.Minute), 3, false)
	}
	e.bqs.RefuseInserts(func([]string) string { return "Invalid value for sourceFormat" })
	for i := 0; i < 2; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		res, err := l.Cycle(ctx)
		cancel()
		if err == nil && res.Failed == 0 {
			t.Fatalf("cycle %d: %+v, no failure reported", i, res)
		}
	}
	d, _, err := l.store.read(context.Background(), l.table, "2026112213")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Quarantined) != 0 {
		t.Fatalf("quarantined %v although the server refuses every job", d.Quarantined)
	}
	if st := e.status(l); !strings.Contains(st, "Invalid value for sourceFormat") {
		t.Fatalf("status does not show the refusal:\n%s", st)
	}
	e.bqs.RefuseInserts(nil)
	for i := 0; i < 3; i++ {
		e.cycle(l)
	}
	if got := e.rows()["2026112213"]; got != 6 {
		t.Fatalf("rows = %d after the server accepts again, want 6", got)
	}
}

// A missing dataset is not the data's fault: nothing is quarantined or
// bisected, and status shows the failure with its time in a line that
// says what to check.
func TestMissingDatasetIsExplained(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	l := e.loader(func(c *Config) { c.Dataset = "logz" })
	e.upload(hour13, 3, false)
	ctx := context.Background()
	res, _ := l.Cycle(ctx)
	if res.Failed != 1 || !strings.Contains(res.FirstError, `dataset "logz" not found`) {
		t.Fatalf("cycle: %+v: want one failed job and its error", res)
	}
	d, _, err := l.store.read(ctx, l.table, "2026112213")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Quarantined) != 0 || len(d.Groups) != 0 {
		t.Fatalf("a missing dataset quarantined or bisected objects: %v %v", d.Quarantined, d.Groups)
	}
	st := e.status(l)
	want := "last error in 2026112213: " + hour13.Add(30*time.Minute).Format(time.RFC3339) + `: dataset "logz" not found in project proj: check <loader bq> dataset`
	if !strings.Contains(st, want) {
		t.Fatalf("status lacks %q:\n%s", want, st)
	}
}

// An insert refused for another reason than the data (here 403) keeps
// the claim pending with its last error, attempt count and time; after
// maxClaimAttempts the claim is released, never retried forever.
func TestRefusedClaimIsReleasedAfterItsAttempts(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	l := e.loader(nil)
	e.upload(hour13, 3, false)
	e.bqs.FailInserts(maxClaimAttempts, 403)
	ctx := context.Background()
	for i := 1; i <= maxClaimAttempts; i++ {
		res, err := l.Cycle(ctx)
		if err == nil || res.Failed != 1 || res.FirstError == "" {
			t.Fatalf("cycle %d: %+v, %v: want one failed job and its error", i, res, err)
		}
		d, _, rerr := l.store.read(ctx, l.table, "2026112213")
		if rerr != nil {
			t.Fatal(rerr)
		}
		j := d.last()
		if i < maxClaimAttempts && (j.State != statePending || j.Attempts != i || j.ErrorAt.IsZero() || !strings.Contains(j.Error, "access denied")) {
			t.Fatalf("cycle %d: claim %+v, want pending with %d attempts, the error and its time", i, j, i)
		}
		if i == maxClaimAttempts && j.State != stateFailed {
			t.Fatalf("after %d refusals the claim is %s, want released (failed)", i, j.State)
		}
		if len(d.Quarantined) != 0 || len(d.Groups) != 0 {
			t.Fatalf("a refused insert quarantined or bisected objects: %v %v", d.Quarantined, d.Groups)
		}
		if i == 2 {
			if st := e.status(l); !strings.Contains(st, "(insert tried 2 times)") {
				t.Fatalf("status does not show the pending claim's error:\n%s", st)
			}
		}
	}
	e.cycle(l)
	if got := e.rows()["2026112213"]; got != 3 {
		t.Fatalf("rows = %d once inserts are accepted, want 3", got)
	}
}

// Ledger rebuild over a job listing without configurations fetches each
// job by id and loads nothing twice.
func TestLedgerRebuildFetchesJobsByID(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	l := e.loader(nil)
	for i := 0; i < 3; i++ {
		e.upload(hour13.Add(time.Duration(i)*time.Minute), 2, false)
		e.cycle(l)
	}
	deleteLedgers(t, e)
	e.bqs.ListWithoutConfiguration(true)
	fresh := e.loader(nil)
	ctx := context.Background()
	res, err := fresh.RebuildLedger(ctx, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Found != 3 || res.Read != 3 || res.Committed != 3 || res.Uncommitted != 0 || len(res.Unreadable) != 0 {
		t.Fatalf("rebuild: %+v", res)
	}
	if r := e.cycle(fresh); r.Jobs != 0 {
		t.Fatalf("cycle after rebuild: %+v, want nothing loaded again", r)
	}
	e.loadedOnce()
}

// loadedOnce fails the test if a seq is in the table more than once.
func (e *env) loadedOnce() {
	e.t.Helper()
	for seq, n := range e.seqs() {
		if n != 1 {
			e.t.Fatalf("seq %s loaded %d times", seq, n)
		}
	}
}

// A barge job that cannot be read makes rebuild refuse, naming it, unless
// --force-unverified.
func TestLedgerRebuildRefusesUnreadableJobs(t *testing.T) {
	e := newEnvWith(t, bqtest.Options{Project: "proj"})
	e.createTable("time")
	l := e.loader(nil)
	e.upload(hour13, 2, false)
	e.bqs.HoldJobs(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Cycle(ctx) // waits for the held job until cancelled
	}()
	if err := e.bqs.WaitJobs(1, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	deleteLedgers(t, e)
	fresh := e.loader(nil)
	res, err := fresh.RebuildLedger(context.Background(), false, false)
	var ue *UnreadableJobsError
	if !errors.As(err, &ue) || len(ue.Jobs) != 1 || !strings.Contains(ue.Jobs[0], "still running") {
		t.Fatalf("rebuild err = %v, want one unreadable (running) job", err)
	}
	if !strings.Contains(err.Error(), "--force-unverified") || res.Written != 0 {
		t.Fatalf("rebuild %+v, %v: wrote ledgers or does not name --force-unverified", res, err)
	}
	res, err = fresh.RebuildLedger(context.Background(), false, true)
	if err != nil || res.Written != 1 || res.Uncommitted != 1 {
		t.Fatalf("rebuild --force-unverified: %+v, %v", res, err)
	}
	e.bqs.HoldJobs(false)
}

func deleteLedgers(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	it := e.gcs.Bucket(testBucket).Objects(ctx, nil)
	for {
		a, err := it.Next()
		if err != nil {
			break
		}
		if strings.HasPrefix(a.Name, "_barge/ledger/") && !strings.Contains(a.Name, "_quota") {
			if err := e.gcs.Bucket(testBucket).Object(a.Name).Delete(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// load status warns when archived objects older than load_interval have
// no ledger (a lost one), naming barge ledger rebuild.
func TestStatusWarnsOfALostLedger(t *testing.T) {
	e := newEnv(t)
	e.createTable("time")
	l := e.loader(nil)
	e.upload(hour13, 2, false)
	e.cycle(l)
	if st := e.status(l); strings.Contains(st, "no ledger") {
		t.Fatalf("status warns of a ledger that exists:\n%s", st)
	}
	deleteLedgers(t, e)
	// The objects' creation times are the GCS server's (the real clock).
	e.clock.Set(time.Now().Add(10 * time.Minute))
	st := e.status(l)
	if line := statusLine(st, "2026112213"); !strings.Contains(line, "no ledger") {
		t.Fatalf("status line %q, want state no ledger\n%s", line, st)
	}
	if !strings.Contains(st, "have archived objects but no ledger") || !strings.Contains(st, "barge ledger rebuild -c FILE --loader bq") {
		t.Fatalf("status does not name barge ledger rebuild:\n%s", st)
	}
}
