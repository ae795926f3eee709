package forward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// detector is Fluentd's phi accrual failure detector over the arrival
// intervals of a server's heartbeats (Hayashibara et al.), with its
// weighted mean and its normalisation to one-second intervals.
type detector struct {
	interval time.Duration // heartbeat_interval
	last     time.Time     // last heartbeat; zero after clear
	window   []time.Duration
}

// maxSamples bounds a detector's window, as Fluentd's SAMPLE_SIZE.
const maxSamples = 1000

func newDetector(interval time.Duration, start time.Time) detector {
	return detector{interval: interval, last: start, window: []time.Duration{interval}}
}

// add records a heartbeat arriving at now.
func (d *detector) add(now time.Time) {
	if len(d.window) == 0 {
		d.window = append(d.window, d.interval)
	} else {
		d.window = append(d.window, now.Sub(d.last))
		if len(d.window) > maxSamples {
			d.window = d.window[1:]
		}
	}
	d.last = now
}

// phi is the suspicion that the server is down at now: log10 of the
// inverse probability that a heartbeat is this late, under an exponential
// model of the intervals (Fluentd's approximation).
func (d *detector) phi(now time.Time) float64 {
	if len(d.window) == 0 {
		return 0
	}
	var sum, fact float64
	for i, gap := range d.window {
		sum += gap.Seconds() * float64(i+1)
		fact += float64(i + 1)
	}
	hb := d.interval.Seconds()
	mean := sum/fact - hb + 1
	t := now.Sub(d.last).Seconds() - hb + 1
	return phiFactor * t / mean
}

// phiFactor is 1/ln(10).
const phiFactor = 0.4342944819032518

// hardTimeout reports whether no heartbeat came for longer than limit.
func (d *detector) hardTimeout(now time.Time, limit time.Duration) bool {
	return limit > 0 && now.Sub(d.last) > limit
}

func (d *detector) clear() {
	d.window = d.window[:0]
	d.last = time.Time{}
}

// heartbeats runs tick every heartbeat_interval until ctx ends.
func (o *Output) heartbeats(ctx context.Context) {
	t := time.NewTicker(o.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			o.tick(ctx)
			if o.ticked != nil {
				o.ticked()
			}
		}
	}
}

// tick probes every server at once, records the heartbeats that succeeded
// and marks servers up or down, as Fluentd's on_heartbeat_timer.
func (o *Output) tick(ctx context.Context) {
	ok := make([]bool, len(o.bal.nodes))
	var wg sync.WaitGroup
	for i, n := range o.bal.nodes {
		wg.Go(func() {
			err := o.probe(ctx, n)
			ok[i] = err == nil
			if err != nil && ctx.Err() == nil {
				o.log.Debug("heartbeat failed", "peer", n.addr, "name", n.name, "err", err)
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	recoverSamples := int(o.cfg.RecoverWait / o.cfg.HeartbeatInterval)
	b := o.bal
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, n := range b.nodes {
		now := b.now()
		if ok[i] {
			n.fd.add(now)
			if n.hbDown && len(n.fd.window) > recoverSamples {
				n.hbDown = false
				o.log.Warn("server recovered", "peer", n.addr, "name", n.name)
			}
		}
		if n.hbDown {
			if n.fd.hardTimeout(now, o.cfg.HardTimeout) {
				n.fd.clear() // recovery needs heartbeats in a row
			}
			continue
		}
		if n.fd.hardTimeout(now, o.cfg.HardTimeout) {
			o.log.Warn("server marked down", "peer", n.addr, "name", n.name, "hard_timeout", o.cfg.HardTimeout)
			n.hbDown = true
			n.fd.clear()
			n.dns.expire()
			continue
		}
		if o.cfg.PhiFailureDetector {
			if phi := n.fd.phi(now); phi > float64(o.cfg.PhiThreshold) {
				o.log.Warn("server marked down", "peer", n.addr, "name", n.name, "phi", phi, "phi_threshold", o.cfg.PhiThreshold)
				n.hbDown = true
				n.fd.clear()
				n.dns.expire()
			}
		}
	}
}

// probe sends one heartbeat to n: a TCP connect (transport) or a UDP
// packet answered by the receiver (udp), each within connect_timeout and
// heartbeat_interval.
func (o *Output) probe(ctx context.Context, n *node) error {
	wait := min(o.connectTimeout, o.cfg.HeartbeatInterval)
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	addr, err := o.resolve(ctx, n, false)
	if err != nil {
		return err
	}
	var d net.Dialer
	switch o.cfg.HeartbeatType {
	case "udp":
		nc, err := d.DialContext(ctx, "udp", addr)
		if err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
		defer nc.Close()
		stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
		defer stop()
		// Fluentd sends a single NUL byte; in_forward (and barge's
		// forward input) answers with one.
		if _, err := nc.Write([]byte{0}); err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
		var b [16]byte
		if _, err := nc.Read(b[:]); err != nil {
			return fmt.Errorf("heartbeat reply: %w", err)
		}
		return nil
	default:
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				n.dns.expire()
			}
			return fmt.Errorf("heartbeat: %w", err)
		}
		return nc.Close()
	}
}
