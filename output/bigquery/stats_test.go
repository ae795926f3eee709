package bigquery

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestLoaderStats: the budget left is today's, as of the last claim (the
// whole budget on a day without one), and the last error is the cycle's.
func TestLoaderStats(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	l := &Loader{cfg: Config{MaxJobsPerTablePerDay: 10}, now: func() time.Time { return now }}
	if st := l.Stats(); st.Budget != 10 || st.BudgetLeft != 10 || st.LastError != "" {
		t.Fatalf("fresh stats %+v", st)
	}
	l.stats.noteBudget(now, quotaDecision{ok: true, left: 4})
	if st := l.Stats(); st.BudgetLeft != 3 {
		t.Errorf("after a job allowed with 4 left: %d left, want 3", st.BudgetLeft)
	}
	l.stats.noteBudget(now, quotaDecision{left: 0})
	if st := l.Stats(); st.BudgetLeft != 0 {
		t.Errorf("after a refusal: %d left, want 0", st.BudgetLeft)
	}
	now = now.Add(24 * time.Hour)
	if st := l.Stats(); st.BudgetLeft != 10 {
		t.Errorf("the next day: %d left, want 10", st.BudgetLeft)
	}
	l.stats.noteCycle(now, CycleResult{Deferred: 2}, nil)
	l.stats.noteCycle(now, CycleResult{}, errors.New(strings.Repeat("x", 500)))
	st := l.Stats()
	if st.Cycles != 2 || st.Deferred != 2 || len(st.LastError) != maxErrorLen || !st.LastErrorTime.Equal(now) {
		t.Errorf("stats %+v", st)
	}
}
