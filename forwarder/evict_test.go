package forwarder

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/barge-dev/barge/forwarder/codec"
	"github.com/tinylib/msgp/msgp"
)

// TestEvictIdle fills max_connections with idle connections: a new client
// (fluent-logger-golang, with acks) is served, the connection idle the
// longest is closed, the others keep being served.
func TestEvictIdle(t *testing.T) {
	cfg := testConfig()
	cfg.MaxConnections = 3
	sink := newSink()
	s, addr, lb := start(t, cfg, sink)
	idle := []*testClient{dial(t, addr), dial(t, addr), dial(t, addr)} // idle since admitted, in this order
	logger := newLogger(t, addr)
	if err := logger.Post("app.new", map[string]string{"a": "b"}); err != nil {
		t.Fatalf("new client not served: %v", err)
	}
	idle[0].closed()
	for _, c := range idle[1:] {
		c.send(message("t", 1, record("a", "b"), chunkOpt(msgp.AppendString(nil, "still"))))
		c.ack()
	}
	if st := s.Stats(); st.Evicted != 1 || st.Refused != 0 {
		t.Fatalf("stats %+v", st)
	}
	lb.Has(t, "idle connection closed for a new one", "peer=127.0.0.1:", "idle=")
}

// delays records the waits before failed handshakes' PONGs instead of
// waiting.
type delays struct {
	mu sync.Mutex
	d  []time.Duration
}

func (r *delays) pause(d time.Duration) {
	r.mu.Lock()
	r.d = append(r.d, d)
	r.mu.Unlock()
}

func securityConfig() Config {
	cfg := testConfig()
	sec := DefaultSecurityConfig()
	sec.SelfHostname, sec.SharedKey = "server.example", "secret"
	cfg.Security = &sec
	return cfg
}

// TestAuthFailureDelay shows that the answer to a failed handshake waits
// longer with each consecutive failure from the address, and that a
// success resets it.
func TestAuthFailureDelay(t *testing.T) {
	var rec delays
	_, addr, _ := startWith(t, securityConfig(), newSink(), func(s *Server) { s.pause = rec.pause })
	for _, key := range []string{"wrong", "wrong", "wrong", "secret", "wrong"} {
		pong := dial(t, addr).handshake("client", key, "", "")
		if pong.OK != (key == "secret") {
			t.Fatalf("key %s: PONG %+v", key, pong)
		}
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 100 * time.Millisecond}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.d) != len(want) {
		t.Fatalf("delays %v, want %v", rec.d, want)
	}
	for i := range want {
		if rec.d[i] != want[i] {
			t.Fatalf("delays %v, want %v", rec.d, want)
		}
	}
}

// TestAuthDelayEndsOnStop shows that stopping the server ends the wait
// before a PONG at once.
func TestAuthDelayEndsOnStop(t *testing.T) {
	srv, err := NewServer(securityConfig(), newSink(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.auth.base, srv.auth.max = time.Hour, time.Hour
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fr := codec.NewFrameReader(nc, 1<<20)
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	helo, err := fr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := codec.DecodeHelo(helo); err != nil {
		t.Fatal(err)
	}
	nc.Write(codec.AppendPing(nil, codec.Ping{Hostname: "c", SharedKeySalt: []byte("s"), SharedKeyDigest: "wrong"}))
	eventually(t, func() bool { return srv.Stats().AuthFailures == 1 }) // now waiting an hour
	cancel()
	b, err := fr.Next()
	if err != nil {
		t.Fatalf("no PONG after stop: %v", err)
	}
	if pong, err := codec.DecodePong(b); err != nil || pong.OK {
		t.Fatalf("PONG %+v %v", pong, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestAuthDelaysTable(t *testing.T) {
	a := newAuthDelays()
	ip := netip.MustParseAddr("192.0.2.1")
	now := time.Unix(1700000000, 0)
	var got []time.Duration
	for range 8 {
		got = append(got, a.failed(ip, now))
	}
	if got[0] != 100*time.Millisecond || got[5] != 3200*time.Millisecond || got[6] != authDelayMax || got[7] != authDelayMax {
		t.Fatalf("delays %v", got)
	}
	if d := a.failed(ip, now.Add(authForget+time.Second)); d != 100*time.Millisecond {
		t.Fatalf("after a quiet while: %v", d)
	}
	a.succeeded(ip)
	if d := a.failed(ip, now); d != 100*time.Millisecond {
		t.Fatalf("after a success: %v", d)
	}
	for i := range authTableSize + 10 {
		a.failed(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), now.Add(time.Duration(i)))
	}
	if len(a.fails) != authTableSize {
		t.Fatalf("%d addresses remembered", len(a.fails))
	}
	if _, ok := a.fails[ip]; ok {
		t.Fatal("the address that failed longest ago was kept")
	}
}
