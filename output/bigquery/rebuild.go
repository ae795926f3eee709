package bigquery

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"
)

// RebuildResult sums up a ledger rebuild.
type RebuildResult struct {
	Written     int // partition ledgers written
	Kept        int // partition ledgers that existed and were left alone
	Committed   int // objects found loaded
	Uncommitted int // objects not loaded yet
}

// loadedJob is a successful barge job found in BigQuery's job history.
type loadedJob struct {
	id       string
	kind     string
	created  time.Time
	dest     string // table name, with its decorator
	staging  string // copy: source table
	uris     []string
	rows     int64
	truncate bool
}

// RebuildLedger reconstructs lost ledgers: the bucket listing and the
// objects' metadata place every object in its partition; BigQuery's job
// history (the successful barge_ jobs into this table, oldest first, a
// replay resetting its partition) says which objects were loaded. Ledgers
// that exist are kept unless force.
func (l *Loader) RebuildLedger(ctx context.Context, force bool) (RebuildResult, error) {
	var res RebuildResult
	if err := l.Open(ctx); err != nil {
		return res, err
	}
	objs, err := l.listSource(ctx)
	if err != nil {
		return res, err
	}
	jobs, err := l.history(ctx)
	if err != nil {
		return res, err
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
			d.Rows = 0
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
				d.addJob(&jobRecord{ID: j.id, Kind: j.kind, Destination: j.dest, Objects: names, Count: len(names), State: stateDone, Rows: j.rows, Claimed: j.created, Finished: j.created})
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
		for _, o := range objs {
			if o.Partition != p || o.Problem != "" {
				continue
			}
			if _, ok := d.Committed[o.Name]; ok {
				res.Committed++
			} else {
				res.Uncommitted++
			}
		}
	}
	return res, nil
}

// history lists the successful barge jobs into this table, oldest first.
func (l *Loader) history(ctx context.Context) ([]loadedJob, error) {
	it := l.bq.Jobs(ctx)
	it.AllUsers = true
	it.State = bq.Done
	var out []loadedJob
	for {
		job, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list jobs of project %s: %w", l.bq.Project(), err)
		}
		rest, ok := strings.CutPrefix(job.ID(), "barge_")
		if !ok {
			continue
		}
		kind, _, _ := strings.Cut(rest, "_")
		st := job.LastStatus()
		if st == nil || st.Err() != nil {
			continue
		}
		cfg, err := job.Config()
		if err != nil {
			continue
		}
		lj := loadedJob{id: job.ID(), kind: kind}
		if st.Statistics != nil {
			lj.created = st.Statistics.CreationTime
			if ls, ok := st.Statistics.Details.(*bq.LoadStatistics); ok {
				lj.rows = ls.OutputRows
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
	sort.SliceStable(out, func(i, j int) bool { return out[i].created.Before(out[j].created) })
	return out, nil
}
