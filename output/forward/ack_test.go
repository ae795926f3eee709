package forward

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/forwarder"
)

// TestAckTimeoutRetry: a receiver acks the first two messages of a chunk
// and never the third. Flush fails after ack_response_timeout naming the
// server and the chunk; the retry sends only the unacked part.
func TestAckTimeoutRetry(t *testing.T) {
	var last atomic.Int32 // the index of the part never acked
	last.Store(-1)
	rs := startRaw(t, func(i int, m rawMsg) []byte {
		if i == int(last.Load()) {
			return nil // never acked
		}
		return ackReply(i, m)
	})
	clk := &clock{now: time.Unix(baseSec, 0)}
	o := newOutput(t, func(c *Config) {
		c.Servers = []ServerConfig{server(rs.port())}
		c.RequireAckResponse = true
		c.AckResponseTimeout = 100 * time.Millisecond
		c.SendChunkSize = 1024
	}, Options{Now: clk.Now})
	e := entries(0, 100, false) // about 3.5 KiB: several parts
	c := holdChunk(t, frame{"a", e})
	parts := countParts(t, o, c)
	if parts < 3 {
		t.Fatalf("%d parts, want at least 3", parts)
	}
	last.Store(int32(parts - 1))

	err := o.Flush(context.Background(), c)
	addr := "127.0.0.1:" + itoa(rs.port())
	if !errors.Is(err, ErrAckTimeout) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), c.ID) ||
		!strings.Contains(err.Error(), partID(c.ID, parts-1)) {
		t.Fatalf("err = %v, want an ack timeout naming %s, chunk %s and part %s", err, addr, c.ID, partID(c.ID, parts-1))
	}
	var sent []rawMsg
	for range parts {
		sent = append(sent, rs.next(t))
	}
	rs.none(t)
	if st := o.Stats(); st.AckTimeouts != 1 || st.Acks != int64(parts-1) || !st.Servers[0].Down {
		t.Fatalf("stats %+v, want all acks but one, 1 timeout, the server down", st)
	}

	clk.add(o.cfg.RecoverWait) // the server is back
	if err := o.Flush(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	m := rs.next(t)
	if m.opts["chunk"] != partID(c.ID, parts-1) || !bytes.Equal(m.payload, sent[parts-1].payload) {
		t.Fatalf("retry sent part %v, want only %s", m.opts["chunk"], partID(c.ID, parts-1))
	}
	rs.none(t)
	var got []rec
	for _, m := range sent {
		got = append(got, decodeEntries(t, m.tag, m.payload)...)
	}
	checkRecords(t, got, false, frame{"a", e})

	// The chunk was sent whole: a later flush of it (a new attempt) sends
	// every part again.
	last.Store(-1)
	if err := o.Flush(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	for range parts {
		rs.next(t)
	}
}

// countParts returns how many messages o sends c as.
func countParts(t *testing.T, o *Output, c *buffer.Chunk) int {
	t.Helper()
	r, err := c.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sp := &splitter{r: r, limit: int(o.cfg.SendChunkSize), intTime: o.cfg.TimeAsInteger}
	for n := 0; ; n++ {
		if _, _, _, err := sp.next(); errors.Is(err, io.EOF) {
			return n
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

// TestAckMismatch: a wrong ack fails the flush and is logged once per
// connection.
func TestAckMismatch(t *testing.T) {
	rs := startRaw(t, func(int, rawMsg) []byte {
		return msgp.AppendString(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "ack"), "someone else's")
	})
	var logs strings.Builder
	lg := slog.New(slog.NewTextHandler(&logs, nil))
	o := newOutput(t, func(c *Config) {
		c.Servers = []ServerConfig{server(rs.port())}
		c.RequireAckResponse = true
		c.HeartbeatType = "none"
	}, Options{Logger: lg})
	c := holdChunk(t, frame{"m", entries(0, 2, false)})
	for range 2 {
		if err := o.Flush(context.Background(), c); !errors.Is(err, errAckMismatch) || !strings.Contains(err.Error(), c.ID) {
			t.Fatalf("err = %v, want a mismatched ack naming the chunk", err)
		}
	}
	if n := strings.Count(logs.String(), "unexpected response"); n != 2 {
		t.Errorf("%d log lines for two connections, want 2:\n%s", n, logs.String())
	}
}

// TestCancel: a flush waiting for an ack ends with its context.
func TestCancel(t *testing.T) {
	rs := startRaw(t, func(int, rawMsg) []byte { return nil })
	o := newOutput(t, func(c *Config) {
		c.Servers = []ServerConfig{server(rs.port())}
		c.RequireAckResponse = true
		c.AckResponseTimeout = time.Hour
	}, Options{})
	c := holdChunk(t, frame{"c", entries(0, 2, false)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Flush(ctx, c) }()
	rs.next(t) // the message arrived; the flush waits for its ack
	cancel()
	select {
	case err := <-done:
		if err == nil || errors.Is(err, ErrAckTimeout) {
			t.Fatalf("err = %v, want the cancellation", err)
		}
		if o.Stats().Servers[0].Down {
			t.Error("a cancelled flush marked the server down")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Flush did not end with its context")
	}
}

// TestKeepaliveStale: a server that closed the kept connection (deny_keepalive)
// costs a new connection, not an error.
func TestKeepaliveStale(t *testing.T) {
	sk := newSink()
	_, port := startServer(t, func(c *forwarder.Config) { c.DenyKeepalive = true }, sk)
	o := newOutput(t, func(c *Config) {
		c.Servers = []ServerConfig{server(port)}
		c.RequireAckResponse = true
		c.Keepalive = true
	}, Options{})
	c := holdChunk(t, frame{"k", entries(0, 4, false)})
	for range 3 {
		if err := o.Flush(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	sk.wait(t, 12)
}

func FuzzCheckAck(f *testing.F) {
	ack := func(v []byte) []byte { return append(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "ack"), v...) }
	f.Add(ack(msgp.AppendString(nil, "abc")), "abc")
	f.Add(ack(msgp.AppendBytes(nil, []byte("abc"))), "abc")
	f.Add(ack(msgp.AppendInt(nil, 5)), "5")
	f.Add([]byte{0x81, 0xa3, 'a', 'c', 'k'}, "")
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff}, "x")
	f.Fuzz(func(t *testing.T, frame []byte, want string) {
		err := checkAck(frame, want)
		if err == nil && !bytes.Contains(frame, []byte(want)) {
			t.Fatalf("ack %x accepted for %q", frame, want)
		}
	})
}
