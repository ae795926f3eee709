package forwarder

import (
	"net/netip"
	"sync"
	"time"
)

const (
	authDelayBase   = 100 * time.Millisecond // after the first failure
	authDelayMax    = 5 * time.Second
	authForget      = 10 * time.Minute // a streak of failures this old is forgotten
	authTableSize   = 4096             // addresses remembered
	handshakeFrames = 16 << 10         // largest PING accepted
)

// authDelays slows down repeated handshake failures from one address: the
// PONG of a failure waits 100ms, doubling with each consecutive failure up
// to 5s. A success forgets the address. At most authTableSize addresses are
// remembered; beyond, the one that failed longest ago is forgotten.
type authDelays struct {
	base, max time.Duration // authDelayBase, authDelayMax; tests change them

	mu    sync.Mutex
	fails map[netip.Addr]*authFails
}

type authFails struct {
	n    int
	last time.Time
}

func newAuthDelays() *authDelays {
	return &authDelays{base: authDelayBase, max: authDelayMax, fails: map[netip.Addr]*authFails{}}
}

// failed records a failure from ip at now and returns how long its answer
// waits.
func (a *authDelays) failed(ip netip.Addr, now time.Time) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.fails[ip]
	if f == nil {
		if len(a.fails) >= authTableSize {
			var oldest netip.Addr
			var t time.Time
			for k, v := range a.fails {
				if t.IsZero() || v.last.Before(t) {
					oldest, t = k, v.last
				}
			}
			delete(a.fails, oldest)
		}
		f = &authFails{}
		a.fails[ip] = f
	}
	if now.Sub(f.last) > authForget {
		f.n = 0
	}
	f.n++
	f.last = now
	d := a.base << min(f.n-1, 16)
	return min(d, a.max)
}

// succeeded forgets ip's failures.
func (a *authDelays) succeeded(ip netip.Addr) {
	a.mu.Lock()
	delete(a.fails, ip)
	a.mu.Unlock()
}
