package bigquery

import (
	"sync"
	"sync/atomic"
	"time"
)

// Stats are a Loader's counters since New, for the metrics.
type Stats struct {
	Cycles      int64 // load cycles run
	Committed   int64 // jobs committed
	Failed      int64 // jobs that failed (their objects tried again or quarantined)
	Unsubmitted int64 // claims BigQuery did not take at insert (tried again)
	Deferred    int64 // partitions left for a later cycle by the job budget
	Objects     int64 // objects committed
	Rows        int64 // rows committed, as far as BigQuery reported them
	// Budget is max_jobs_per_table_per_day; BudgetLeft the jobs left in
	// today's (UTC), as of this loader's last claim (Budget on a day it
	// claimed nothing yet; replicas share the budget).
	Budget     int
	BudgetLeft int
	// LastError is the last failed cycle's error, or the first failure of
	// the last cycle that had one, at LastErrorTime (zero: none).
	LastError     string
	LastErrorTime time.Time
}

// loaderStats are the counters behind Stats.
type loaderStats struct {
	cycles, committed, failed, unsubmitted, deferred, objects, rows atomic.Int64

	mu        sync.Mutex
	day       string // the UTC day of left
	left      int
	lastErr   string
	lastErrAt time.Time
}

// maxErrorLen bounds Stats.LastError.
const maxErrorLen = 200

// Stats returns the counters; safe at any time.
func (l *Loader) Stats() Stats {
	s := &l.stats
	st := Stats{
		Cycles: s.cycles.Load(), Committed: s.committed.Load(), Failed: s.failed.Load(),
		Unsubmitted: s.unsubmitted.Load(), Deferred: s.deferred.Load(),
		Objects: s.objects.Load(), Rows: s.rows.Load(),
		Budget: l.cfg.MaxJobsPerTablePerDay, BudgetLeft: l.cfg.MaxJobsPerTablePerDay,
	}
	today := l.now().UTC().Format("20060102")
	s.mu.Lock()
	if s.day == today {
		st.BudgetLeft = s.left
	}
	st.LastError, st.LastErrorTime = s.lastErr, s.lastErrAt
	s.mu.Unlock()
	return st
}

// noteBudget records the jobs left today after a decision of take.
func (s *loaderStats) noteBudget(now time.Time, q quotaDecision) {
	left := q.left
	if q.ok {
		left-- // q.left counts the job it allowed
	}
	s.mu.Lock()
	s.day, s.left = now.UTC().Format("20060102"), max(left, 0)
	s.mu.Unlock()
}

// noteCycle counts a load cycle and its error, if any.
func (s *loaderStats) noteCycle(now time.Time, res CycleResult, err error) {
	s.cycles.Add(1)
	s.deferred.Add(int64(res.Deferred))
	msg := res.FirstError
	if err != nil {
		msg = err.Error()
	}
	if msg == "" {
		return
	}
	if len(msg) > maxErrorLen {
		msg = msg[:maxErrorLen-3] + "..."
	}
	s.mu.Lock()
	s.lastErr, s.lastErrAt = msg, now
	s.mu.Unlock()
}
