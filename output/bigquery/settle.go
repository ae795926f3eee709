package bigquery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
)

// Settling a claim: the outcome of its job, or of its insert that was
// refused, is written to the ledger; a batch BigQuery refuses for its data
// is bisected down to the objects it names, which are quarantined.

// unsubmitted records a claim whose job could not be submitted or looked
// up: the error and its time go into the pending record. An insert
// refused as invalid is tried maxDataRefusals times, with backoff, and
// then failed as a job refused for its data (bisected); a claim refused
// maxClaimAttempts times in all is released (failed, its objects free for
// a new claim), never retried forever.
func (l *Loader) unsubmitted(ctx context.Context, d *ledger, gen int64, j *jobRecord, err error, res *CycleResult) error {
	var ie *insertError
	refused := errors.As(err, &ie)
	j.Attempts++
	j.ErrorAt = l.now().UTC()
	if refused {
		j.Error = ie.msg
	} else {
		j.Error = "look up job " + j.ID + ": " + l.describe(err)
	}
	table := l.cfg.Project + ":" + l.cfg.Dataset + "." + j.Destination
	if refused && ie.data && j.Attempts >= maxDataRefusals {
		out := outcome{done: true, failed: true, data: j.Kind == kindLoad, err: ie.msg, errs: apiErrors(ie.err)}
		if out.data && len(j.Objects) == 1 && !l.accepted.Load() && !d.hasDone() {
			// Nothing of this loader was ever accepted: the request may
			// be wrong, not this object. It goes to the back, after the
			// others, and the partition waits for the next cycle; it is
			// quarantined once any job is accepted.
			out.data = false
			if len(d.Groups) > 0 && sameSet(d.Groups[0], j.Objects) {
				d.Groups = append(d.Groups[1:], j.Objects)
			}
			l.log.Warn("BigQuery refuses a single object, and has accepted no job of this loader yet: not quarantined until another job is accepted", "object", l.sourceURI(j.Objects[0]), "table", table, "err", ie.msg)
			if err := l.settle(ctx, d, gen, j, out, res, nil); err != nil {
				return err
			}
			return ie
		}
		return l.settle(ctx, d, gen, j, out, res, nil)
	}
	if refused && j.Attempts >= maxClaimAttempts {
		l.log.Error("claim released: its insert was refused every time", "job", j.ID, "table", table, "attempts", j.Attempts, "err", ie.msg)
		if err := l.settle(ctx, d, gen, j, outcome{done: true, failed: true, transient: true, err: ie.msg, errs: apiErrors(ie.err)}, res, nil); err != nil {
			return err
		}
		return err
	}
	if _, werr := l.store.write(ctx, d, gen); werr != nil {
		return werr // errConflict: another loader moved on; read again
	}
	if refused && ie.data {
		// Counted once, when it is failed (settle) or left for later.
		wait := time.Duration(1<<(j.Attempts-1)) * 500 * time.Millisecond
		l.log.Warn("BigQuery refused the job at insert: trying again", "job", j.ID, "table", table, "partition", d.Partition, "objects", j.Count, "attempt", j.Attempts, "retry_in", wait.String(), "err", ie.msg)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		return errAgain
	}
	l.stats.unsubmitted.Add(1)
	res.fail(fmt.Sprintf("partition %s: job %s: %s", d.Partition, j.ID, j.Error))
	l.log.Error("job not submitted: the claim stays and is tried again next cycle", "job", j.ID, "table", table, "partition", d.Partition, "attempt", j.Attempts, "err", j.Error)
	return err
}

// apiErrors turns an API error's items into job errors, for isolate.
func apiErrors(err error) []*bq.Error {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return nil
	}
	var out []*bq.Error
	for _, it := range ge.Errors {
		out = append(out, &bq.Error{Message: it.Message, Reason: it.Reason})
	}
	if len(out) == 0 {
		out = append(out, &bq.Error{Message: ge.Message})
	}
	return out
}

// hasDone reports whether the partition has a done job.
func (d *ledger) hasDone() bool {
	for _, j := range d.Jobs {
		if j.State == stateDone {
			return true
		}
	}
	return false
}

// settle writes a finished job's outcome. A replay, and with verify_rows
// an append, is verified first: a mismatch is recorded in the ledger and
// returned.
func (l *Loader) settle(ctx context.Context, d *ledger, gen int64, j *jobRecord, out outcome, res *CycleResult, records map[string]int64) error {
	now := l.now().UTC()
	j.Finished = now
	var quarantined []string
	bisected := false
	var verr error
	if !out.failed {
		j.State = stateDone
		j.Rows = out.rows
		j.RowsUnknown = !out.rowsKnown
		j.Error, j.ErrorAt = "", time.Time{}
		if j.Kind != kindLoad {
			// A replay rebuilt the partition from exactly these objects
			// (quarantined ones stay quarantined: objects never change).
			// The committed set follows from the job records when the
			// ledger is read again.
			d.Rows, d.RowsUnknown = 0, false
			d.Groups = nil
			d.Check = nil
			for _, o := range j.Objects {
				delete(d.Quarantined, o) // loaded now (--retry-quarantined)
			}
		}
		d.Rows += out.rows
		d.RowsUnknown = d.RowsUnknown || !out.rowsKnown
		if records != nil && (j.Kind != kindLoad || l.cfg.VerifyRows) {
			committed := j.Objects
			if j.Kind == kindLoad {
				committed = make([]string, 0, len(d.Committed)+len(j.Objects))
				for o := range d.Committed {
					committed = append(committed, o)
				}
				committed = append(committed, j.Objects...)
			}
			var c *rowCheck
			c, verr = l.verify(ctx, d, j, out, committed, records)
			if c != nil {
				d.Check = c
				if c.OK && c.By == byCount {
					d.Rows, d.RowsUnknown = c.Got, false
				}
			}
		}
	} else {
		j.State = stateFailed
		j.Error = out.err
		j.ErrorAt = now
		j.Errors = errorStrings(out.errs)
		j.Transient = out.transient
		d.Failures++
		// Only a refusal of the data isolates objects; any other failure
		// (access, quota, a missing table) tries the same objects again.
		if out.data && j.Kind == kindLoad {
			quarantined, bisected = l.isolate(d, j, out)
		}
	}
	// Logged and counted only once the outcome is in the ledger: a replica
	// that loses the write reads the winner's record instead.
	if _, err := l.store.write(ctx, d, gen); err != nil {
		return err
	}
	res.Jobs++
	if !out.failed {
		res.Objects += j.Count
		res.Rows += out.rows
		l.stats.committed.Add(1)
		l.stats.objects.Add(int64(j.Count))
		l.stats.rows.Add(out.rows)
		if !out.rowsKnown {
			res.RowsUnknown++
		}
		l.log.Info("committed job", "job", j.ID, "partition", d.Partition, "objects", j.Count, "rows", rowsValue(out.rows, out.rowsKnown))
		if verr != nil {
			res.fail(verr.Error())
			l.log.Error("partition rows do not match the archive", "table", l.cfg.Project+":"+l.table, "partition", d.Partition, "job", j.ID, "err", verr)
		}
		return verr
	}
	l.stats.failed.Add(1)
	res.fail(fmt.Sprintf("partition %s: job %s: %s", d.Partition, j.ID, out.err))
	l.log.Error("job failed", "job", j.ID, "table", l.cfg.Project+":"+l.cfg.Dataset+"."+j.Destination, "partition", d.Partition, "objects", j.Count, "err", out.err, "transient", out.transient)
	for _, n := range quarantined {
		l.log.Error("object quarantined: BigQuery refused its data", "object", l.sourceURI(n), "job", j.ID, "err", out.err)
	}
	if bisected {
		l.log.Warn("bisecting a failed batch to find the objects BigQuery refuses", "job", j.ID, "objects", len(j.Objects))
	}
	return nil
}

// rowsValue is a row count for logs: the number, or "?" when the server
// did not report it.
func rowsValue(n int64, known bool) any {
	if !known {
		return "?"
	}
	return n
}

// isolate handles a load that failed for its data: objects BigQuery names
// are quarantined and the rest tried again; without names the batch is
// bisected, down to single objects, which are quarantined. It returns the
// objects quarantined, or whether the batch was bisected.
func (l *Loader) isolate(d *ledger, j *jobRecord, out outcome) (quarantined []string, bisected bool) {
	in := map[string]bool{}
	for _, o := range j.Objects {
		in[o] = true
	}
	var named []string
	for _, u := range badURIs(out.errs) {
		if name, ok := strings.CutPrefix(u, l.uri("")); ok && in[name] {
			named = append(named, name)
		}
	}
	if len(named) == 0 && len(j.Objects) == 1 {
		named = j.Objects
	}
	// Drop the failed set's own group, if it was one.
	if len(d.Groups) > 0 && sameSet(d.Groups[0], j.Objects) {
		d.Groups = d.Groups[1:]
	}
	if len(named) > 0 {
		if d.Quarantined == nil {
			d.Quarantined = map[string]*quarantine{}
		}
		bad := map[string]bool{}
		for _, n := range named {
			bad[n] = true
			d.Quarantined[n] = &quarantine{Job: j.ID, At: j.Finished, Errors: j.Errors}
		}
		var rest []string
		for _, o := range j.Objects {
			if !bad[o] {
				rest = append(rest, o)
			}
		}
		if len(rest) > 0 {
			d.Groups = append([][]string{rest}, d.Groups...)
		}
		return named, false
	}
	half := len(j.Objects) / 2
	a := append([]string(nil), j.Objects[:half]...)
	b := append([]string(nil), j.Objects[half:]...)
	d.Groups = append([][]string{a, b}, d.Groups...)
	return nil, true
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
