package bqtest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"
)

func TestReusedJobIDIs409(t *testing.T) {
	e := newEnv(t)
	e.createTable()
	uri := e.put("a.json", ndjson(h13, h14), "")
	mustSucceed(t, e.load(tableID, "barge_1", []string{uri}))
	before := e.srv.Rows(dsID, tableID)

	_, err := e.loader(tableID, "barge_1", []string{uri}).Run(ctx(t))
	if code, reason := apiCode(err); code != 409 || reason != "duplicate" || !strings.Contains(err.Error(), "Already Exists: Job proj:US.barge_1") {
		t.Fatalf("err %v", err)
	}
	if after := e.srv.Rows(dsID, tableID); len(after) != len(before) {
		t.Fatalf("rows %d -> %d after a reused job id", len(before), len(after))
	}
	if n, a := len(e.srv.Jobs()), e.srv.InsertAttempts(); n != 1 || a != 2 {
		t.Fatalf("%d jobs, %d attempts", n, a)
	}
	// A copy with the id of a load is a reuse too.
	_, err = e.bq.Dataset(dsID).Table("other").CopierFrom(e.bq.Dataset(dsID).Table(tableID)).Run(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	c := e.bq.Dataset(dsID).Table("other2").CopierFrom(e.bq.Dataset(dsID).Table(tableID))
	c.JobID = "barge_1"
	if _, err := c.Run(ctx(t)); err == nil {
		t.Fatal("copy with a used job id ran")
	}

	job, err := e.bq.JobFromIDLocation(ctx(t), "barge_1", "US")
	if err != nil {
		t.Fatal(err)
	}
	st := job.LastStatus()
	if !st.Done() || st.Err() != nil || st.Statistics.Details.(*bigquery.LoadStatistics).OutputRows != 2 {
		t.Fatalf("status %+v", st)
	}
	cfg, err := job.Config()
	if lc, ok := cfg.(*bigquery.LoadConfig); err != nil || !ok || lc.Dst.TableID != tableID || lc.Src.(*bigquery.GCSReference).URIs[0] != uri {
		t.Fatalf("config %+v, %v", cfg, err)
	}
	if _, err := e.bq.JobFromIDLocation(ctx(t), "barge_1", "EU"); err == nil {
		t.Fatal("job found in another location")
	} else if code, _ := apiCode(err); code != 404 {
		t.Fatalf("err %v", err)
	}
}

func TestHoldJobs(t *testing.T) {
	e := newEnv(t)
	e.createTable()
	uri := e.put("a.json", ndjson(h13), "")
	e.srv.HoldJobs(true)
	job, err := e.loader(tableID, "barge_held", []string{uri}).Run(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.WaitJobs(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	again, err := e.bq.JobFromIDLocation(ctx(t), "barge_held", "US")
	if err != nil {
		t.Fatal(err)
	}
	st, err := again.Status(ctx(t))
	if err != nil || st.State != bigquery.Running {
		t.Fatalf("status %+v, %v", st, err)
	}
	if n := len(e.srv.Rows(dsID, tableID)); n != 0 {
		t.Fatalf("%d rows while held", n)
	}
	e.srv.HoldJobs(false)
	if err := e.srv.WaitDone(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err = job.Wait(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, st)
	if n := len(e.srv.Rows(dsID, tableID)); n != 1 {
		t.Fatalf("%d rows after release", n)
	}
}

func TestFailInserts(t *testing.T) {
	e := newEnv(t)
	e.createTable()
	uri := e.put("a.json", ndjson(h13), "")

	t.Run("503 is retried by the client", func(t *testing.T) {
		e.srv.FailInserts(1, 503)
		before := e.srv.InsertAttempts()
		start := time.Now()
		job, err := e.loader(tableID, "barge_503", []string{uri}).Run(ctx(t))
		if err != nil {
			t.Fatalf("run after one 503: %v", err)
		}
		if n := e.srv.InsertAttempts() - before; n != 2 {
			t.Fatalf("%d attempts, want 2 (one 503, one retry)", n)
		}
		t.Logf("the client retried after %v", time.Since(start).Round(time.Millisecond))
		st, err := job.Wait(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		mustSucceed(t, st)
	})
	t.Run("400 is returned", func(t *testing.T) {
		e.srv.FailInserts(1, 400)
		jobs := len(e.srv.Jobs())
		_, err := e.loader(tableID, "barge_400", []string{uri}).Run(ctx(t))
		if code, _ := apiCode(err); code != 400 || !strings.Contains(err.Error(), "injected") {
			t.Fatalf("err %v", err)
		}
		if len(e.srv.Jobs()) != jobs {
			t.Fatal("an injected failure created a job")
		}
		// The next insert goes through.
		st := e.load(tableID, "barge_400", []string{uri})
		mustSucceed(t, st)
	})
}

func TestJobsList(t *testing.T) {
	e := newEnv(t)
	e.createTable()
	uri := e.put("a.json", ndjson(h13), "")
	mustSucceed(t, e.load(tableID, "barge_a", []string{uri}))
	mustFail(t, e.load(tableID, "barge_b", []string{"gs://archive/missing.json"}), "Not found")
	it := e.bq.Jobs(ctx(t))
	it.AllUsers = true
	it.State = bigquery.Done
	var ids []string
	for {
		j, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := j.Config(); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID())
	}
	if strings.Join(ids, ",") != "barge_b,barge_a" {
		t.Fatalf("listed %v, want newest first", ids)
	}
}

func TestJobLocationMustMatchDataset(t *testing.T) {
	e := newEnv(t)
	e.createTable()
	uri := e.put("a.json", ndjson(h13), "")
	st := e.load(tableID, "barge_eu", []string{uri}, func(_ *bigquery.GCSReference, l *bigquery.Loader) { l.Location = "EU" })
	mustFail(t, st, "was not found in location EU")
}
