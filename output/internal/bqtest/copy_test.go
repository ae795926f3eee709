package bqtest

import (
	"maps"
	"testing"

	"cloud.google.com/go/bigquery"
)

func TestCopyStagingOverPartition(t *testing.T) {
	e := newEnv(t)
	e.createTable()
	mustSucceed(t, e.load(tableID, "job_main", []string{e.put("main.json", ndjson(h13, h13, h13, h14), "")}))
	md, err := e.bq.Dataset(dsID).Table(tableID).Metadata(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	staging := e.bq.Dataset(dsID).Table("staging")
	if err := staging.Create(ctx(t), &bigquery.TableMetadata{Schema: md.Schema, TimePartitioning: md.TimePartitioning}); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, e.load("staging", "job_stage", []string{e.put("stage.json", ndjson(h13, h13), "")}))

	run := func(id string, dest string) *bigquery.JobStatus {
		t.Helper()
		c := e.bq.Dataset(dsID).Table(dest).CopierFrom(staging)
		c.JobID = id
		c.Location = "US"
		c.WriteDisposition = bigquery.WriteTruncate
		job, err := c.Run(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		st, err := job.Wait(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := run("job_copy", tableID+"$2026112213")
	mustSucceed(t, st)
	if got := e.countByPartition(tableID); !maps.Equal(got, map[string]int{"2026112213": 2, "2026112214": 1}) {
		t.Fatalf("rows %v", got)
	}
	j := e.srv.Jobs()[2]
	if j.Type != "copy" || j.Destination != "logs.events$2026112213" || j.SourceTables[0] != "logs.staging" || j.OutputRows != 2 || j.WriteDisposition != "WRITE_TRUNCATE" {
		t.Fatalf("job %+v", j)
	}

	t.Run("rows of another partition fail the copy", func(t *testing.T) {
		mustFail(t, run("job_copy14", tableID+"$2026112214"), "destination partition 2026112214")
		if got := e.countByPartition(tableID); !maps.Equal(got, map[string]int{"2026112213": 2, "2026112214": 1}) {
			t.Fatalf("rows %v", got)
		}
	})
	t.Run("source not partitioned like the destination", func(t *testing.T) {
		flat := e.bq.Dataset(dsID).Table("flat")
		if err := flat.Create(ctx(t), &bigquery.TableMetadata{Schema: md.Schema}); err != nil {
			t.Fatal(err)
		}
		c := e.bq.Dataset(dsID).Table(tableID + "$2026112213").CopierFrom(flat)
		c.WriteDisposition = bigquery.WriteTruncate
		job, err := c.Run(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		st, err := job.Wait(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		mustFail(t, st, "Incompatible table partitioning specification")
	})
	t.Run("missing source", func(t *testing.T) {
		c := e.bq.Dataset(dsID).Table(tableID).CopierFrom(e.bq.Dataset(dsID).Table("nope"))
		job, err := c.Run(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		st, err := job.Wait(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		mustFail(t, st, "Not found: Table proj:logs.nope")
	})
}
