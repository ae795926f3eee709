package buffer

import "time"

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
	// LastFlush is when the output last flushed a chunk (zero: never).
	LastFlush time.Time
}

// total is the staged and queued bytes counted against total_limit_size.
func (s *Stats) total() int64 { return s.StagedBytes + s.QueuedBytes }
