package bigquery

import (
	"context"
	"errors"
)

// Committing a partition: a job is claimed in the ledger (a pending
// record and its manifest), submitted with its deterministic id, waited
// for, and settled (settle.go). See doc.go for the ledger's contracts.

// destination is where appends of a partition go: the base table when it
// is partitioned on a column (BigQuery routes each row by it), else the
// partition itself.
func (l *Loader) destination(partition string) string {
	if l.cfg.PartitionField != "" {
		return l.cfg.Table
	}
	return l.cfg.Table + "$" + partition
}

// commitPartition settles a pending job of the partition, if any, then
// submits one job for its uncommitted objects, and more while a failed
// batch is being split (bisection).
func (l *Loader) commitPartition(ctx context.Context, p partitionObjects, res *CycleResult) error {
	claims := 0
	records := recordCounts(p.objs)
	for try := 0; try < maxStepsPerPartition; try++ {
		d, gen, err := l.store.read(ctx, l.table, p.id)
		if err != nil {
			return err
		}
		if j := d.pending(); j != nil {
			if err := l.resolve(ctx, d, gen, j, res, records); err != nil {
				if errors.Is(err, errConflict) || errors.Is(err, errAgain) {
					continue
				}
				return err
			}
			continue
		}
		if claims > 0 && (len(d.Groups) == 0 || claims >= maxClaimsPerCycle) {
			return nil
		}
		batch := d.nextBatch(p.objs, l.cfg.MaxObjectsPerJob)
		if len(batch) == 0 {
			return nil
		}
		now := l.now()
		q, err := l.store.take(ctx, l.table, now, l.cfg.MaxJobsPerTablePerDay, false)
		if err != nil {
			return err
		}
		l.stats.noteBudget(now, q)
		if !q.ok {
			res.Deferred++
			l.budgetWarning(q)
			return nil
		}
		j := l.newJob(d, kindLoad, l.destination(p.id), batch, "")
		if err := l.store.writeManifest(ctx, l.table, p.id, j); err != nil {
			return err
		}
		d.addJob(j)
		gen, err = l.store.write(ctx, d, gen)
		if errors.Is(err, errConflict) {
			continue // another loader claimed first; see what it did
		}
		if err != nil {
			return err
		}
		l.log.Info("claimed job", "job", j.ID, "partition", p.id, "objects", len(batch))
		claims++
		if err := l.resolve(ctx, d, gen, j, res, records); err != nil {
			if errors.Is(err, errConflict) || errors.Is(err, errAgain) {
				continue
			}
			return err
		}
	}
	return nil
}

const (
	// maxStepsPerPartition bounds the ledger reads of one partition in a
	// cycle; maxClaimsPerCycle its new jobs (the first, then the parts
	// of a batch being bisected).
	maxStepsPerPartition = 40
	maxClaimsPerCycle    = 12
	// maxDataRefusals is how often an insert refused as invalid is tried
	// before its batch is bisected; maxClaimAttempts how often a claim is
	// tried (across cycles) before it is released with its error.
	maxDataRefusals  = 3
	maxClaimAttempts = 5
)

// errAgain says a claim should be tried again at once.
var errAgain = errors.New("bigquery: try the claim again")

// newJob makes the record of a job, with an id no failed job of the
// ledger has.
func (l *Loader) newJob(d *ledger, kind, dest string, objects []string, staging string) *jobRecord {
	failed := d.failedIDs()
	var id string
	for attempt := 0; ; attempt++ {
		id = jobID(kind, l.cfg.Project+":"+l.table, dest, objects, staging, attempt)
		if !failed[id] {
			break
		}
	}
	return &jobRecord{ID: id, Kind: kind, Destination: dest, Objects: objects, Count: len(objects),
		Staging: staging, State: statePending, Claimed: l.now().UTC(), By: l.host}
}

// nextBatch picks the objects of the next job: a group split from a
// failed batch first, else the uncommitted objects, oldest names first.
func (d *ledger) nextBatch(objs []object, max int) []string {
	for len(d.Groups) > 0 {
		g := d.Groups[0]
		var live []string
		for _, o := range g {
			if _, ok := d.Committed[o]; ok {
				continue
			}
			if _, ok := d.Quarantined[o]; ok {
				continue
			}
			live = append(live, o)
		}
		if len(live) > 0 {
			return live
		}
		d.Groups = d.Groups[1:]
	}
	u := d.uncommitted(objs)
	if len(u) > max {
		u = u[:max]
	}
	return u
}

// resolve brings a pending job to an end: it submits it if BigQuery does
// not know it, waits for it, and writes the outcome to the ledger.
// records are the barge-records of the partition's objects, by name.
func (l *Loader) resolve(ctx context.Context, d *ledger, gen int64, j *jobRecord, res *CycleResult, records map[string]int64) error {
	job, err := l.lookup(ctx, j.ID)
	if errors.Is(err, errJobNotFound) {
		if j.Kind != kindCopy {
			if err := l.relay(ctx, j.Objects); err != nil {
				return err
			}
		}
		job, err = l.submit(ctx, j)
		if err == nil {
			l.log.Info("submitted job", "job", j.ID, "destination", l.cfg.Dataset+"."+j.Destination, "objects", j.Count)
		}
	} else if err == nil {
		l.accepted.Store(true)
	}
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return l.unsubmitted(ctx, d, gen, j, err, res)
	}
	out, err := l.wait(ctx, job)
	if err != nil {
		return err
	}
	if out.failed {
		out.err = l.explain(0, out.reason, out.err)
	}
	if j.Kind == kindCopy {
		l.mu.Lock()
		n, ok := l.stageRows[j.Staging]
		l.mu.Unlock()
		out.rows, out.rowsKnown = n, ok
	}
	return l.settle(ctx, d, gen, j, out, res, records)
}
