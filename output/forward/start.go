package forward

import (
	"context"
	"errors"
	"fmt"
)

// ErrStarted is returned by a second Start, or a Start after Close.
var ErrStarted = errors.New("forward: already started or closed")

// Start runs the startup checks and starts the heartbeats.
//
// With dns_round_robin it resolves every server's host; with
// verify_connection_at_startup it connects to every server (TLS and
// <security> handshake included) and closes the connection. Each failure
// names its server; they are returned together, or logged as warnings with
// ignore_network_errors_at_startup. ctx bounds these checks only.
//
// With heartbeat_type transport or udp it then starts one goroutine that
// probes every server each heartbeat_interval until Close, which waits for
// it. Without Start, servers are marked down only by failed sends.
func (o *Output) Start(ctx context.Context) error {
	o.life.Lock()
	if o.started || o.closed {
		o.life.Unlock()
		return ErrStarted
	}
	o.started = true
	o.life.Unlock()

	if err := o.checkStartup(ctx); err != nil {
		return err
	}
	if o.cfg.HeartbeatType == "none" {
		return nil
	}
	now := o.now()
	o.bal.mu.Lock()
	for _, n := range o.bal.nodes {
		n.fd = newDetector(o.cfg.HeartbeatInterval, now)
	}
	o.bal.mu.Unlock()

	o.life.Lock()
	defer o.life.Unlock()
	if o.closed {
		return ErrStarted
	}
	hctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	o.stop, o.done = stop, make(chan struct{})
	go func() {
		defer close(o.done)
		o.heartbeats(hctx)
	}()
	return nil
}

// checkStartup resolves (dns_round_robin) and connects to
// (verify_connection_at_startup) every server.
func (o *Output) checkStartup(ctx context.Context) error {
	var errs []error
	for _, n := range o.bal.nodes {
		var err error
		if o.cfg.VerifyConnectionAtStartup {
			var cn *conn
			if cn, err = o.dial(ctx, n); err == nil {
				cn.close()
			}
		} else if o.cfg.DNSRoundRobin {
			_, err = o.address(ctx, n)
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if o.cfg.IgnoreNetworkErrorsAtStartup {
			o.log.Warn("server unreachable at startup", "peer", n.addr, "name", n.name, "err", err)
			continue
		}
		errs = append(errs, fmt.Errorf("server %s: %w", n.addr, err))
	}
	return errors.Join(errs...)
}
