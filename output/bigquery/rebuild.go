package bigquery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"
)

// RebuildResult sums up a ledger rebuild.
type RebuildResult struct {
	Found       int // barge jobs in BigQuery's job history (all tables)
	Read        int // of them, jobs whose configuration and outcome were read
	Written     int // partition ledgers written
	Kept        int // partition ledgers that existed and were left alone
	Committed   int // objects found loaded
	Uncommitted int // objects not loaded yet
	// Unreadable names the barge jobs that could not be read, with why.
	Unreadable []string
}

// UnreadableJobsError refuses a rebuild that would miss loaded objects.
type UnreadableJobsError struct {
	Jobs []string // "ID: why"
	Of   int
}

func (e *UnreadableJobsError) Error() string {
	list := e.Jobs
	more := ""
	if len(list) > 5 {
		list, more = list[:5], fmt.Sprintf("; and %d more", len(e.Jobs)-5)
	}
	return fmt.Sprintf("%d of %d barge jobs could not be read (%s%s): no ledger written, since the objects they loaded would load again; fix the cause and rebuild, or pass --force-unverified to write ledgers without them",
		len(e.Jobs), e.Of, strings.Join(list, "; "), more)
}

// loadedJob is a successful barge job found in BigQuery's job history.
type loadedJob struct {
	id        string
	kind      string
	created   time.Time
	dest      string // table name, with its decorator
	staging   string // copy: source table
	uris      []string
	rows      int64
	rowsKnown bool
	truncate  bool
}

// RebuildLedger reconstructs lost ledgers: the bucket listing and the
// objects' metadata place every object in its partition; BigQuery's job
// history (the successful barge_ jobs into this table, oldest first, a
// replay resetting its partition) says which objects were loaded. Ledgers
// that exist are kept unless force.
//
// A job the listing gives without its configuration or outcome is fetched
// by id. If a barge job still cannot be read (or is still running), no
// ledger is written, unless unverified: then ledgers are written from the
// jobs that could be read.
func (l *Loader) RebuildLedger(ctx context.Context, force, unverified bool) (RebuildResult, error) {
	var res RebuildResult
	if err := l.Open(ctx); err != nil {
		return res, err
	}
	objs, err := l.listSource(ctx)
	if err != nil {
		return res, err
	}
	jobs, err := l.history(ctx, &res)
	if err != nil {
		return res, err
	}
	if len(res.Unreadable) > 0 {
		if !unverified {
			return res, &UnreadableJobsError{Jobs: res.Unreadable, Of: res.Found}
		}
		l.log.Warn("writing ledgers without the barge jobs that could not be read (--force-unverified): their objects will load again", "jobs", len(res.Unreadable))
	}
	part := map[string]string{} // object name -> partition
	ledgers := map[string]*ledger{}
	get := func(p string) *ledger {
		if ledgers[p] == nil {
			ledgers[p] = newLedger(l.table, p)
		}
		return ledgers[p]
	}
	for _, o := range objs {
		if o.Problem == "" {
			part[o.Name] = o.Partition
			get(o.Partition)
		}
	}
	staged := map[string][]string{}
	for _, j := range jobs {
		switch j.kind {
		case "stage":
			staged[j.dest] = append(staged[j.dest], j.uris...)
			continue
		case kindCopy:
			j.uris = staged[j.staging]
		}
		names := make([]string, 0, len(j.uris))
		for _, u := range j.uris {
			if n, ok := strings.CutPrefix(u, l.uri("")); ok {
				names = append(names, n)
			}
		}
		if j.kind != kindLoad {
			_, p, _ := strings.Cut(j.dest, "$")
			d := get(p)
			d.Committed = map[string]string{}
			d.Rows, d.RowsUnknown = 0, false
		}
		for _, n := range names {
			p, ok := part[n]
			if !ok {
				continue // object gone from the archive
			}
			get(p).Committed[n] = j.id
		}
		if len(names) > 0 {
			if p, ok := part[names[0]]; ok {
				d := get(p)
				d.Rows += j.rows
				d.RowsUnknown = d.RowsUnknown || !j.rowsKnown
				d.addJob(&jobRecord{ID: j.id, Kind: j.kind, Destination: j.dest, Objects: names, Count: len(names), State: stateDone, Rows: j.rows, RowsUnknown: !j.rowsKnown,
					Claimed: j.created, Finished: j.created})
			}
		}
	}
	for _, o := range objs {
		if d := ledgers[o.Partition]; d != nil && o.Problem == "" {
			if _, ok := d.Committed[o.Name]; ok {
				res.Committed++
			} else {
				res.Uncommitted++
			}
		}
	}
	ids := make([]string, 0, len(ledgers))
	for p := range ledgers {
		ids = append(ids, p)
	}
	sort.Strings(ids)
	for _, p := range ids {
		d := ledgers[p]
		_, gen, err := l.store.read(ctx, l.table, p)
		if err != nil {
			return res, err
		}
		if gen != 0 && !force {
			res.Kept++
			continue
		}
		for _, j := range d.Jobs {
			if err := l.store.writeManifest(ctx, l.table, p, j); err != nil {
				return res, err
			}
		}
		if _, err := l.store.write(ctx, d, gen); err != nil {
			return res, fmt.Errorf("partition %s: %w", p, err)
		}
		res.Written++
	}
	return res, nil
}

// history lists the successful barge jobs into this table, oldest first,
// counting in res the barge jobs found and read.
func (l *Loader) history(ctx context.Context, res *RebuildResult) ([]loadedJob, error) {
	it := l.bq.Jobs(ctx)
	it.AllUsers = true
	var out []loadedJob
	for {
		job, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list jobs of project %s: %s", l.bq.Project(), l.describe(err))
		}
		rest, ok := strings.CutPrefix(job.ID(), "barge_")
		if !ok {
			continue
		}
		kind, _, _ := strings.Cut(rest, "_")
		res.Found++
		cfg, err := job.Config()
		if st := job.LastStatus(); err != nil || cfg == nil || st == nil || !described(cfg) {
			// Listings may leave the configuration out; the job itself
			// has it.
			loc := job.Location()
			if loc == "" {
				loc = l.cfg.Location
			}
			gctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
			full, gerr := l.bq.JobFromIDLocation(gctx, job.ID(), loc)
			cancel()
			if gerr != nil {
				res.Unreadable = append(res.Unreadable, job.ID()+": "+l.describe(gerr))
				continue
			}
			job = full
			if cfg, err = job.Config(); err != nil || cfg == nil || !described(cfg) {
				res.Unreadable = append(res.Unreadable, job.ID()+": BigQuery gives no configuration for it")
				continue
			}
		}
		st := job.LastStatus()
		if st == nil {
			res.Unreadable = append(res.Unreadable, job.ID()+": BigQuery gives no status for it")
			continue
		}
		if !st.Done() {
			res.Unreadable = append(res.Unreadable, job.ID()+": still "+strings.ToLower(stateName(st.State))+": wait for it to finish")
			continue
		}
		res.Read++
		if st.Err() != nil {
			continue // failed: it loaded nothing
		}
		lj := loadedJob{id: job.ID(), kind: kind}
		if st.Statistics != nil {
			lj.created = st.Statistics.CreationTime
			if ls, ok := st.Statistics.Details.(*bq.LoadStatistics); ok {
				lj.rows, lj.rowsKnown = ls.OutputRows, true
			}
		}
		switch c := cfg.(type) {
		case *bq.LoadConfig:
			if c.Dst == nil || c.Dst.DatasetID != l.cfg.Dataset {
				continue
			}
			lj.dest = c.Dst.TableID
			if g, ok := c.Src.(*bq.GCSReference); ok {
				lj.uris = g.URIs
			}
			lj.truncate = c.WriteDisposition == bq.WriteTruncate
		case *bq.CopyConfig:
			if c.Dst == nil || c.Dst.DatasetID != l.cfg.Dataset || len(c.Srcs) != 1 {
				continue
			}
			lj.dest = c.Dst.TableID
			lj.staging = c.Srcs[0].TableID
		default:
			continue
		}
		base, _, _ := strings.Cut(lj.dest, "$")
		if kind != "stage" && base != l.cfg.Table {
			continue
		}
		out = append(out, lj)
	}
	// Listings are newest first: reversed, jobs with the same creation
	// time keep their order.
	slices.Reverse(out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].created.Before(out[j].created) })
	return out, nil
}

// described reports whether a job configuration says what the job loaded
// or copied where.
func described(cfg bq.JobConfig) bool {
	switch c := cfg.(type) {
	case *bq.LoadConfig:
		g, ok := c.Src.(*bq.GCSReference)
		return c.Dst != nil && ok && len(g.URIs) > 0
	case *bq.CopyConfig:
		return c.Dst != nil && len(c.Srcs) > 0
	}
	return true // another kind of job: not barge's loads
}
