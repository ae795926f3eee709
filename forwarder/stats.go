package forwarder

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of the server's counters.
type Stats struct {
	Accepted     int64 // connections accepted
	Active       int64 // connections open now
	Refused      int64 // connections refused beyond max_connections
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
	AuthFailures int64 // failed shared-key or user handshakes
	TLSErrors    int64 // failed TLS handshakes
	Heartbeats   int64 // UDP heartbeats answered
}

type counters struct {
	accepted, active, refused, messages, records, bytes, acks, appendErrors,
	malformed, oversize, oversized, timeouts, invalid, authFailures,
	tlsErrors, heartbeats atomic.Int64
}

// Stats returns a snapshot of the counters. It is safe to call at any time.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		Accepted: c.accepted.Load(), Active: c.active.Load(), Refused: c.refused.Load(),
		Messages: c.messages.Load(), Records: c.records.Load(), Bytes: c.bytes.Load(),
		Acks: c.acks.Load(), AppendErrors: c.appendErrors.Load(), Malformed: c.malformed.Load(),
		Oversize: c.oversize.Load(), Oversized: c.oversized.Load(), Timeouts: c.timeouts.Load(),
		Invalid: c.invalid.Load(), AuthFailures: c.authFailures.Load(), TLSErrors: c.tlsErrors.Load(),
		Heartbeats: c.heartbeats.Load(),
	}
}

// limiter lets through at most one log line per kind per interval and counts
// the ones it held back, so that a flood of bad clients cannot flood the log.
type limiter struct {
	log      *slog.Logger
	interval time.Duration
	mu       sync.Mutex
	last     map[string]time.Time
	held     map[string]int
}

func newLimiter(log *slog.Logger, interval time.Duration) *limiter {
	return &limiter{log: log, interval: interval, last: map[string]time.Time{}, held: map[string]int{}}
}

// warn logs msg at warning level unless a line of the same msg was logged
// within the interval. msg must come from a small fixed set.
func (l *limiter) warn(msg string, args ...any) {
	now := time.Now()
	l.mu.Lock()
	if t, ok := l.last[msg]; ok && now.Sub(t) < l.interval {
		l.held[msg]++
		l.mu.Unlock()
		return
	}
	held := l.held[msg]
	l.last[msg] = now
	l.held[msg] = 0
	l.mu.Unlock()
	if held > 0 {
		args = append(args, "suppressed", held)
	}
	l.log.Warn(msg, args...)
}
