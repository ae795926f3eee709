package forwarder

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// A reload hands the sockets from one server to the next: the port stays
// bound, a client that connects in between waits in the backlog and is
// served by the successor, and no acked message is lost.
func TestHandover(t *testing.T) {
	sink := newSink()
	a, err := NewServer(testConfig(), sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	addr := a.Addr().String()
	c1 := dial(t, addr)
	c1.send(message("t", 1, record("n", "1"), chunkOpt(msgp.AppendString(nil, "1"))))
	if got := c1.ack(); !bytes.Equal(got, msgp.AppendString(nil, "1")) {
		t.Fatalf("ack %q", got)
	}
	socks, err := a.Handover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := within(t, done); err != nil {
		t.Fatalf("Run: %v", err)
	}
	c1.closed() // its client reconnects, as Fluentd's out_forward does

	// between the two servers: the connection is queued, not refused
	c2 := dial(t, addr)
	c2.send(message("t", 2, record("n", "2"), chunkOpt(msgp.AppendString(nil, "2"))))

	b, err := NewServer(testConfig(), sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Adopt(socks); err != nil {
		t.Fatal(err)
	}
	if err := b.Listen(); err != nil {
		t.Fatal(err)
	}
	if got := b.Addr().String(); got != addr {
		t.Fatalf("successor listens on %s, want %s", got, addr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	defer func() {
		cancel()
		if err := within(t, done); err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	if got := c2.ack(); !bytes.Equal(got, msgp.AppendString(nil, "2")) {
		t.Fatalf("ack %q", got)
	}
	// the heartbeat socket came along
	uc, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	if _, err := uc.Write([]byte{0}); err != nil {
		t.Fatal(err)
	}
	uc.SetReadDeadline(time.Now().Add(10 * time.Second))
	reply := make([]byte, 8)
	if n, err := uc.Read(reply); err != nil || n != 1 {
		t.Fatalf("heartbeat reply: %d bytes, %v", n, err)
	}
	recs := sink.records(t)
	if len(recs) != 2 || recs[0].r["n"] != "1" || recs[1].r["n"] != "2" {
		t.Fatalf("records %+v", recs)
	}
	// the predecessor is closed and cannot hand over twice
	if _, err := a.Handover(context.Background()); err == nil {
		t.Fatal("second Handover succeeded")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}
