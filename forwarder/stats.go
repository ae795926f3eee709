package forwarder

import (
	"sync/atomic"
)

// Stats is a snapshot of the server's counters.
type Stats struct {
	Accepted     int64 // connections accepted
	Active       int64 // connections open now
	Refused      int64 // connections refused beyond max_connections (none idle to close)
	Evicted      int64 // idle connections closed to admit a new one at max_connections
	Messages     int64 // messages appended
	Records      int64 // entries appended
	Bytes        int64 // bytes of frames received in appended messages
	Acks         int64 // acks sent
	AppendErrors int64 // Sink.Append failures (no ack sent)
	Malformed    int64 // connections closed for malformed msgpack or message shape
	Oversize     int64 // connections closed for a frame over chunk_size_limit
	Oversized    int64 // frames over chunk_size_warn_limit (warned, accepted)
	Timeouts     int64 // connections closed for stalling mid-frame or in a handshake
	Invalid      int64 // entries dropped by skip_invalid_event
	BadTags      int64 // connections closed for a tag refused by event.CheckTag (after add_tag_prefix)
	TooDeep      int64 // records nested deeper than event.MaxDepth: the connection closed, or with skip_invalid_event the entry dropped (and counted in Invalid)
	AuthFailures int64 // failed shared-key or user handshakes
	TLSErrors    int64 // failed TLS handshakes
	Heartbeats   int64 // UDP heartbeats answered

	// memory_limit: the buffers connections hold beyond their 64 KiB each.
	MemoryInUse  int64 // bytes charged now, free buffers kept for reuse included
	MemoryCached int64 // of MemoryInUse, the free buffers kept for reuse
	MemoryPeak   int64 // high-water mark of MemoryInUse; never above memory_limit
	MemoryWaits  int64 // times a connection waited for memory (it stopped reading)
	MemoryAborts int64 // connections closed waiting for memory: read_timeout, server stop, a deadlock broken, or a message needing more than memory_limit alone
}

type counters struct {
	accepted, active, refused, evicted, messages, records, bytes, acks,
	appendErrors, malformed, oversize, oversized, timeouts, invalid, badTags,
	tooDeep, authFailures, tlsErrors, heartbeats, memoryAborts atomic.Int64
}

// Stats returns a snapshot of the counters. It is safe to call at any time.
func (s *Server) Stats() Stats {
	c := &s.stats
	inUse, cached, peak, waits := s.mem.stats()
	return Stats{
		Accepted: c.accepted.Load(), Active: c.active.Load(), Refused: c.refused.Load(), Evicted: c.evicted.Load(),
		Messages: c.messages.Load(), Records: c.records.Load(), Bytes: c.bytes.Load(),
		Acks: c.acks.Load(), AppendErrors: c.appendErrors.Load(), Malformed: c.malformed.Load(),
		Oversize: c.oversize.Load(), Oversized: c.oversized.Load(), Timeouts: c.timeouts.Load(),
		Invalid: c.invalid.Load(), BadTags: c.badTags.Load(), TooDeep: c.tooDeep.Load(),
		AuthFailures: c.authFailures.Load(), TLSErrors: c.tlsErrors.Load(), Heartbeats: c.heartbeats.Load(),
		MemoryInUse: inUse, MemoryCached: cached, MemoryPeak: peak, MemoryWaits: waits,
		MemoryAborts: c.memoryAborts.Load(),
	}
}
