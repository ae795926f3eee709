package bigquery

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// PartitionStatus is one partition's line in barge load status.
type PartitionStatus struct {
	Partition   string
	Archived    int // loadable objects in the source
	Committed   int
	Quarantined int
	Late        int // uncommitted objects of a closed partition
	Waiting     int // uncommitted objects of an open partition
	Rows        int64
	RowsUnknown bool // a job's rows were not reported: Rows is a lower bound
	LastJob     string
	// LastState is the last job's state, or "mismatch" when the latest
	// check found other rows in the table than the archive has,
	// "unverified" when no job reported rows.
	LastState string
	// LastError is the last error of a pending or failed claim, with its
	// time, in one line.
	LastError string
	// NoLedger: objects are archived but the partition has no ledger.
	NoLedger bool
	Failures []string
}

// TableStatus is a loader's status.
type TableStatus struct {
	Loader     string
	Table      string
	Source     string
	JobsToday  int
	Budget     int
	Partitions []PartitionStatus
	// Unloadable lists objects that cannot be loaded, with the reason.
	Unloadable []string
	// RebuildCommand is the command that rebuilds lost ledgers.
	RebuildCommand string
}

// Status reads the source listing and the ledger.
func (l *Loader) Status(ctx context.Context) (*TableStatus, error) {
	if err := l.Open(ctx); err != nil {
		return nil, err
	}
	objs, err := l.listSource(ctx)
	if err != nil {
		return nil, err
	}
	st := &TableStatus{Loader: l.cfg.Name, Table: l.cfg.Project + ":" + l.table, Source: l.cfg.Source, Budget: l.cfg.MaxJobsPerTablePerDay,
		RebuildCommand: l.rebuildCommand()}
	if st.JobsToday, err = l.store.used(ctx, l.table, l.now()); err != nil {
		return nil, err
	}
	byPart := map[string][]object{}
	for _, o := range objs {
		if o.Problem != "" {
			st.Unloadable = append(st.Unloadable, l.sourceURI(o.Name)+": "+o.Problem)
			continue
		}
		byPart[o.Partition] = append(byPart[o.Partition], o)
	}
	ids, err := l.store.partitions(ctx, l.table)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, ok := byPart[id]; !ok {
			byPart[id] = nil
		}
	}
	now := l.now()
	for id, os := range byPart {
		d, gen, err := l.store.read(ctx, l.table, id)
		if err != nil {
			return nil, err
		}
		ps := PartitionStatus{Partition: id, Archived: len(os), Rows: d.Rows, RowsUnknown: d.RowsUnknown, Quarantined: len(d.Quarantined)}
		// A partition a loader would have claimed by now, with no ledger:
		// lost, or never loaded.
		if gen == 0 && len(os) > 0 {
			for _, o := range os {
				if now.Sub(o.Created) > l.cfg.LoadInterval {
					ps.NoLedger = true
					break
				}
			}
		}
		for _, o := range os {
			if _, ok := d.Committed[o.Name]; ok {
				ps.Committed++
			}
		}
		open := true
		if start, err := l.part.start(id); err == nil {
			open = now.Before(l.part.end(start).Add(l.cfg.Lateness))
		}
		if n := len(d.uncommitted(os)); open {
			ps.Waiting = n
		} else {
			ps.Late = n
		}
		if j := d.last(); j != nil {
			ps.LastJob, ps.LastState = j.ID, j.State
			if j.State == stateDone && j.RowsUnknown && d.Check == nil && j.Kind != kindLoad {
				ps.LastState = "unverified"
			}
			if j.Error != "" && j.State != stateDone {
				at := j.ErrorAt
				if at.IsZero() {
					at = j.Finished
				}
				ps.LastError = fmt.Sprintf("%s: %s", at.UTC().Format(time.RFC3339), j.Error)
				if j.State == statePending && j.Attempts > 0 {
					ps.LastError += fmt.Sprintf(" (insert tried %d times)", j.Attempts)
				}
			}
		}
		if c := d.Check; c != nil && !c.OK {
			ps.LastState = "mismatch"
			ps.Failures = append(ps.Failures, fmt.Sprintf("rows mismatch after job %s at %s: the table holds %d rows, the archive has %d (counted by %s): %s",
				c.Job, c.At.UTC().Format(time.RFC3339), c.Got, c.Expected, c.By, l.replayCommand(id)))
		}
		for _, j := range d.Jobs {
			if j.State == stateFailed {
				ps.Failures = append(ps.Failures, fmt.Sprintf("job %s (%d objects): %s", j.ID, j.Count, j.Error))
				for _, e := range j.Errors {
					ps.Failures = append(ps.Failures, "  "+e)
				}
			}
		}
		names := make([]string, 0, len(d.Quarantined))
		for n := range d.Quarantined {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			q := d.Quarantined[n]
			ps.Failures = append(ps.Failures, fmt.Sprintf("quarantined %s (job %s): %s", l.sourceURI(n), q.Job, strings.Join(q.Errors, "; ")))
		}
		st.Partitions = append(st.Partitions, ps)
	}
	sort.Slice(st.Partitions, func(i, j int) bool { return st.Partitions[i].Partition < st.Partitions[j].Partition })
	return st, nil
}

// Print writes the status as a table, failures below it.
func (s *TableStatus) Print(w io.Writer) {
	fmt.Fprintf(w, "loader %s: table %s, source %s, jobs today %d of %d\n", s.Loader, s.Table, s.Source, s.JobsToday, s.Budget)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tARCHIVED\tCOMMITTED\tWAITING\tLATE\tQUARANTINED\tROWS\tLAST JOB\tSTATE")
	for _, p := range s.Partitions {
		state := p.LastState
		if p.NoLedger {
			state = "no ledger"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", p.Partition, p.Archived, p.Committed, p.Waiting, p.Late, p.Quarantined, RowsText(p.Rows, p.RowsUnknown), orDash(p.LastJob), orDash(state))
	}
	tw.Flush()
	var lost []string
	for _, p := range s.Partitions {
		if p.LastError != "" {
			fmt.Fprintf(w, "last error in %s: %s\n", p.Partition, p.LastError)
		}
		if p.NoLedger {
			lost = append(lost, p.Partition)
		}
		if len(p.Failures) == 0 {
			continue
		}
		fmt.Fprintf(w, "failures in %s:\n", p.Partition)
		for _, f := range p.Failures {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
	if len(lost) > 0 {
		fmt.Fprintf(w, "warning: %d partitions (%s) have archived objects but no ledger: if they were loaded before, the ledger was lost and the next load loads them again; run %s first\n",
			len(lost), strings.Join(lost, ", "), s.RebuildCommand)
	}
	for _, u := range s.Unloadable {
		fmt.Fprintf(w, "unloadable: %s\n", u)
	}
}

// RowsText is a row count for a person: "?" when the server did not
// report it, "N+?" when it is a lower bound.
func RowsText(n int64, unknown bool) string {
	switch {
	case unknown && n == 0:
		return "?"
	case unknown:
		return fmt.Sprintf("%d+?", n)
	}
	return fmt.Sprint(n)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
