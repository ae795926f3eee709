package forward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// dnsCache is a server's resolved addresses (dns_round_robin).
type dnsCache struct {
	mu    sync.Mutex
	addrs []string
	at    time.Time // when resolved
	next  int
}

// expire drops the cached addresses: the next connection resolves again.
func (c *dnsCache) expire() {
	c.mu.Lock()
	c.addrs = nil
	c.mu.Unlock()
}

// errNoAddress is wrapped when a host resolves to no address.
var errNoAddress = errors.New("forward: no address")

// address returns the host:port to connect to n: n's own without
// dns_round_robin, or else the next of the host's addresses, resolved
// again when expire_dns_cache has passed (0: every time; negative: never).
// A heartbeat peeks: it probes the address the next connection will use.
func (o *Output) address(ctx context.Context, n *node) (string, error) {
	return o.resolve(ctx, n, true)
}

func (o *Output) resolve(ctx context.Context, n *node, advance bool) (string, error) {
	if !o.cfg.DNSRoundRobin {
		return n.addr, nil
	}
	c := &n.dns
	c.mu.Lock()
	defer c.mu.Unlock()
	now := o.now()
	ttl := o.cfg.ExpireDNSCache
	if len(c.addrs) == 0 || ttl == 0 || (ttl > 0 && now.Sub(c.at) >= ttl) {
		addrs, err := o.lookup(ctx, n.cfg.Host)
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", n.cfg.Host, err)
		}
		if len(addrs) == 0 {
			return "", fmt.Errorf("resolve %s: %w", n.cfg.Host, errNoAddress)
		}
		c.addrs, c.at = addrs, now
	}
	a := c.addrs[c.next%len(c.addrs)]
	if advance {
		c.next++
	}
	return net.JoinHostPort(a, strconv.Itoa(n.cfg.Port)), nil
}
