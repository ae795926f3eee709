package buffer

import (
	"math"
	"math/rand/v2"
	"time"
)

// Retries work at two levels.
//
// The output backs off: retryState, as Fluentd's RetryState, is started by
// a failed flush and reset by the next success. While it is active no
// chunk is flushed before next (retry_wait * base^n), and then one chunk
// at a time probes the output, so a down output is not hammered.
//
// Each chunk gives up on its own: it counts its failed flushes and the
// time of the first, and waits its own backoff (retryAt) before it is
// tried again. A chunk whose flush failed goes to the back of the queue,
// so the chunks behind it are tried first. Only the chunk that exceeds
// retry_max_times or retry_timeout is set aside (secondary or failed/);
// the others keep their place. With retry_forever no chunk gives up. A
// permanent error sets its chunk aside at once. The counts live in memory:
// a restart gives every chunk a fresh start.
type retryState struct {
	cfg    *Config
	active bool
	start  time.Time // first failure
	steps  int       // failures so far
	next   time.Time // earliest time of the next attempt
}

// randomizeWidth is Fluentd's retry randomisation: ±12.5%.
const randomizeWidth = 0.125

// fail records a failed flush at now in the output's backoff.
func (r *retryState) fail(now time.Time) {
	if r.active && now.Before(r.next) {
		// Another flush failed within the same backoff (several flush
		// threads): as Fluentd, it does not count as a step.
		return
	}
	if !r.active {
		r.active, r.start, r.steps = true, now, 0
	}
	r.steps++
	r.next = now.Add(r.interval(r.steps - 1))
}

// chunkFailed records a failed flush of c at now (after fail) and reports
// whether c may be retried: false once its retries reach retry_max_times,
// or its next attempt could not start before retry_timeout after its
// first failure, unless retry_forever.
func (r *retryState) chunkFailed(c *Chunk, now time.Time) bool {
	if c.fails == 0 {
		c.firstFail = now
	}
	c.fails++
	c.retryAt = now.Add(r.interval(c.fails - 1))
	if r.cfg.RetryForever {
		return true
	}
	next := c.retryAt
	if r.active && r.next.After(next) {
		next = r.next
	}
	retries := c.fails - 1 // attempts after the first
	if r.cfg.RetryMaxTimes > 0 && retries >= r.cfg.RetryMaxTimes {
		return false
	}
	return next.Before(c.firstFail.Add(r.cfg.RetryTimeout))
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
	// Half the largest Duration: randomised, it still fits.
	if limit := float64(math.MaxInt64/2) / float64(time.Second); math.IsInf(w, 0) || w > limit {
		w = limit
	}
	if r.cfg.RetryRandomize {
		w += w * randomizeWidth * (2*rand.Float64() - 1)
	}
	return time.Duration(w * float64(time.Second))
}

func (r *retryState) reset() { r.active, r.steps = false, 0 }
