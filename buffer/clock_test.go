package buffer

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock whose time moves only with Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	added  chan struct{} // a timer was created
}

type fakeTimer struct {
	mu      *sync.Mutex // the clock's
	at      time.Time
	c       chan time.Time
	stopped bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }
func (t *fakeTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{mu: &f.mu, at: f.now.Add(d), c: make(chan time.Time, 1)}
	f.timers = append(f.timers, t)
	select {
	case f.added <- struct{}{}:
	default:
	}
	return t
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	for _, t := range f.timers {
		if !t.stopped && !t.at.After(f.now) {
			t.stopped = true
			t.c <- f.now
		}
	}
}

// notifier signals after each flush its recorder recorded.
type notifier struct {
	*recorder
	done chan struct{}
}

func (n notifier) Flush(ctx context.Context, c *Chunk) error {
	err := n.recorder.Flush(ctx, c)
	n.done <- struct{}{}
	return err
}

func TestInjectedClock(t *testing.T) {
	clk := &fakeClock{now: t0, added: make(chan struct{}, 1)}
	cfg := testConfig(t, "file")
	cfg.FlushInterval = 5 * time.Second
	out := notifier{&recorder{}, make(chan struct{}, 1)}
	b, _ := open(t, cfg, out, Options{Clock: clk})
	h := runBuf(t, b, out.recorder)
	defer h.stop()
	h.append("t", entries(2, t0, 5))
	<-clk.added // the enqueuer set a timer for the new chunk's flush_interval
	clk.Advance(4 * time.Second)
	select {
	case <-out.done:
		t.Fatal("flushed before flush_interval")
	default:
	}
	clk.Advance(time.Second)
	<-out.done
	if got := out.got(); len(got) != 1 || !got[0].Created.Equal(t0) {
		t.Errorf("flushed %+v, want one chunk created at the injected clock's %v", got, t0)
	}
}
