package buffer

import (
	"sync"
	"time"
)

// Stats are the buffer's gauges and counters.
type Stats struct {
	StagedChunks int
	StagedBytes  int64
	QueuedChunks int   // queued and in flight
	QueuedBytes  int64 // queued and in flight
	Appends      int64 // successful Append calls
	Records      int64 // entries appended
	Flushed      int64 // chunks flushed and purged
	Retries      int64 // failed flushes that were retried
	Secondary    int64 // chunks written to the secondary
	Dropped      int64 // chunks dropped by drop_oldest_chunk
	Failed       int64 // chunks moved to failed/ (or dropped, for memory buffers)
	Oversized    int64 // entries larger than chunk_limit_size, each given its own chunk
	Fsyncs       int64 // fsync calls made by group commit
	Rejected     int64 // records an output rejected alone (Rejected), set aside in a chunk of their own
	WriteErrors  int64 // failed writes of a chunk file (a frame or a new chunk's header)
	DiskFull     int64 // episodes of a full disk (ENOSPC, EDQUOT): from the first failed write to the next good one

	FlushedRecords int64 // records of the flushed chunks that the output took (its rejects not included)
	FlushedBytes   int64 // bytes of entries (msgpack) of the flushed chunks
	FailedRecords  int64 // records of the chunks counted in Failed
	// FlushTime is the duration of each Flush call of the output, failed
	// ones included.
	FlushTime Histogram
	// LastError is the error of the output's last failed flush (at most
	// maxErrorLen bytes), at LastErrorTime (zero: none).
	LastError     string
	LastErrorTime time.Time
	// LastFlush is when the output last flushed a chunk (zero: never).
	LastFlush time.Time
}

// total is the staged and queued bytes counted against total_limit_size.
func (s *Stats) total() int64 { return s.StagedBytes + s.QueuedBytes }

// maxErrorLen bounds Stats.LastError.
const maxErrorLen = 200

// noteError records a failed flush. Called with b.mu held.
func (s *Stats) noteError(err error, at time.Time) {
	msg := err.Error()
	if len(msg) > maxErrorLen {
		msg = msg[:maxErrorLen-3] + "..."
	}
	s.LastError, s.LastErrorTime = msg, at
}

// durationBounds are the upper bounds, in seconds, of a Histogram's
// buckets: 5ms to 2 minutes, as a flush or an object upload takes.
var durationBounds = [...]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 60, 120}

// Histogram counts durations in fixed buckets, for a Prometheus histogram.
// It is a value: its owner guards it (the buffer with its lock) and
// hands out copies.
type Histogram struct {
	counts [len(durationBounds) + 1]uint64 // per bucket, not cumulative; the last is above every bound
	sum    time.Duration
}

// Observe counts one duration.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(durationBounds) && s > durationBounds[i] {
		i++
	}
	h.counts[i]++
	h.sum += d
}

// Count is the number of durations observed.
func (h *Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.counts {
		n += c
	}
	return n
}

// Sum is the sum of the durations observed.
func (h *Histogram) Sum() time.Duration { return h.sum }

// Buckets returns the cumulative count of each upper bound, in seconds
// (Prometheus's le), the infinite one left out.
func (h *Histogram) Buckets() map[float64]uint64 {
	m := make(map[float64]uint64, len(durationBounds))
	var n uint64
	for i, le := range durationBounds {
		n += h.counts[i]
		m[le] = n
	}
	return m
}

// Above is the number of durations longer than d, rounded to the bucket
// bound at or above d.
func (h *Histogram) Above(d time.Duration) uint64 {
	s := d.Seconds()
	var n uint64
	for i, c := range h.counts {
		if i == len(durationBounds) || durationBounds[i] > s {
			n += c
		}
	}
	return n
}

// SharedHistogram is a Histogram with its own lock, for an owner without
// one (an output timing its uploads from several flush workers).
type SharedHistogram struct {
	mu sync.Mutex
	h  Histogram
}

// Observe counts one duration.
func (s *SharedHistogram) Observe(d time.Duration) {
	s.mu.Lock()
	s.h.Observe(d)
	s.mu.Unlock()
}

// Snapshot returns a copy of the histogram.
func (s *SharedHistogram) Snapshot() Histogram {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h
}
