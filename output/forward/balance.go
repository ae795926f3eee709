package forward

import (
	"sync"
	"time"
)

// node is one <server> and its health.
type node struct {
	cfg  ServerConfig
	addr string // host:port, in errors
	name string // name, or addr

	// guarded by balancer.mu
	downUntil time.Time
	current   int      // smooth weighted round robin state
	hbDown    bool     // marked down by heartbeats
	fd        detector // heartbeat arrivals

	dns dnsCache // dns_round_robin

	pool pool
	st   serverCounters
}

// balancer picks a server: smooth weighted round robin (nginx's) among the
// healthy regular servers, or among the healthy standby ones when no regular
// server is healthy.
type balancer struct {
	mu     sync.Mutex
	nodes  []*node
	now    func() time.Time
	wait   time.Duration // recover_wait
	noDown bool          // heartbeat_type none
}

// pick returns the next server, or nil when every server is down.
func (b *balancer) pick() *node {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if n := b.pickLocked(now, false); n != nil {
		return n
	}
	return b.pickLocked(now, true)
}

func (b *balancer) pickLocked(now time.Time, standby bool) *node {
	var best *node
	total := 0
	for _, n := range b.nodes {
		if n.cfg.Standby != standby || n.cfg.Weight <= 0 || !n.availableLocked(now) {
			continue
		}
		n.current += n.cfg.Weight
		total += n.cfg.Weight
		if best == nil || n.current > best.current {
			best = n
		}
	}
	if best != nil {
		best.current -= total
	}
	return best
}

// availableLocked reports whether n may be picked: neither within
// recover_wait of a failed send nor marked down by heartbeats.
func (n *node) availableLocked(now time.Time) bool {
	return !now.Before(n.downUntil) && !n.hbDown
}

// down marks n down for recover_wait. It reports whether n was up.
func (b *balancer) down(n *node) bool {
	if b.noDown {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	wasUp := !now.Before(n.downUntil)
	n.downUntil = now.Add(b.wait)
	return wasUp
}

// up marks n healthy again after a successful send.
func (b *balancer) up(n *node) {
	b.mu.Lock()
	n.downUntil = time.Time{}
	b.mu.Unlock()
}
