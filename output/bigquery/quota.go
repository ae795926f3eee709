package bigquery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"cloud.google.com/go/storage"
)

// quotaDoc counts the jobs submitted for a table on one UTC day. It lives
// beside the table's partition ledgers, PREFIX/DATASET.TABLE/_quota/DAY.json,
// and is written with a generation precondition like them, so replicas
// share one budget. A job is counted before it is claimed: a crash can
// only waste budget, never exceed it.
type quotaDoc struct {
	Day  string    `json:"day"`
	Jobs int       `json:"jobs"`
	Last time.Time `json:"last"`
}

// quotaDecision says whether a job may be submitted now.
type quotaDecision struct {
	ok    bool
	left  int           // jobs left today, before this one
	wait  time.Duration // how long until the next job is allowed
	paced bool          // refused by the pacing, not by the day's limit
}

// pace decides from the day's count. The limit is hard: never more than
// limit jobs on a UTC day. Within it, jobs are paced along the day: by time
// t into the day at most limit*t/24h jobs, plus a burst of half an hour's
// share (at least one), may have been used. A quiet morning leaves its
// share for later; a busy table cannot spend the day's budget by noon.
// When the pacing refuses, objects wait for the next job, which then
// carries more of them: batches grow instead of jobs multiplying.
func pace(now time.Time, q quotaDoc, limit int) quotaDecision {
	start := now.UTC().Truncate(24 * time.Hour)
	day := 24 * time.Hour
	left := limit - q.Jobs
	d := quotaDecision{left: max(left, 0)}
	if left <= 0 {
		d.wait = start.Add(day).Sub(now)
		return d
	}
	burst := max(1, limit/48)
	allowed := min(limit, int(int64(limit)*int64(now.Sub(start))/int64(day))+burst)
	if q.Jobs < allowed {
		d.ok = true
		return d
	}
	// The allowance reaches q.Jobs+1 when limit*t/24h >= q.Jobs+1-burst.
	need := int64(q.Jobs + 1 - burst)
	at := time.Duration((need*int64(day) + int64(limit) - 1) / int64(limit))
	d.wait = start.Add(at).Sub(now)
	d.paced = true
	return d
}

// take counts one job for the table today if the budget allows it.
// unpaced (replays, which a person started) ignores the pacing but not
// the limit.
func (s *ledgerStore) take(ctx context.Context, table string, now time.Time, limit int, unpaced bool) (quotaDecision, error) {
	for try := 0; ; try++ {
		q, name, gen, err := s.readQuota(ctx, table, now)
		if err != nil {
			return quotaDecision{}, err
		}
		d := pace(now, q, limit)
		if unpaced && d.paced {
			d.ok, d.paced, d.wait = true, false, 0
		}
		if !d.ok {
			return d, nil
		}
		q.Jobs++
		q.Last = now
		data, _ := json.Marshal(q)
		if _, err = s.put(ctx, name, gen, data); err == nil {
			return d, nil
		}
		if !isPrecondition(err) || try == 5 {
			return quotaDecision{}, fmt.Errorf("write job budget gs://%s/%s: %w", s.bucket, name, err)
		}
	}
}

// used returns the jobs counted for the table on now's day.
func (s *ledgerStore) used(ctx context.Context, table string, now time.Time) (int, error) {
	q, _, _, err := s.readQuota(ctx, table, now)
	return q.Jobs, err
}

// readQuota reads the table's count for now's UTC day, its object name
// and its generation (0: none yet).
func (s *ledgerStore) readQuota(ctx context.Context, table string, now time.Time) (quotaDoc, string, int64, error) {
	day := now.UTC().Format("20060102")
	name := s.prefix + table + "/_quota/" + day + ".json"
	q := quotaDoc{Day: day}
	r, err := s.gcs.Bucket(s.bucket).Object(name).NewReader(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return q, name, 0, nil
	}
	if err != nil {
		return q, name, 0, fmt.Errorf("read job budget gs://%s/%s: %w", s.bucket, name, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return q, name, 0, fmt.Errorf("read job budget gs://%s/%s: %w", s.bucket, name, err)
	}
	if err := json.Unmarshal(data, &q); err != nil {
		return q, name, 0, fmt.Errorf("job budget gs://%s/%s: %w", s.bucket, name, err)
	}
	return q, name, r.Attrs.Generation, nil
}
