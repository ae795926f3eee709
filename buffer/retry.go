package buffer

import (
	"math"
	"math/rand/v2"
	"time"
)

// retryState is the buffer's backoff after failed flushes, as Fluentd's
// RetryState: one per output, started by the first failure and reset by the
// next success. While it is active no chunk is flushed before next.
type retryState struct {
	cfg    *Config
	active bool
	start  time.Time // first failure
	steps  int       // failures so far
	next   time.Time // earliest time of the next attempt
}

// randomizeWidth is Fluentd's retry randomisation: ±12.5%.
const randomizeWidth = 0.125

// fail records a failed flush at now. It returns false when the retry limit
// (retry_max_times or retry_timeout, unless retry_forever) is reached; the
// state is then reset.
func (r *retryState) fail(now time.Time) bool {
	if r.active && now.Before(r.next) {
		// Another flush failed within the same backoff (several flush
		// threads): as Fluentd, it does not count as a step.
		return true
	}
	if !r.active {
		r.active, r.start, r.steps = true, now, 0
	}
	r.steps++
	wait := r.interval(r.steps - 1)
	r.next = now.Add(wait)
	if r.cfg.RetryForever {
		return true
	}
	retries := r.steps - 1 // attempts after the first
	timeoutAt := r.start.Add(r.cfg.RetryTimeout)
	if (r.cfg.RetryMaxTimes > 0 && retries >= r.cfg.RetryMaxTimes) || !r.next.Before(timeoutAt) {
		r.reset()
		return false
	}
	return true
}

// interval is the wait before retry number n+1 (n from 0): retry_wait *
// base^n for exponential backoff, capped at retry_max_interval, or
// retry_wait for periodic; randomised by ±12.5% when retry_randomize.
func (r *retryState) interval(n int) time.Duration {
	w := r.cfg.RetryWait.Seconds()
	if r.cfg.RetryType == "exponential_backoff" {
		w *= math.Pow(r.cfg.RetryExponentialBackoffBase, float64(n))
	}
	if m := r.cfg.RetryMaxInterval.Seconds(); m > 0 && w > m {
		w = m
	}
	if math.IsInf(w, 0) || w > float64(math.MaxInt64/int64(time.Second)) {
		w = float64(math.MaxInt64 / int64(time.Second))
	}
	if r.cfg.RetryRandomize {
		w += w * randomizeWidth * (2*rand.Float64() - 1)
	}
	return time.Duration(w * float64(time.Second))
}

func (r *retryState) reset() { r.active, r.steps = false, 0 }
