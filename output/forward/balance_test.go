package forward

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// TestWeighted shows that two servers of weight 60 and 20 share flushes
// about 3:1.
func TestWeighted(t *testing.T) {
	sk1, sk2 := newSink(), newSink()
	s1, p1 := startServer(t, nil, sk1)
	s2, p2 := startServer(t, nil, sk2)
	o := newOutput(t, func(c *Config) {
		a, b := server(p1), server(p2)
		b.Weight = 20
		c.Servers = []ServerConfig{a, b}
		c.RequireAckResponse = true
		c.Keepalive = true
	}, Options{})
	c := holdChunk(t, frame{"w", entries(0, 1, false)})
	const flushes = 400
	for range flushes {
		if err := o.Flush(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	n1, n2 := s1.Stats().Messages, s2.Stats().Messages
	if n1+n2 != flushes || n1 < 270 || n1 > 330 {
		t.Fatalf("server of weight 60 got %d flushes, of weight 20 %d; want about 300:100", n1, n2)
	}
	st := o.Stats()
	if st.Servers[0].Messages != n1 || st.Servers[1].Messages != n2 {
		t.Errorf("stats per server %+v, want %d and %d", st.Servers, n1, n2)
	}
}

// refusedPort returns a port nothing listens on.
func refusedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// TestStandby shows the standby server used only while the regular one is
// down, and a server refusing connections marked down with an error naming
// it and the chunk.
func TestStandby(t *testing.T) {
	sk := newSink()
	standby, sp := startServer(t, nil, sk)
	dead := refusedPort(t)
	clk := &clock{now: time.Unix(baseSec, 0)}
	o := newOutput(t, func(c *Config) {
		reg, sb := server(dead), server(sp)
		sb.Standby = true
		c.Servers = []ServerConfig{reg, sb}
		c.RequireAckResponse = true
	}, Options{Now: clk.Now})
	c := holdChunk(t, frame{"s", entries(0, 5, false)})

	err := o.Flush(context.Background(), c)
	deadAddr := "127.0.0.1:" + itoa(dead)
	if err == nil || !strings.Contains(err.Error(), deadAddr) || !strings.Contains(err.Error(), c.ID) {
		t.Fatalf("err = %v, want one naming %s and chunk %s", err, deadAddr, c.ID)
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Errorf("err = %v, want the connection error", err)
	}
	if st := o.Stats(); !st.Servers[0].Down || st.Servers[1].Down || st.Errors != 1 {
		t.Fatalf("stats %+v, want the regular server down", st)
	}
	// The retry goes to the standby server.
	if err := o.Flush(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if standby.Stats().Records != 5 {
		t.Fatalf("standby got %d records", standby.Stats().Records)
	}
	// After recover_wait the regular server is tried again (and fails).
	clk.add(o.cfg.RecoverWait)
	if err := o.Flush(context.Background(), c); err == nil || !strings.Contains(err.Error(), deadAddr) {
		t.Fatalf("err = %v, want the regular server tried again", err)
	}
}

// TestAllDown shows the error when no server is left.
func TestAllDown(t *testing.T) {
	o := newOutput(t, func(c *Config) { c.Servers = []ServerConfig{server(refusedPort(t))} }, Options{})
	c := holdChunk(t, frame{"d", entries(0, 1, false)})
	if err := o.Flush(context.Background(), c); err == nil {
		t.Fatal("flush to a closed port succeeded")
	}
	if err := o.Flush(context.Background(), c); !errors.Is(err, ErrNoServer) || !strings.Contains(err.Error(), c.ID) {
		t.Fatalf("err = %v, want ErrNoServer naming the chunk", err)
	}
}

// TestHeartbeatNone never marks a server down.
func TestHeartbeatNone(t *testing.T) {
	dead := refusedPort(t)
	o := newOutput(t, func(c *Config) {
		c.Servers = []ServerConfig{server(dead)}
		c.HeartbeatType = "none"
	}, Options{})
	c := holdChunk(t, frame{"d", entries(0, 1, false)})
	for range 2 {
		if err := o.Flush(context.Background(), c); err == nil || errors.Is(err, ErrNoServer) {
			t.Fatalf("err = %v, want a connection error", err)
		}
	}
}

// TestKeepalive reuses one connection across flushes, and opens a new one
// per flush without keepalive.
func TestKeepalive(t *testing.T) {
	for _, keep := range []bool{true, false} {
		rs := startRaw(t, ackReply)
		o := newOutput(t, func(c *Config) {
			c.Servers = []ServerConfig{server(rs.port())}
			c.RequireAckResponse = true
			c.Keepalive = keep
		}, Options{})
		c := holdChunk(t, frame{"k", entries(0, 3, false)})
		for range 3 {
			if err := o.Flush(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			rs.next(t)
		}
		rs.mu.Lock()
		n := rs.accepts
		rs.mu.Unlock()
		if want := map[bool]int{true: 1, false: 3}[keep]; n != want {
			t.Errorf("keepalive %v: %d connections, want %d", keep, n, want)
		}
	}
}

// TestClose is idempotent, works without a flush, and closes kept
// connections; a flush after it does not keep its connection.
func TestClose(t *testing.T) {
	rs := startRaw(t, ackReply)
	o := newOutput(t, func(c *Config) {
		c.Servers = []ServerConfig{server(rs.port())}
		c.RequireAckResponse = true
		c.Keepalive = true
	}, Options{})
	c := holdChunk(t, frame{"k", entries(0, 1, false)})
	if err := o.Flush(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Flush(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if n := len(o.bal.nodes[0].pool.idle); n != 0 {
		t.Fatalf("%d connections kept after Close", n)
	}
}
