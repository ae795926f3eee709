package forward

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// twoAddrs starts barge's forward input on 127.0.0.1 and 127.0.0.2 at the
// same port and returns the servers' message counters and the port.
func twoAddrs(t *testing.T) (func() (int64, int64), int) {
	t.Helper()
	for range 10 {
		s1, port, _ := startKillable(t, "127.0.0.1", 0, nil, newSink())
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.2", itoa(port)))
		if err != nil {
			continue // port taken there: try another
		}
		ln.Close()
		s2, _, _ := startKillable(t, "127.0.0.2", port, nil, newSink())
		return func() (int64, int64) { return s1.Stats().Messages, s2.Stats().Messages }, port
	}
	t.Fatal("no port free on both 127.0.0.1 and 127.0.0.2")
	return nil, 0
}

// TestDNSRoundRobin spreads connections over a host's two addresses in
// turn, resolving it as expire_dns_cache says.
func TestDNSRoundRobin(t *testing.T) {
	msgs, port := twoAddrs(t)
	for _, tt := range []struct {
		name    string
		expire  time.Duration
		lookups int // over 2 flushes, 10s, then 2 flushes
	}{
		{"cached forever", -1, 1},
		{"no cache", 0, 4},
		{"expire_dns_cache 10s", 10 * time.Second, 2},
		{"expire_dns_cache 1m", time.Minute, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var lookups atomic.Int32
			clk := &clock{now: time.Unix(baseSec, 0)}
			o := newOutput(t, func(c *Config) {
				s := DefaultServerConfig("backend.test")
				s.Port = port
				c.Servers = []ServerConfig{s}
				c.RequireAckResponse = true
				c.DNSRoundRobin = true
				c.ExpireDNSCache = tt.expire
			}, Options{Now: clk.Now, LookupHost: func(_ context.Context, host string) ([]string, error) {
				if host != "backend.test" {
					return nil, errors.New("unknown host " + host)
				}
				lookups.Add(1)
				return []string{"127.0.0.1", "127.0.0.2"}, nil
			}})
			c := holdChunk(t, frame{"d", entries(0, 1, false)})
			a0, b0 := msgs()
			for i := range 4 {
				if i == 2 {
					clk.add(10 * time.Second)
				}
				if err := o.Flush(context.Background(), c); err != nil {
					t.Fatal(err)
				}
			}
			a, b := msgs()
			if a-a0 != 2 || b-b0 != 2 {
				t.Fatalf("127.0.0.1 got %d messages, 127.0.0.2 %d; want 2 each", a-a0, b-b0)
			}
			if n := lookups.Load(); int(n) != tt.lookups {
				t.Fatalf("%d lookups, want %d", n, tt.lookups)
			}
		})
	}
}

// TestDNSStartup resolves every host at Start with dns_round_robin,
// naming the server whose host does not resolve unless
// ignore_network_errors_at_startup.
func TestDNSStartup(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		o := newOutput(t, func(c *Config) {
			c.Servers = []ServerConfig{DefaultServerConfig("nowhere.test")}
			c.DNSRoundRobin = true
			c.HeartbeatType = "none"
			c.IgnoreNetworkErrorsAtStartup = ignore
		}, Options{LookupHost: func(context.Context, string) ([]string, error) {
			return nil, &net.DNSError{Err: "no such host", Name: "nowhere.test", IsNotFound: true}
		}})
		err := o.Start(context.Background())
		if ignore {
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "server nowhere.test:24224") {
			t.Fatalf("err = %v, want it naming nowhere.test:24224", err)
		}
	}
}
