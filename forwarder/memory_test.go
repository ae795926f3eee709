package forwarder

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

// account is a connMem for budget tests: no deadline to speak of.
func account(b *budget, halt <-chan struct{}) *connMem {
	return &connMem{b: b, halt: halt, deadline: func() (time.Time, time.Time) {
		now := time.Now()
		return now, now.Add(time.Minute)
	}}
}

func TestBudgetAllowanceAndCache(t *testing.T) {
	b := newBudget(1 << 20)
	halt := make(chan struct{})
	m := account(b, halt)
	small, err := m.Get(32 << 10)
	if err != nil || cap(small) < 32<<10 {
		t.Fatal(err)
	}
	if b.used != 0 { // within the allowance
		t.Fatalf("used %d", b.used)
	}
	big, err := m.Get(512 << 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(32<<10 + 512<<10 - memAllowance); b.used != want || m.charged != want {
		t.Fatalf("used %d charged %d, want %d", b.used, m.charged, want)
	}
	m.Put(big) // cached: still counted
	if b.cached != 512<<10 || b.used != 512<<10 || m.charged != 0 {
		t.Fatalf("after Put: used %d cached %d charged %d", b.used, b.cached, m.charged)
	}
	again, err := m.Get(400 << 10) // reuses it
	if err != nil || &again[:1][0] != &big[:1][0] {
		t.Fatalf("not reused (%v)", err)
	}
	if b.cached != 0 || b.used != int64(32<<10+512<<10-memAllowance) {
		t.Fatalf("after reuse: used %d cached %d", b.used, b.cached)
	}
	m.Put(again)
	b.trim() // not reused since: kept one more round
	b.trim()
	if b.cached != 0 || b.used != 0 {
		t.Fatalf("after trims: used %d cached %d", b.used, b.cached)
	}
	if _, err := m.Get(2 << 20); !errors.Is(err, errMemoryTooBig) {
		t.Fatalf("over the limit alone: %v", err)
	}
	m.Put(small)
	m.close()
	if b.peak > b.limit || b.holders != 0 {
		t.Fatalf("peak %d holders %d", b.peak, b.holders)
	}
}

// TestBudgetWaitsInOrder shows that a connection over the budget waits,
// in order of arrival, while one within its allowance never does. Each
// waiter asks for more than half the budget, so one holds it at a time and
// the order in which they record their turn is the order of their grants.
func TestBudgetWaitsInOrder(t *testing.T) {
	b := newBudget(1 << 20)
	halt := make(chan struct{})
	holder := account(b, halt)
	held, err := holder.Get(900 << 10)
	if err != nil {
		t.Fatal(err)
	}
	var order []int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 3 {
		m := account(b, halt)
		wg.Go(func() {
			buf, err := m.Get(600 << 10)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			m.Put(buf)
			m.close()
		})
		eventually(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.queue) == i+1 })
	}
	if _, err := account(b, halt).Get(60 << 10); err != nil { // within the allowance: no wait
		t.Fatal(err)
	}
	holder.Put(held)
	holder.close()
	wg.Wait()
	if fmt.Sprint(order) != "[0 1 2]" || b.waits.Load() != 3 {
		t.Fatalf("order %v, waits %d", order, b.waits.Load())
	}
	if b.peak > b.limit {
		t.Fatalf("peak %d over %d", b.peak, b.limit)
	}
}

// TestBudgetStress has connections take several buffers each, holding
// what they have while they wait for more: the budget never goes over its
// limit, breaks every deadlock, and ends with nothing charged.
func TestBudgetStress(t *testing.T) {
	b := newBudget(4 << 20)
	halt := make(chan struct{})
	var wg sync.WaitGroup
	var gave sync.Map
	for g := range 8 {
		wg.Go(func() {
			r := mrand.New(mrand.NewPCG(uint64(g), 1))
			for range 100 {
				m := account(b, halt)
				var held [][]byte
				for range 1 + r.IntN(3) {
					buf, err := m.Get(64<<10 + r.IntN(1<<20))
					if err != nil {
						if !errors.Is(err, errMemoryDeadlock) {
							t.Error(err)
						}
						gave.Store(g, true)
						break
					}
					held = append(held, buf)
				}
				for _, buf := range held {
					m.Put(buf)
				}
				m.close()
			}
		})
	}
	wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.peak > b.limit || b.used != b.cached || b.holders != 0 || len(b.queue) != 0 {
		t.Fatalf("peak %d used %d cached %d holders %d queue %d", b.peak, b.used, b.cached, b.holders, len(b.queue))
	}
}

func TestBudgetWaitEnds(t *testing.T) {
	b := newBudget(1 << 20)
	halt := make(chan struct{})
	holder := account(b, halt)
	if _, err := holder.Get(900 << 10); err != nil {
		t.Fatal(err)
	}
	m := account(b, halt)
	m.deadline = func() (time.Time, time.Time) { return time.Now(), time.Now() } // read_timeout passed
	if _, err := m.Get(500 << 10); !errors.Is(err, errMemoryTimeout) {
		t.Fatalf("deadline: %v", err)
	}
	m = account(b, halt)
	done := make(chan error)
	go func() { _, err := m.Get(500 << 10); done <- err }()
	eventually(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.queue) == 1 })
	close(halt)
	if err := <-done; !errors.Is(err, errMemoryStop) {
		t.Fatalf("halt: %v", err)
	}
	if len(b.queue) != 0 {
		t.Fatal("waiter left in the queue")
	}
}

// gateSink holds Appends of tags starting with "bomb" until it is
// opened, and counts them in entered.
type gateSink struct {
	*memSink
	gate    chan struct{}
	once    sync.Once
	entered chan struct{}
}

func newGateSink() *gateSink {
	return &gateSink{memSink: newSink(), gate: make(chan struct{}), entered: make(chan struct{}, 100)}
}

func (g *gateSink) open() { g.once.Do(func() { close(g.gate) }) }

// wait waits for an Append to be held at the gate.
func (g *gateSink) wait(t *testing.T, s *Server, lb *logBuf) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("no Append held at the gate; stats %+v; log:\n%s\n%s", s.Stats(), lb, buf)
	}
}

func (g *gateSink) Append(ctx context.Context, tag string, entries []byte) error {
	if strings.HasPrefix(tag, "bomb") {
		g.entered <- struct{}{}
		select {
		case <-g.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.memSink.Append(ctx, tag, entries)
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// bombEntries returns entries of about size bytes that compress to almost
// nothing.
func bombEntries(size int) []byte {
	e := entry(1, "k", strings.Repeat("v", 1000))
	return bytes.Repeat(e, size/len(e))
}

// TestMemoryLimitUnderBombs sends gzip bombs on many connections at once
// (payloads decompressing to just under chunk_size_limit: valid entries,
// garbage, and over the limit) while a fluent-logger-golang client sends
// records with acks. The bombs wait for memory, in turn; the client never
// waits: every record is acked; memory in use never exceeds memory_limit;
// every bomb connection is served or closed.
func TestMemoryLimitUnderBombs(t *testing.T) {
	const limit = 1 << 20
	cfg := testConfig()
	cfg.ChunkSizeLimit = limit
	cfg.MemoryLimit = 2 * limit
	cfg.MaxConnections = 100
	sink := newGateSink()
	s, addr, lb := start(t, cfg, sink)
	t.Cleanup(sink.open) // before the server stops, should the test fail

	valid := gzipped(bombEntries(limit - 2000))
	garbage := gzipped(make([]byte, limit-2000))
	over := gzipped(make([]byte, 4*limit))
	type result struct {
		kind string
		err  error // nil: acked
	}
	results := make(chan result, 60)
	var bombs sync.WaitGroup
	for i := range 60 {
		kind, payload := "valid", valid
		switch i % 3 {
		case 1:
			kind, payload = "garbage", garbage
		case 2:
			kind, payload = "over", over
		}
		c := dial(t, addr)
		bombs.Go(func() {
			c.send(packed("bomb."+kind, payload, true, chunkOpt(msgp.AppendString(nil, "b"), "compressed", "gzip")))
			_, err := c.read(30 * time.Second)
			c.nc.Close()
			results <- result{kind, err}
		})
	}
	// two valid bombs fit in memory_limit, and stay in Append; the other
	// connections wait for memory
	sink.wait(t, s, lb)
	sink.wait(t, s, lb)
	eventually(t, func() bool { return s.Stats().MemoryWaits >= 10 })

	logger := newLogger(t, addr)
	for i := range 50 {
		if err := logger.Post("app.good", map[string]any{"i": i}); err != nil {
			t.Fatalf("record %d while bombs wait: %v", i, err)
		}
	}
	sink.open()
	bombs.Wait()
	close(results)
	served := map[string]int{}
	for r := range results {
		if r.err == nil {
			served[r.kind]++
		}
	}
	if served["valid"] != 20 || served["garbage"] != 0 || served["over"] != 0 {
		t.Errorf("acked %v, want the 20 valid bombs only", served)
	}
	var good int
	for _, r := range sink.records(t) {
		if r.tag == "app.good" {
			good++
		}
	}
	st := s.Stats()
	if good != 50 || st.MemoryPeak > cfg.MemoryLimit || st.MemoryPeak < limit || st.Malformed != 20 || st.Oversize != 20 {
		t.Fatalf("%d good records; stats %+v", good, st)
	}
	logger.Close()
	eventually(t, func() bool { return s.Stats().Active == 0 })
	if st := s.Stats(); st.MemoryInUse != st.MemoryCached {
		t.Fatalf("memory still charged after every connection closed: %+v", st)
	}
	t.Logf("peak %d of %d, %d waits", st.MemoryPeak, cfg.MemoryLimit, st.MemoryWaits)
	if strings.Contains(lb.String(), "no memory") {
		t.Errorf("a connection gave up waiting:\n%s", lb)
	}
}

// incompressible returns entries of about size bytes of random bin values.
func incompressible(size int) []byte {
	var b []byte
	v := make([]byte, 1000)
	for len(b) < size-1100 {
		rand.Read(v)
		rec := msgp.AppendBytes(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "k"), v)
		b = event.AppendEntry(b, msgp.AppendUint64(nil, 1), rec)
	}
	return b
}

// TestMessageAtChunkSizeLimit shows that with memory_limit at its smallest
// (2 x chunk_size_limit) a message as large as chunk_size_limit that is
// also decompressed to almost chunk_size_limit, and one that needs
// re-encoding, proceed.
func TestMessageAtChunkSizeLimit(t *testing.T) {
	const limit = 1 << 20
	cfg := testConfig()
	cfg.ChunkSizeLimit = limit
	cfg.MemoryLimit = 2 * limit
	sink := newSink()
	s, addr, _ := start(t, cfg, sink)
	c := dial(t, addr)
	stream := incompressible(limit - 20<<10)
	z := gzipped(stream)
	msg := packed("t", z, true, chunkOpt(msgp.AppendString(nil, "z"), "compressed", "gzip"))
	if len(msg) > limit {
		t.Fatalf("test message of %d bytes", len(msg))
	}
	c.send(msg)
	c.ack()
	// v1.5 times: re-encoded into a second buffer
	v15 := msgp.AppendArrayHeader(nil, 2)
	v15 = msgp.AppendArrayHeader(v15, 2)
	v15 = event.AppendEventTime(v15, 1700000000, 1)
	v15 = append(v15, record("m", "x")...)
	v15 = append(v15, record("a", "b")...)
	c.send(packed("t", bytes.Repeat(v15, (limit-100)/len(v15)), true, chunkOpt(msgp.AppendString(nil, "r"))))
	c.ack()
	if st := s.Stats(); st.Messages != 2 || st.MemoryPeak > cfg.MemoryLimit {
		t.Fatalf("stats %+v", st)
	}
}

// TestMemoryWaitTimeout shows that a wait for memory ends after
// read_timeout: the connection is closed, counted and logged.
func TestMemoryWaitTimeout(t *testing.T) {
	const limit = 1 << 20
	cfg := testConfig()
	cfg.ChunkSizeLimit = limit
	cfg.MemoryLimit = 2 * limit
	cfg.ReadTimeout = 300 * time.Millisecond
	sink := newGateSink()
	s, addr, lb := start(t, cfg, sink)
	t.Cleanup(sink.open)
	bomb := packed("bomb", gzipped(bombEntries(limit-2000)), true, chunkOpt(msgp.AppendString(nil, "b"), "compressed", "gzip"))
	holders := []*testClient{dial(t, addr), dial(t, addr)}
	for _, c := range holders {
		c.send(bomb)
		sink.wait(t, s, lb) // appending, holding its memory
	}
	waiter := dial(t, addr)
	waiter.send(bomb)
	waiter.closed()
	if st := s.Stats(); st.MemoryAborts != 1 || st.MemoryWaits != 1 {
		t.Fatalf("stats %+v", st)
	}
	lb.Has(t, "no memory for the message", "peer=127.0.0.1:", "read_timeout")
	sink.open()
	for _, c := range holders {
		c.ack()
	}
}

// TestMemoryWaitEndsOnStop shows that stopping the server ends a wait for
// memory at once, whatever read_timeout.
func TestMemoryWaitEndsOnStop(t *testing.T) {
	const limit = 1 << 20
	cfg := testConfig()
	cfg.ChunkSizeLimit = limit
	cfg.MemoryLimit = 2 * limit
	sink := newGateSink()
	srv, err := NewServer(cfg, sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	addr := srv.Addr().String()
	bomb := packed("bomb", gzipped(bombEntries(limit-2000)), true, chunkOpt(msgp.AppendString(nil, "b"), "compressed", "gzip"))
	holders := []*testClient{dial(t, addr), dial(t, addr)}
	for _, c := range holders {
		c.send(bomb)
		sink.wait(t, srv, &logBuf{})
	}
	waiter := dial(t, addr)
	waiter.send(bomb)
	eventually(t, func() bool { return srv.Stats().MemoryWaits == 1 })
	cancel()
	waiter.closed()
	if st := srv.Stats(); st.MemoryAborts != 1 {
		t.Fatalf("stats %+v", st)
	}
	sink.open() // the holders finish their message, as in any stop
	for _, c := range holders {
		c.ack()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestMemoryDeadlockBroken has two connections each holding a large frame
// and each needing as much again to decompress it: neither could ever
// proceed. The later message gives way; the earlier is served.
func TestMemoryDeadlockBroken(t *testing.T) {
	const limit = 1 << 20
	cfg := testConfig()
	cfg.ChunkSizeLimit = limit
	cfg.MemoryLimit = 2 * limit
	sink := newSink()
	s, addr, lb := start(t, cfg, sink)
	msg := func(chunk string) []byte {
		return packed("t", gzipped(incompressible(900<<10)), true, chunkOpt(msgp.AppendString(nil, chunk), "compressed", "gzip"))
	}
	first, second := dial(t, addr), dial(t, addr)
	m1, m2 := msg("first"), msg("second")
	first.send(m1[:len(m1)-1])
	eventually(t, func() bool { return s.Stats().MemoryInUse > 800<<10 })
	second.send(m2[:len(m2)-1])
	eventually(t, func() bool { return s.Stats().MemoryInUse > 1600<<10 })
	// both frames complete: each needs ~900 KiB more, 300 are free
	first.send(m1[len(m1)-1:])
	eventually(t, func() bool { return s.Stats().MemoryWaits == 1 })
	second.send(m2[len(m2)-1:])
	second.closed()
	if got := first.ack(); !bytes.Equal(got, msgp.AppendString(nil, "first")) {
		t.Fatalf("ack %q", got)
	}
	if st := s.Stats(); st.MemoryAborts != 1 || st.Messages != 1 || st.MemoryPeak > cfg.MemoryLimit {
		t.Fatalf("stats %+v", st)
	}
	lb.Has(t, "no memory for the message", "latest message gives way")
	// the client of the second retries, and is served
	again := dial(t, addr)
	again.send(m2)
	again.ack()
}
