package bigquery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	bq "cloud.google.com/go/bigquery"
)

// ReplayOptions select the partitions barge replay rebuilds.
type ReplayOptions struct {
	// From and To bound the partitions by their start time: [From, To).
	From, To time.Time
	// Partitions, when set, are the partition ids to rebuild instead, as
	// BigQuery writes them (20261202) or with dashes (2026-12-02).
	Partitions []string
	DryRun     bool
	// RetryQuarantined loads the quarantined objects too (after the table
	// or the loader's settings were fixed); a replay that succeeds
	// releases them.
	RetryQuarantined bool
	// Progress receives a progress line per step (nil: none).
	Progress io.Writer
}

// ReplayedPartition is one partition's outcome.
type ReplayedPartition struct {
	Partition   string
	Objects     int
	Bytes       int64
	Staged      bool // loaded into a staging table, then copied
	Jobs        []string
	Rows        int64
	RowsKnown   bool   // Rows was reported or counted
	VerifiedBy  string // how the rows were checked: "job statistics", "COUNT(*)", "" (not)
	Quarantined int    // skipped objects known to be unloadable
	Err         error
}

// Replay rebuilds each selected partition from all its archived objects:
// one WRITE_TRUNCATE load into table$PARTITION, or, when the partition has
// more objects than one job takes, loads into a staging table and one copy
// over the partition, so the partition changes atomically either way. The
// job is claimed in the ledger like any other, so a running loader never
// appends into a partition that is being rebuilt, and afterwards the
// ledger's committed set is exactly the replayed objects.
func (l *Loader) Replay(ctx context.Context, opts ReplayOptions) ([]ReplayedPartition, error) {
	if err := l.Open(ctx); err != nil {
		return nil, err
	}
	objs, err := l.listSource(ctx)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, p := range opts.Partitions {
		id, err := l.part.parseID(p)
		if err != nil {
			return nil, err
		}
		want[id] = true
	}
	var parts []partitionObjects
	for _, p := range groupByPartition(objs) {
		if p.id == "" {
			continue
		}
		start, _ := l.part.start(p.id)
		if len(want) > 0 {
			if !want[p.id] {
				continue
			}
		} else if start.Before(opts.From) || !start.Before(opts.To) {
			continue
		}
		parts = append(parts, p)
	}
	progress := func(format string, a ...any) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, format+"\n", a...)
		}
	}
	var out []ReplayedPartition
	var errs []error
	for i, p := range parts {
		rp := ReplayedPartition{Partition: p.id}
		var names []string
		for _, o := range p.objs {
			if o.Problem == "" {
				names = append(names, o.Name)
				rp.Bytes += o.Size
			}
		}
		// Objects known to be unloadable would fail the whole job.
		d, _, err := l.store.read(ctx, l.table, p.id)
		if err != nil {
			return out, err
		}
		if len(d.Quarantined) > 0 && !opts.RetryQuarantined {
			kept := names[:0]
			for _, n := range names {
				if _, bad := d.Quarantined[n]; bad {
					rp.Quarantined++
					continue
				}
				kept = append(kept, n)
			}
			names = kept
		}
		rp.Objects = len(names)
		rp.Staged = len(names) > l.cfg.MaxObjectsPerJob
		if opts.DryRun {
			how := "one WRITE_TRUNCATE load into " + l.cfg.Dataset + "." + l.cfg.Table + "$" + p.id
			if rp.Staged {
				n := (len(names) + l.cfg.MaxObjectsPerJob - 1) / l.cfg.MaxObjectsPerJob
				how = fmt.Sprintf("%d loads into a staging table, then one copy over %s.%s$%s", n, l.cfg.Dataset, l.cfg.Table, p.id)
			}
			progress("would replay partition %s: %d objects, %d bytes: %s", p.id, rp.Objects, rp.Bytes, how)
			out = append(out, rp)
			continue
		}
		progress("%s %d/%d partition %s: %d objects", bar(i, len(parts)), i+1, len(parts), p.id, rp.Objects)
		rp.Err = l.replayPartition(ctx, p.id, names, recordCounts(p.objs), &rp)
		if rp.Err != nil {
			errs = append(errs, fmt.Errorf("partition %s: %w", p.id, rp.Err))
			progress("  failed: %v", rp.Err)
		} else {
			progress("  done: %v rows (verified by %s), jobs %s", rowsValue(rp.Rows, rp.RowsKnown), orDash(rp.VerifiedBy), strings.Join(rp.Jobs, ", "))
			l.mu.Lock()
			delete(l.lateCache, p.id) // its late objects are in now
			l.mu.Unlock()
		}
		out = append(out, rp)
	}
	if !opts.DryRun && len(parts) > 0 {
		// The bar ends full only when every partition was replayed.
		ok := len(parts) - len(errs)
		progress("%s %d/%d replayed, %d failed", bar(ok, len(parts)), ok, len(parts), len(errs))
	}
	return out, errors.Join(errs...)
}

func bar(done, total int) string {
	const width = 20
	n := 0
	if total > 0 {
		n = done * width / total
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

func (l *Loader) replayPartition(ctx context.Context, id string, names []string, records map[string]int64, rp *ReplayedPartition) error {
	run := l.now().UTC().Format("20060102T150405.000000000")
	dest := l.cfg.Table + "$" + id
	staging := ""
	if rp.Staged {
		var err error
		if staging, err = l.stage(ctx, id, run, names, rp); err != nil {
			return err
		}
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.RequestTimeout)
			defer cancel()
			if err := l.bq.Dataset(l.cfg.Dataset).Table(staging).Delete(dctx); err != nil {
				l.log.Warn("delete staging table (it expires in a day)", "table", l.cfg.Dataset+"."+staging, "err", err)
			}
			l.mu.Lock()
			delete(l.stageRows, staging)
			l.mu.Unlock()
		}()
	}
	var j *jobRecord
	for try := 0; try < maxStepsPerPartition; try++ {
		d, gen, err := l.store.read(ctx, l.table, id)
		if err != nil {
			return err
		}
		var res CycleResult
		if p := d.pending(); p != nil && (j == nil || p.ID != j.ID) {
			// Settle whatever is in flight before the partition is
			// rebuilt. An append the server refuses at insert is
			// released: the replay loads its objects anyway.
			err := l.resolve(ctx, d, gen, p, &res, records)
			var ie *insertError
			if errors.As(err, &ie) && p.Kind == kindLoad {
				err = l.release(ctx, id, p.ID, ie)
			}
			if err != nil && !errors.Is(err, errConflict) && !errors.Is(err, errAgain) {
				return err
			}
			continue
		}
		if j == nil {
			kind := kindReplay
			if staging != "" {
				kind = kindCopy
			}
			key := "run:" + run
			if staging != "" {
				key = staging
			}
			j = l.newJob(d, kind, dest, names, key)
			if staging == "" {
				j.Staging = ""
			}
			if err := l.spend(ctx); err != nil {
				return err
			}
			if err := l.store.writeManifest(ctx, l.table, id, j); err != nil {
				return err
			}
			d.addJob(j)
			if gen, err = l.store.write(ctx, d, gen); errors.Is(err, errConflict) {
				j = nil
				continue
			} else if err != nil {
				return err
			}
			rp.Jobs = append(rp.Jobs, j.ID)
		} else if p := d.pending(); p != nil && p.ID == j.ID {
			j = p // the record as the ledger holds it now
		} else {
			return l.replayOutcome(d, j.ID, rp)
		}
		err = l.resolve(ctx, d, gen, j, &res, records)
		var ie *insertError
		if errors.As(err, &ie) && !errors.Is(err, errAgain) {
			// The replay is the user's command: a refusal fails it now
			// and releases its claim, so nothing stays pending.
			if rerr := l.release(ctx, id, j.ID, ie); rerr != nil {
				l.log.Error("release refused replay claim", "job", j.ID, "err", rerr)
			}
			return fmt.Errorf("BigQuery refused the replay job %s: %s", j.ID, ie.msg)
		}
		if errors.Is(err, errAgain) || errors.Is(err, errConflict) {
			continue
		}
		var me *MismatchError
		if err != nil && !errors.As(err, &me) {
			var ue *unverifiedError
			if !errors.As(err, &ue) {
				return err
			}
		}
		d, _, rerr := l.store.read(ctx, l.table, id)
		if rerr != nil {
			return rerr
		}
		if oerr := l.replayOutcome(d, j.ID, rp); oerr != nil || err == nil {
			return oerr
		}
		return err
	}
	return errConflict
}

// replayOutcome reads the replay job's settled record into rp.
func (l *Loader) replayOutcome(d *ledger, job string, rp *ReplayedPartition) error {
	var j *jobRecord
	for _, r := range d.Jobs {
		if r.ID == job {
			j = r
		}
	}
	switch {
	case j == nil:
		return fmt.Errorf("replay job %s is not in the ledger of partition %s any more", job, d.Partition)
	case j.State == stateFailed:
		return fmt.Errorf("job %s: %s", j.ID, j.Error)
	case j.State != stateDone:
		return fmt.Errorf("job %s is still %s", j.ID, j.State)
	}
	rp.Rows, rp.RowsKnown = j.Rows, !j.RowsUnknown
	if c := d.Check; c != nil && c.Job == job {
		rp.VerifiedBy = c.By
		rp.Rows, rp.RowsKnown = c.Got, true
		if !c.OK {
			return &MismatchError{Table: l.cfg.Project + ":" + l.table, Partition: d.Partition, Job: job, Expected: c.Expected, Got: c.Got, By: c.By}
		}
	}
	return nil
}

// release fails a pending claim whose insert was refused, recording the
// refusal: its objects are free again.
func (l *Loader) release(ctx context.Context, partition, job string, ie *insertError) error {
	for try := 0; try < 10; try++ {
		d, gen, err := l.store.read(ctx, l.table, partition)
		if err != nil {
			return err
		}
		p := d.pending()
		if p == nil || p.ID != job {
			return nil
		}
		// Failed as a refused claim is at its last attempt (unsubmitted),
		// without isolating objects: the replay loads them anyway.
		var res CycleResult
		out := outcome{done: true, failed: true, transient: !ie.data, err: ie.msg, errs: apiErrors(ie.err)}
		if err := l.settle(ctx, d, gen, p, out, &res, nil); errors.Is(err, errConflict) {
			continue
		} else if err != nil {
			return err
		}
		l.log.Error("claim released: BigQuery refused its insert", "job", job, "partition", partition, "err", ie.msg)
		return nil
	}
	return errConflict
}

// stage loads the objects into a fresh staging table, max_objects_per_job
// per job, and returns its name.
func (l *Loader) stage(ctx context.Context, id, run string, names []string, rp *ReplayedPartition) (string, error) {
	name := fmt.Sprintf("%s__barge_replay_%s_%s", l.cfg.Table, id, strings.NewReplacer("T", "_", ".", "_").Replace(run))
	ds := l.bq.Dataset(l.cfg.Dataset)
	mctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	md, err := ds.Table(l.cfg.Table).Metadata(mctx)
	cancel()
	if err != nil {
		return "", fmt.Errorf("get table %s.%s: %w", l.cfg.Dataset, l.cfg.Table, err)
	}
	cctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	err = ds.Table(name).Create(cctx, &bq.TableMetadata{Schema: md.Schema, TimePartitioning: md.TimePartitioning,
		Clustering: md.Clustering, ExpirationTime: l.now().Add(24 * time.Hour)})
	cancel()
	if err != nil {
		return "", fmt.Errorf("create staging table %s.%s: %w", l.cfg.Dataset, name, err)
	}
	known := true
	for i := 0; i < len(names); i += l.cfg.MaxObjectsPerJob {
		batch := names[i:min(i+l.cfg.MaxObjectsPerJob, len(names))]
		uris := make([]string, len(batch))
		for k, o := range batch {
			uris[k] = l.uri(o)
		}
		if err := l.relay(ctx, batch); err != nil {
			return name, err
		}
		// Loads into the staging table count against its own quota.
		ld := l.loader(ds.Table(name), uris, kindLoad)
		ld.JobID = jobID("stage", l.table, name, batch, run, 0)
		ld.CreateDisposition = bq.CreateNever
		ld.SchemaUpdateOptions = nil
		ictx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
		job, err := ld.Run(ictx)
		cancel()
		if isCode(err, 409) {
			job, err = l.lookup(ctx, ld.JobID)
		}
		if err != nil {
			return name, fmt.Errorf("load staging table %s.%s: %w", l.cfg.Dataset, name, err)
		}
		out, err := l.wait(ctx, job)
		if err != nil {
			return name, err
		}
		if out.failed {
			return name, fmt.Errorf("load staging table %s.%s: job %s: %s", l.cfg.Dataset, name, job.ID(), out.err)
		}
		rp.Jobs = append(rp.Jobs, job.ID())
		rp.Rows += out.rows
		if !out.rowsKnown {
			known = false
		}
	}
	if known {
		l.mu.Lock()
		if l.stageRows == nil {
			l.stageRows = map[string]int64{}
		}
		l.stageRows[name] = rp.Rows
		l.mu.Unlock()
	}
	return name, nil
}

// spend counts a replay or copy job in the table's daily budget: BigQuery
// counts every load and copy job into a table against its daily limit.
func (l *Loader) spend(ctx context.Context) error {
	q, err := l.store.take(ctx, l.table, l.now(), l.cfg.MaxJobsPerTablePerDay, true)
	if err != nil {
		return err
	}
	if !q.ok {
		return fmt.Errorf("the job budget of %s for today is used up (max_jobs_per_table_per_day %d): replay after 00:00 UTC or raise it", l.table, l.cfg.MaxJobsPerTablePerDay)
	}
	return nil
}
