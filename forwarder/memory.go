package forwarder

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/barge-dev/barge/forwarder/codec"
)

const (
	// memAllowance is what each connection holds without the budget: its
	// small buffers (codec.KeepSmall and the frame reader's first 16 KiB)
	// fit in it, so that clients sending small messages never wait.
	memAllowance = 64 << 10
	// cacheMin is the smallest free buffer the budget keeps for reuse, and
	// cacheMax how many it keeps.
	cacheMin = 64 << 10
	cacheMax = 64
)

// errMemory is wrapped by the error of a connection that gave up waiting
// for memory_limit.
var errMemory = errors.New("forwarder: memory_limit")

var (
	errMemoryTimeout  = fmt.Errorf("%w: waited read_timeout for memory", errMemory)
	errMemoryStop     = fmt.Errorf("%w: server stopping while waiting for memory", errMemory)
	errMemoryDeadlock = fmt.Errorf("%w: every connection holding memory waits for more; the latest message gives way", errMemory)
	errMemoryTooBig   = fmt.Errorf("%w: the message alone needs more than memory_limit", errMemory)
)

// budget is the memory shared by a server's connections: the buffers they
// grow beyond memAllowance each (frames, decompressed payloads, re-encoded
// entries) are charged to it before they are allocated, and given back
// once their message was appended or the connection closed. Free buffers
// are kept for reuse while nobody waits, and count against the limit too,
// so used never exceeds limit.
//
// A connection that does not fit waits, in order of arrival (backpressure:
// it stops reading), until memory is given back, its read_timeout passes
// or the server stops. When every connection holding memory waits for
// more, none could ever proceed: the one whose message started last is
// refused so that the others can.
type budget struct {
	limit int64

	mu      sync.Mutex
	used    int64 // charged to connections, plus cached
	peak    int64
	cached  int64
	free    [][]byte // reused since the last trim
	old     [][]byte // not reused since the last trim: dropped at the next
	queue   []*memWaiter
	holders int // connections with a charge

	waits atomic.Int64
}

// memWaiter is a connection waiting in the budget's queue.
type memWaiter struct {
	m     *connMem
	n     int       // the size it asks for
	since time.Time // when its message started
	wake  chan struct{}
	err   error // set when it must give way
}

// connMem is a connection's account with the budget; it is the
// codec.Allocator of the connection's frame reader and decoder. Only the
// connection's goroutine calls its methods; its counts are guarded by the
// budget's mutex.
type connMem struct {
	b       *budget
	bytes   int64 // capacity of the buffers the connection holds
	charged int64 // max(0, bytes-memAllowance): what the budget lent it
	// deadline and halt bound a wait: the message's read_timeout, and the
	// server's stop. since is when the message started.
	deadline func() (since, deadline time.Time)
	halt     <-chan struct{}
}

var _ codec.Allocator = (*connMem)(nil)

func newBudget(limit int64) *budget { return &budget{limit: limit} }

// plan is what giving a connection a buffer of n bytes takes.
type plan struct {
	i       int   // the cached buffer to reuse, or -1
	size    int64 // its capacity, or n
	charged int64 // the connection's charge after it
	extra   int64 // what is charged to the budget
}

// plan works out a Get: with a cached buffer when one of n to 2n bytes
// is free and taking it fits, else with a new one. Called with b.mu held.
func (b *budget) plan(m *connMem, n int) plan {
	p := plan{i: -1, size: int64(n)}
	if n >= cacheMin {
		if i := b.fit(n); i >= 0 {
			c := plan{i: i, size: int64(cap(b.at(i)))}
			c.charged = max(0, m.bytes+c.size-memAllowance)
			c.extra = c.charged - m.charged
			if c.charged <= b.limit && b.fits(c) {
				return c
			}
		}
	}
	p.charged = max(0, m.bytes+p.size-memAllowance)
	p.extra = p.charged - m.charged
	return p
}

// fits reports whether p can be granted now, evicting cached buffers if
// needed.
func (b *budget) fits(p plan) bool {
	return p.extra <= 0 || b.used-b.cached+p.extra <= b.limit
}

// fit returns the index (in free, then old) of the smallest cached buffer
// of n to 2n bytes, or -1.
func (b *budget) fit(n int) int {
	best, bestCap := -1, 0
	for i := range len(b.free) + len(b.old) {
		c := cap(b.at(i))
		if c >= n && c <= 2*n && (best < 0 || c < bestCap) {
			best, bestCap = i, c
		}
	}
	return best
}

func (b *budget) at(i int) []byte {
	if i < len(b.free) {
		return b.free[i]
	}
	return b.old[i-len(b.free)]
}

// uncache removes cached buffer i and returns it.
func (b *budget) uncache(i int) []byte {
	list := &b.free
	if i >= len(b.free) {
		list, i = &b.old, i-len(b.free)
	}
	buf := (*list)[i]
	last := len(*list) - 1
	(*list)[i] = (*list)[last]
	(*list)[last] = nil
	*list = (*list)[:last]
	b.cached -= int64(cap(buf))
	b.used -= int64(cap(buf))
	return buf
}

// grant applies p. Called with b.mu held, p fitting.
func (b *budget) grant(m *connMem, p plan) []byte {
	var buf []byte
	if p.i >= 0 {
		buf = b.uncache(p.i)
	}
	b.used += p.extra
	for b.used > b.limit { // evict cached buffers, oldest first
		b.uncache(len(b.free) + len(b.old) - 1)
	}
	if m.charged == 0 && p.charged > 0 {
		b.holders++
	}
	m.charged, m.bytes = p.charged, m.bytes+p.size
	b.peak = max(b.peak, b.used)
	return buf
}

// Get returns a buffer of capacity at least n, charging the budget for
// what exceeds the connection's allowance; it waits when that does not fit.
func (m *connMem) Get(n int) ([]byte, error) {
	b := m.b
	b.mu.Lock()
	var w *memWaiter
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if w != nil && w.err != nil { // chosen to give way: already dequeued
			b.mu.Unlock()
			return nil, w.err
		}
		p := b.plan(m, n)
		if p.charged > b.limit {
			if w != nil {
				b.dequeue(w)
			}
			b.mu.Unlock()
			return nil, errMemoryTooBig
		}
		first := w == nil && len(b.queue) == 0 || w != nil && b.queue[0] == w
		if p.extra <= 0 || first && b.fits(p) {
			buf := b.grant(m, p)
			if w != nil {
				b.dequeue(w)
			}
			b.unlock() // wakes the next: it may fit too
			if buf == nil {
				buf = make([]byte, 0, n)
			}
			return buf[:0], nil
		}
		if w == nil {
			since, deadline := m.deadline()
			w = &memWaiter{m: m, n: n, since: since, wake: make(chan struct{}, 1)}
			b.queue = append(b.queue, w)
			b.waits.Add(1)
			timer = time.NewTimer(time.Until(deadline))
			b.unlock() // which may choose w to give way, waking it
		} else {
			b.mu.Unlock()
		}
		var err error
		select {
		case <-w.wake:
		case <-timer.C:
			err = errMemoryTimeout
		case <-m.halt:
			err = errMemoryStop
		}
		b.mu.Lock()
		if err != nil && w.err == nil {
			b.dequeue(w)
			b.unlock()
			return nil, err
		}
	}
}

// Put takes back a buffer from Get, releasing its charge, and keeps it for
// reuse when nobody waits.
func (m *connMem) Put(buf []byte) {
	b := m.b
	b.mu.Lock()
	size := int64(cap(buf))
	m.bytes -= size
	b.release(m, max(0, m.bytes-memAllowance))
	if size >= cacheMin && len(b.queue) == 0 && len(b.free)+len(b.old) < cacheMax && b.used+size <= b.limit {
		b.free = append(b.free, buf[:0])
		b.cached += size
		b.used += size
		b.peak = max(b.peak, b.used)
	}
	b.unlock()
}

// close releases whatever the connection still holds: it is gone.
func (m *connMem) close() {
	m.b.mu.Lock()
	m.bytes = 0
	m.b.release(m, 0)
	m.b.unlock()
}

// release lowers m's charge. Called with b.mu held.
func (b *budget) release(m *connMem, charged int64) {
	if charged >= m.charged {
		return
	}
	b.used -= m.charged - charged
	m.charged = charged
	if charged == 0 {
		b.holders--
	}
}

// dequeue removes w from the queue. Called with b.mu held.
func (b *budget) dequeue(w *memWaiter) {
	for i, q := range b.queue {
		if q == w {
			b.queue = append(b.queue[:i], b.queue[i+1:]...)
			return
		}
	}
}

// unlock wakes the first waiter, or makes one give way when the queue can
// never move, then unlocks b.mu.
func (b *budget) unlock() {
	defer b.mu.Unlock()
	if len(b.queue) == 0 {
		return
	}
	head := b.queue[0]
	select {
	case head.wake <- struct{}{}:
	default:
	}
	// Deadlock: every connection holding memory waits, so none will give
	// any back, and the first waiter does not fit.
	waiting := 0
	var youngest *memWaiter
	for _, w := range b.queue {
		if w.m.charged > 0 {
			waiting++
			if youngest == nil || w.since.After(youngest.since) {
				youngest = w
			}
		}
	}
	hp := b.plan(head.m, head.n)
	if waiting < b.holders || youngest == nil || hp.charged > b.limit || b.fits(hp) {
		return
	}
	youngest.err = errMemoryDeadlock
	b.dequeue(youngest)
	select {
	case youngest.wake <- struct{}{}:
	default:
	}
}

// trim drops the cached buffers not reused since the last trim.
func (b *budget) trim() {
	b.mu.Lock()
	for _, buf := range b.old {
		b.cached -= int64(cap(buf))
		b.used -= int64(cap(buf))
	}
	clear(b.old)
	b.old, b.free = b.free, b.old[:0]
	b.mu.Unlock()
}

// memStats is a snapshot for Stats.
func (b *budget) stats() (inUse, cached, peak, waits int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.cached, b.peak, b.waits.Load()
}
