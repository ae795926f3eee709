package forward

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// ack returns the ack frame of id.
func ack(id string) []byte {
	return msgp.AppendString(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "ack"), id)
}

// TestPipelined: the parts of a chunk are written without waiting for
// the acks of the previous ones, and each is acked on its own, in any
// order. The receiver acks nothing until it has every part, then acks
// them last to first: a flush waiting for each ack before the next part
// would time out.
func TestPipelined(t *testing.T) {
	var parts atomic.Int32
	var mu sync.Mutex
	var ids []string
	rs := startRaw(t, func(i int, m rawMsg) []byte {
		mu.Lock()
		defer mu.Unlock()
		ids = append(ids, m.opts["chunk"].(string))
		if len(ids) < int(parts.Load()) {
			return nil
		}
		var b []byte
		for k := len(ids) - 1; k >= 0; k-- {
			b = append(b, ack(ids[k])...)
		}
		return b
	})
	o := newOutput(t, func(c *Config) {
		c.Servers = []ServerConfig{server(rs.port())}
		c.RequireAckResponse = true
		c.AckResponseTimeout = 5 * time.Second
		c.SendChunkSize = 1024
	}, Options{})
	e := entries(0, 100, false)
	c := holdChunk(t, frame{"p", e})
	n := countParts(t, o, c)
	if n < 3 || n > maxInFlight {
		t.Fatalf("%d parts, want 3 to %d", n, maxInFlight)
	}
	parts.Store(int32(n))
	if err := o.Flush(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	var got []rec
	for i := range n {
		m := rs.next(t)
		if m.opts["chunk"] != partID(c.ID, i) {
			t.Fatalf("message %d is part %v, want %s", i, m.opts["chunk"], partID(c.ID, i))
		}
		got = append(got, decodeEntries(t, m.tag, m.payload)...)
	}
	rs.none(t)
	checkRecords(t, got, false, frame{"p", e})
	if st := o.Stats(); st.Acks != int64(n) || st.Messages != int64(n) || st.AckTimeouts != 0 {
		t.Fatalf("stats %+v, want %d messages, each acked", st, n)
	}
}

// TestPipelinedTimeout: a receiver acks every part but one in the middle.
// The flush fails with an ack timeout naming that part; the parts written
// after it were acked and the retry sends only the unacked one.
func TestPipelinedTimeout(t *testing.T) {
	var mu sync.Mutex
	var lost string // the part never acked, set below
	rs := startRaw(t, func(i int, m rawMsg) []byte {
		mu.Lock()
		defer mu.Unlock()
		if m.opts["chunk"] == lost {
			return nil
		}
		return ackReply(i, m)
	})
	clk := &clock{now: time.Unix(baseSec, 0)}
	o := newOutput(t, func(c *Config) {
		c.Servers = []ServerConfig{server(rs.port())}
		c.RequireAckResponse = true
		c.AckResponseTimeout = 500 * time.Millisecond
		c.SendChunkSize = 1024
	}, Options{Now: clk.Now})
	e := entries(0, 100, false)
	c := holdChunk(t, frame{"t", e})
	n := countParts(t, o, c)
	if n < 3 || n > maxInFlight {
		t.Fatalf("%d parts, want 3 to %d", n, maxInFlight)
	}
	mu.Lock()
	lost = partID(c.ID, 1)
	mu.Unlock()

	err := o.Flush(context.Background(), c)
	if !errors.Is(err, ErrAckTimeout) || !strings.Contains(err.Error(), "part 2 ("+lost+")") {
		t.Fatalf("err = %v, want an ack timeout of part 2 (%s)", err, lost)
	}
	sent := make([]rawMsg, n)
	for i := range n {
		sent[i] = rs.next(t)
	}
	rs.none(t)
	if st := o.Stats(); st.Acks != int64(n-1) || st.AckTimeouts != 1 {
		t.Fatalf("stats %+v, want %d acks and 1 timeout", st, n-1)
	}

	clk.add(o.cfg.RecoverWait)
	mu.Lock()
	lost = ""
	mu.Unlock()
	if err := o.Flush(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	m := rs.next(t)
	if m.opts["chunk"] != partID(c.ID, 1) {
		t.Fatalf("retry sent part %v, want only %s", m.opts["chunk"], partID(c.ID, 1))
	}
	rs.none(t)
	var got []rec
	for _, m := range sent {
		got = append(got, decodeEntries(t, m.tag, m.payload)...)
	}
	checkRecords(t, got, false, frame{"t", e})
}

// TestInFlightBound: a receiver that never acks gets maxInFlight parts of
// a larger chunk, no more, before the flush times out; nothing is
// remembered as sent.
func TestInFlightBound(t *testing.T) {
	rs := startRaw(t, func(int, rawMsg) []byte { return nil })
	o := newOutput(t, func(c *Config) {
		c.Servers = []ServerConfig{server(rs.port())}
		c.RequireAckResponse = true
		c.AckResponseTimeout = 200 * time.Millisecond
		c.SendChunkSize = 1024
		c.HeartbeatType = "none"
	}, Options{})
	c := holdChunk(t, frame{"b", entries(0, 600, false)})
	if n := countParts(t, o, c); n <= maxInFlight {
		t.Fatalf("%d parts, want more than %d", n, maxInFlight)
	}
	for range 2 {
		if err := o.Flush(context.Background(), c); !errors.Is(err, ErrAckTimeout) || !strings.Contains(err.Error(), partID(c.ID, 0)) {
			t.Fatalf("err = %v, want an ack timeout of the first part", err)
		}
		for i := range maxInFlight {
			if m := rs.next(t); m.opts["chunk"] != partID(c.ID, i) {
				t.Fatalf("message %d is part %v, want %s", i, m.opts["chunk"], partID(c.ID, i))
			}
		}
		rs.none(t)
	}
}
