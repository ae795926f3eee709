package forward

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/barge-dev/barge/forwarder"
)

// startKillable runs a real forward input (TCP, and UDP heartbeats on the
// same port) on bind:port (port 0: any) and returns it, its port and a
// function that stops it; the test's end stops it too.
func startKillable(t *testing.T, bind string, port int, edit func(*forwarder.Config), sk forwarder.Sink) (*forwarder.Server, int, func()) {
	t.Helper()
	cfg := forwarder.DefaultConfig()
	cfg.Bind, cfg.Port = bind, port
	if edit != nil {
		edit(&cfg)
	}
	s, err := forwarder.NewServer(cfg, sk, forwarder.Options{Logger: slog.New(slog.DiscardHandler), Hostname: "receiver"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			s.Close()
		})
	}
	t.Cleanup(stop)
	return s, s.Addr().(*net.TCPAddr).Port, stop
}

// TestDetectorPhi shows phi rising linearly once heartbeats stop, past
// phi_threshold 16 about 38 intervals after the last one, as Fluentd's.
func TestDetectorPhi(t *testing.T) {
	start := time.Unix(baseSec, 0)
	d := newDetector(time.Second, start)
	now := start
	for range 10 {
		now = now.Add(time.Second)
		d.add(now)
	}
	prev := d.phi(now)
	if prev != 0 {
		t.Fatalf("phi right after a heartbeat = %v, want 0", prev)
	}
	crossed := 0
	for s := 1; s <= 60; s++ {
		p := d.phi(now.Add(time.Duration(s) * time.Second))
		if p <= prev {
			t.Fatalf("phi %v at %ds after the last heartbeat, not above %v", p, s, prev)
		}
		if crossed == 0 && p > 16 {
			crossed = s
		}
		prev = p
	}
	if crossed < 36 || crossed > 40 {
		t.Fatalf("phi passed 16 %ds after the last heartbeat, want about 37", crossed)
	}
	// Slower heartbeats make a late one less suspicious.
	slow := newDetector(time.Second, start)
	for i := 1; i <= 10; i++ {
		slow.add(start.Add(time.Duration(3*i) * time.Second))
	}
	late := start.Add(40 * time.Second)
	if a, b := slow.phi(late.Add(-10*time.Second)), d.phi(now.Add(10*time.Second)); a >= b {
		t.Fatalf("phi 10s late: %v with 3s intervals, %v with 1s, want smaller", a, b)
	}
	if !d.hardTimeout(now.Add(61*time.Second), time.Minute) || d.hardTimeout(now.Add(time.Minute), time.Minute) {
		t.Fatal("hard timeout not after 60s")
	}
}

// ticks calls o.tick n times, advancing clk by heartbeat_interval first,
// and returns after how many ticks the server was first marked down (0:
// never).
func ticks(o *Output, clk *clock, n int) int {
	for i := 1; i <= n; i++ {
		clk.add(o.cfg.HeartbeatInterval)
		o.tick(context.Background())
		if o.Stats().Servers[0].Down {
			return i
		}
	}
	return 0
}

// TestHeartbeatKilled shows a server killed after answering heartbeats
// marked down by the phi accrual detector, without any Flush, for both
// heartbeat types against barge's forward input.
func TestHeartbeatKilled(t *testing.T) {
	for _, typ := range []string{"transport", "udp"} {
		t.Run(typ, func(t *testing.T) {
			s, port, kill := startKillable(t, "127.0.0.1", 0, nil, newSink())
			clk := &clock{now: time.Unix(baseSec, 0)}
			o := newOutput(t, func(c *Config) {
				c.Servers = []ServerConfig{server(port)}
				c.HeartbeatType = typ
			}, Options{Now: clk.Now})
			if n := ticks(o, clk, 70); n != 0 {
				t.Fatalf("a live server marked down after %d heartbeats", n)
			}
			if typ == "udp" && s.Stats().Heartbeats != 70 {
				t.Fatalf("the server answered %d UDP heartbeats, want 70", s.Stats().Heartbeats)
			}
			kill()
			n := ticks(o, clk, 100)
			if n < 36 || n > 40 {
				t.Fatalf("marked down %d heartbeats after the kill, want about 37 (phi > 16)", n)
			}
			c := holdChunk(t, frame{"h", entries(0, 1, false)})
			if err := o.Flush(context.Background(), c); !errors.Is(err, ErrNoServer) {
				t.Fatalf("err = %v, want ErrNoServer", err)
			}
		})
	}
}

// TestHardTimeout marks a server that never answered down once
// hard_timeout passed, with or before the phi detector.
func TestHardTimeout(t *testing.T) {
	for _, tt := range []struct {
		name string
		phi  bool
		hard time.Duration
		want int // ticks
	}{
		{"hard_timeout alone", false, 5 * time.Second, 6},
		{"hard_timeout before phi", true, 10 * time.Second, 11},
		{"phi before hard_timeout", true, time.Minute, 37},
		{"neither", false, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{now: time.Unix(baseSec, 0)}
			o := newOutput(t, func(c *Config) {
				c.Servers = []ServerConfig{server(refusedPort(t))}
				c.PhiFailureDetector = tt.phi
				c.HardTimeout = tt.hard
			}, Options{Now: clk.Now})
			if n := ticks(o, clk, 100); n != tt.want {
				t.Fatalf("marked down after %d heartbeats, want %d", n, tt.want)
			}
		})
	}
}

// TestHeartbeatRecover brings a server marked down by heartbeats back
// after recover_wait/heartbeat_interval heartbeats in a row.
func TestHeartbeatRecover(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	clk := &clock{now: time.Unix(baseSec, 0)}
	o := newOutput(t, func(c *Config) {
		c.Servers = []ServerConfig{server(port)}
		c.RecoverWait = 5 * time.Second
		c.HardTimeout = 3 * time.Second
	}, Options{Now: clk.Now})
	if n := ticks(o, clk, 10); n != 4 {
		t.Fatalf("marked down after %d heartbeats, want 4", n)
	}
	// The server comes back: connections queue in the backlog.
	ln, err = net.Listen("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for i := 1; i <= 6; i++ {
		clk.add(time.Second)
		o.tick(context.Background())
		if down := o.Stats().Servers[0].Down; down != (i < 6) {
			t.Fatalf("after %d heartbeats down = %v", i, down)
		}
	}
}

// TestHeartbeatLoop runs the heartbeats of Start against barge's forward
// input until Close, which waits for the goroutine.
func TestHeartbeatLoop(t *testing.T) {
	s, port, _ := startKillable(t, "127.0.0.1", 0, nil, newSink())
	o := newOutput(t, func(c *Config) {
		c.Servers = []ServerConfig{server(port)}
		c.HeartbeatType = "udp"
		c.HeartbeatInterval = 5 * time.Millisecond
	}, Options{})
	ticked := make(chan struct{}, 1)
	o.ticked = func() {
		select {
		case ticked <- struct{}{}:
		default:
		}
	}
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := o.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v, want ErrStarted", err)
	}
	for range 3 {
		select {
		case <-ticked:
		case <-time.After(10 * time.Second):
			t.Fatal("no heartbeat")
		}
	}
	if s.Stats().Heartbeats < 2 {
		t.Fatalf("the server answered %d heartbeats", s.Stats().Heartbeats)
	}
	for range 2 {
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Fatalf("Start after Close: %v, want ErrStarted", err)
	}
}
