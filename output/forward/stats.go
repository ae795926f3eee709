package forward

import "sync/atomic"

// Stats is a snapshot of an Output's counters.
type Stats struct {
	Records     int64 // records written to servers
	Bytes       int64 // bytes of messages written
	Messages    int64 // messages written
	Acks        int64 // acks received
	AckTimeouts int64 // messages whose ack did not come in time
	Errors      int64 // failed flushes
	// Connects counts connections made (TCP, TLS and <security>
	// handshakes done); HandshakeFailures the TLS and <security>
	// handshakes that failed.
	Connects          int64
	HandshakeFailures int64
	Servers           []ServerStats
}

// ServerStats are one server's counters.
type ServerStats struct {
	Name        string
	Addr        string
	Records     int64
	Bytes       int64
	Messages    int64
	Acks        int64
	AckTimeouts int64
	Errors      int64
	Down        bool // marked down now (by a failed send or by heartbeats)
	Idle        int  // connections kept open for the next flush (keepalive)
}

type counters struct {
	records, bytes, messages, acks, ackTimeouts, errors atomic.Int64
	connects, handshakeFailures                         atomic.Int64
}

type serverCounters = counters

func (c *counters) add(s *serverCounters, records int, bytes int64) {
	for _, x := range []*counters{c, s} {
		x.records.Add(int64(records))
		x.bytes.Add(bytes)
		x.messages.Add(1)
	}
}

// Stats returns a snapshot of the counters. It is safe to call at any time.
func (o *Output) Stats() Stats {
	st := Stats{
		Records: o.st.records.Load(), Bytes: o.st.bytes.Load(), Messages: o.st.messages.Load(),
		Acks: o.st.acks.Load(), AckTimeouts: o.st.ackTimeouts.Load(), Errors: o.st.errors.Load(),
		Connects: o.st.connects.Load(), HandshakeFailures: o.st.handshakeFailures.Load(),
	}
	o.bal.mu.Lock()
	now := o.bal.now()
	for _, n := range o.bal.nodes {
		st.Servers = append(st.Servers, ServerStats{
			Name: n.name, Addr: n.addr,
			Records: n.st.records.Load(), Bytes: n.st.bytes.Load(), Messages: n.st.messages.Load(),
			Acks: n.st.acks.Load(), AckTimeouts: n.st.ackTimeouts.Load(), Errors: n.st.errors.Load(),
			Down: !n.availableLocked(now), Idle: n.pool.idleCount(),
		})
	}
	o.bal.mu.Unlock()
	return st
}

// idleCount is the number of connections p keeps.
func (p *pool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}
