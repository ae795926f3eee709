package bigquery

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// The run loop: a load cycle every load_interval, each listing the source
// once and committing the open partitions' new objects (commit.go).

// Run commits new objects every load_interval until ctx ends. A cycle that
// fails is logged and the next one tries again.
func (l *Loader) Run(ctx context.Context) error {
	if err := l.Open(ctx); err != nil {
		return err
	}
	l.log.Info("loader started", "table", l.table, "source", l.cfg.Source, "load_interval", l.cfg.LoadInterval.String())
	for {
		res, err := l.Cycle(ctx)
		if ctx.Err() != nil {
			return nil
		}
		l.stats.noteCycle(l.now(), res, err)
		if err != nil {
			l.log.Error("load cycle", "err", err)
		} else if res.Jobs > 0 || res.Late > 0 {
			l.log.Info("load cycle", "jobs", res.Jobs, "objects", res.Objects, "rows", res.Rows, "failed", res.Failed, "late", res.Late)
		}
		t := time.NewTimer(l.cfg.LoadInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// CycleResult sums up one load cycle.
type CycleResult struct {
	Partitions  int   // open partitions with objects
	Jobs        int   // jobs settled (submitted now or adopted)
	Objects     int   // objects committed
	Rows        int64 // rows committed, as far as the server reported them
	RowsUnknown int   // committed jobs whose rows the server did not report
	Failed      int   // jobs that failed or could not be submitted
	Late        int   // objects of closed partitions not committed
	Deferred    int   // partitions left for a later cycle by the job budget
	// FirstError is the first failure of the cycle, in one line.
	FirstError string
}

func (r *CycleResult) fail(msg string) {
	r.Failed++
	if r.FirstError == "" {
		r.FirstError = msg
	}
}

// Cycle lists the source once and commits the uncommitted objects of each
// open partition with one job per partition.
func (l *Loader) Cycle(ctx context.Context) (CycleResult, error) {
	var res CycleResult
	if err := l.Open(ctx); err != nil {
		return res, err
	}
	if l.cfg.FetchSchema {
		if err := l.fetchSchema(ctx); err != nil {
			return res, err
		}
	}
	now := l.now()
	objs, err := l.listCycle(ctx, now)
	if err != nil {
		return res, err
	}
	var errs []error
	open := map[string]bool{}
	defer l.store.forget(open)
	for _, p := range groupByPartition(objs) {
		start, _ := l.part.start(p.id)
		if p.id == "" {
			continue
		}
		if !now.Before(l.part.end(start).Add(l.cfg.Lateness)) {
			n, err := l.late(ctx, p)
			res.Late += n
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		res.Partitions++
		open[p.id] = true
		if err := l.commitPartition(ctx, p, &res); err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			errs = append(errs, fmt.Errorf("partition %s: %w", p.id, err))
		}
	}
	for _, o := range objs {
		if o.Problem != "" && l.warnOnce("problem "+o.Name) {
			l.log.Warn("object cannot be loaded", "object", l.sourceURI(o.Name), "err", o.Problem)
		}
	}
	return res, errors.Join(errs...)
}

// fetchSchema reads the table's current schema for the loads of this
// cycle (fetch_schema): a missing table or a denied read is reported, by
// the table's name, before any job is claimed.
func (l *Loader) fetchSchema(ctx context.Context) error {
	mctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	md, err := l.bq.Dataset(l.cfg.Dataset).Table(l.cfg.Table).Metadata(mctx)
	if err != nil {
		return fmt.Errorf("fetch_schema: get table %s.%s: %w", l.cfg.Dataset, l.cfg.Table, err)
	}
	l.mu.Lock()
	l.schema = md.Schema
	l.mu.Unlock()
	return nil
}

// listCycle lists what a load cycle needs: the whole source, or for a
// source prefix with the time in it, the prefixes of the open partitions,
// and the whole source once every fullListEvery (for late objects).
func (l *Loader) listCycle(ctx context.Context, now time.Time) ([]object, error) {
	if l.tmpl == nil || l.lister != nil {
		return l.listSource(ctx)
	}
	if l.lastFull.IsZero() || now.Sub(l.lastFull) >= fullListEvery {
		objs, err := l.listSource(ctx)
		if err == nil {
			l.lastFull = now
		}
		return objs, err
	}
	// The oldest partition that may be open holds now-lateness.
	from, _ := l.part.start(l.part.id(now.Add(-l.cfg.Lateness)))
	var out []object
	for _, p := range l.tmpl.prefixes(from, now) {
		objs, err := l.listPrefix(ctx, p, false)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// late counts the uncommitted objects of a closed partition, warning once.
// The count is kept until the partition's object count changes, so closed
// partitions cost no ledger reads cycle after cycle.
func (l *Loader) late(ctx context.Context, p partitionObjects) (int, error) {
	l.mu.Lock()
	c, ok := l.lateCache[p.id]
	l.mu.Unlock()
	if ok && c[0] == len(p.objs) {
		return c[1], nil
	}
	d, _, err := l.store.read(ctx, l.table, p.id)
	if err != nil {
		return 0, err
	}
	n := len(d.uncommitted(p.objs))
	l.mu.Lock()
	l.lateCache[p.id] = [2]int{len(p.objs), n}
	l.mu.Unlock()
	if n > 0 && l.warnOnce(fmt.Sprintf("late %s %d", p.id, n)) {
		l.log.Warn("objects arrived after their partition closed: not loaded; barge replay loads them", "partition", p.id, "objects", n, "lateness", l.cfg.Lateness.String(),
			"run", l.replayCommand(p.id))
	}
	return n, nil
}

func (l *Loader) budgetWarning(q quotaDecision) {
	day := l.now().UTC().Format("20060102")
	if q.left == 0 {
		if l.warnOnce("budget exhausted " + day) {
			l.log.Warn("job budget of the day used up: objects wait for the next UTC day", "table", l.table, "max_jobs_per_table_per_day", l.cfg.MaxJobsPerTablePerDay)
		}
		return
	}
	if l.warnOnce("budget low " + day) {
		l.log.Warn("job budget paced: jobs are spaced out and carry more objects each", "table", l.table, "jobs_left", q.left, "next_job_in", q.wait.Round(time.Second).String(), "max_jobs_per_table_per_day", l.cfg.MaxJobsPerTablePerDay)
	}
}
