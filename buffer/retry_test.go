package buffer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

var errDown = errors.New("output down")

func TestRetryTiming(t *testing.T) {
	tests := []struct {
		name  string
		setup func(c *Config)
		fails int
		gaps  []time.Duration // between attempts
	}{
		{"exponential", func(c *Config) {}, 4, []time.Duration{1, 2, 4, 8}},
		{"exponential base 3 max interval", func(c *Config) {
			c.RetryExponentialBackoffBase = 3
			c.RetryMaxInterval = 5 * time.Second
		}, 4, []time.Duration{1, 3, 5, 5}},
		{"periodic", func(c *Config) {
			c.RetryType = "periodic"
			c.RetryWait = 2 * time.Second
		}, 3, []time.Duration{2, 2, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := testConfig(t, "file")
				cfg.FlushMode = "immediate"
				cfg.RetryRandomize = false
				tt.setup(&cfg)
				out := &recorder{fail: func(n int, _ *Chunk) error {
					if n <= tt.fails {
						return errDown
					}
					return nil
				}}
				b, _ := open(t, cfg, out, Options{})
				h := runBuf(t, b, out)
				defer h.stop()
				h.append("t", entries(2, t0, 5))
				time.Sleep(time.Hour)
				synctest.Wait()
				if len(out.got()) != 1 {
					t.Fatalf("not flushed after retries; calls %d", len(out.callTimes()))
				}
				for i, want := range tt.gaps {
					if got := out.callTimes()[i+1].Sub(out.callTimes()[i]); got != want*time.Second {
						t.Errorf("gap %d: %v, want %v", i, got, want*time.Second)
					}
				}
				if st := b.Stats(); st.Retries != int64(tt.fails) || st.Flushed != 1 {
					t.Errorf("stats %+v", st)
				}
			})
		})
	}
}

func TestRetryRandomize(t *testing.T) {
	cfg := DefaultConfig("memory")
	r := retryState{cfg: &cfg}
	for n := range 5 {
		base := time.Duration(1<<n) * time.Second
		for range 50 {
			if d := r.interval(n); d < base*7/8 || d > base*9/8 {
				t.Fatalf("interval(%d) = %v, want %v ± 12.5%%", n, d, base)
			}
		}
	}
}

func TestRetryLimits(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(c *Config)
		secondary bool
		secFails  bool
		permanent bool
		attempts  int
		failed    int // files in failed/
	}{
		{"max times then secondary", func(c *Config) { c.RetryMaxTimes = 2 }, true, false, false, 3, 0},
		{"max times then failed", func(c *Config) { c.RetryMaxTimes = 2 }, false, false, false, 3, 1},
		{"secondary fails too", func(c *Config) { c.RetryMaxTimes = 1 }, true, true, false, 2, 1},
		{"timeout", func(c *Config) { c.RetryTimeout = 5 * time.Second }, false, false, false, 3, 1},
		{"permanent", func(c *Config) {}, false, false, true, 1, 1},
		{"permanent to secondary", func(c *Config) {}, true, false, true, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := testConfig(t, "file")
				cfg.FlushMode = "immediate"
				cfg.RetryRandomize = false
				tt.setup(&cfg)
				out := &recorder{fail: func(int, *Chunk) error {
					if tt.permanent {
						return Permanent(errDown)
					}
					return errDown
				}}
				sec := &recorder{}
				var opts Options
				if tt.secondary {
					opts.Secondary = sec
					if tt.secFails {
						sec.fail = func(int, *Chunk) error { return errDown }
					}
				}
				b, _ := open(t, cfg, out, opts)
				h := runBuf(t, b, out)
				defer h.stop()
				h.append("t", entries(2, t0, 5))
				time.Sleep(time.Hour)
				synctest.Wait()
				if len(out.callTimes()) != tt.attempts {
					t.Errorf("%d attempts, want %d", len(out.callTimes()), tt.attempts)
				}
				if tt.secondary && !tt.secFails && (len(sec.got()) != 1 || sec.got()[0].Records != 2) {
					t.Errorf("secondary got %+v", sec.got())
				}
				failed := chunkFiles(t, filepath.Join(cfg.Path, "failed"), "q*.chunk")
				if len(failed) != tt.failed {
					t.Errorf("%d chunks in failed/, want %d", len(failed), tt.failed)
				}
				if left := chunkFiles(t, cfg.Path, "*.chunk"); len(left) != 0 {
					t.Errorf("left in the buffer: %v", left)
				}
				st := b.Stats()
				if st.Failed != int64(tt.failed) || st.QueuedChunks != 0 || st.QueuedBytes != 0 {
					t.Errorf("stats %+v", st)
				}
				if tt.failed == 1 {
					// A failed chunk stays readable.
					if _, err := os.Stat(failed[0]); err != nil {
						t.Error(err)
					}
				}
			})
		})
	}
}

func TestRetryBacksOffWholeQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t, "memory")
		cfg.FlushMode = "immediate"
		cfg.RetryRandomize = false
		cfg.FlushThreadCount = 2
		out := &recorder{fail: func(n int, _ *Chunk) error {
			if n == 1 {
				return errDown
			}
			return nil
		}}
		b, _ := open(t, cfg, out, Options{})
		h := runBuf(t, b, out)
		defer h.stop()
		h.append("a", entries(1, t0, 5))
		synctest.Wait()
		h.append("b", entries(1, t0, 5))
		synctest.Wait()
		if len(out.callTimes()) != 1 {
			t.Fatalf("%d calls during the backoff", len(out.callTimes()))
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if len(out.got()) != 2 {
			t.Fatalf("flushed %d chunks after the backoff", len(out.got()))
		}
	})
}

func TestOverflow(t *testing.T) {
	one := int64(len(entries(1, t0, 100)))
	t.Run("throw_exception", func(t *testing.T) {
		cfg := testConfig(t, "file")
		cfg.FlushMode = "lazy"
		cfg.ChunkLimitSize, cfg.TotalLimitSize = one, 2*one
		b, _ := open(t, cfg, &recorder{}, Options{})
		defer b.Close()
		ctx := context.Background()
		for i := range 3 {
			err := b.Append(ctx, "t", entries(1, t0, 100))
			if (i < 2) != (err == nil) || (err != nil && !errors.Is(err, ErrFull)) {
				t.Errorf("append %d: %v", i, err)
			}
		}
	})
	t.Run("block", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			cfg := testConfig(t, "file")
			cfg.FlushMode = "lazy"
			cfg.OverflowAction = "block"
			cfg.ChunkLimitSize, cfg.TotalLimitSize = one, 2*one
			out := &recorder{gate: make(chan struct{})}
			b, _ := open(t, cfg, out, Options{})
			h := runBuf(t, b, out)
			defer h.stop()
			h.append("t", entries(2, t0, 100))
			done := make(chan error)
			go func() { done <- b.Append(context.Background(), "t", entries(1, t0, 100)) }()
			synctest.Wait()
			select {
			case err := <-done:
				t.Fatalf("append did not block: %v", err)
			default:
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() { done <- b.Append(ctx, "t", entries(1, t0, 100)) }()
			synctest.Wait()
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled append: %v", err)
			}
			close(out.gate) // output drains; the first blocked append goes through
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	})
	t.Run("drop_oldest_chunk", func(t *testing.T) {
		cfg := testConfig(t, "file")
		cfg.FlushMode = "lazy"
		cfg.OverflowAction = "drop_oldest_chunk"
		cfg.ChunkLimitSize, cfg.TotalLimitSize = one, 2*one
		b, _ := open(t, cfg, &recorder{}, Options{})
		ctx := context.Background()
		for range 3 {
			if err := b.Append(ctx, "t", entries(1, t0, 100)); err != nil {
				t.Fatal(err)
			}
		}
		b.Close()
		if st := b.Stats(); st.Dropped != 1 || st.QueuedChunks != 2 {
			t.Errorf("stats %+v", st)
		}
		if n := len(chunkFiles(t, cfg.Path, "*.chunk")); n != 2 {
			t.Errorf("%d chunk files, want 2", n)
		}
	})
}

func TestRetryConcurrentFailuresCountOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t, "memory")
		cfg.FlushMode = "lazy"
		cfg.ChunkLimitRecords = 1 // each append's chunk is queued at once
		cfg.FlushThreadCount = 3
		cfg.RetryMaxTimes = 2
		cfg.RetryRandomize = false
		out := &recorder{gate: make(chan struct{}), fail: func(int, *Chunk) error { return errDown }}
		b, _ := open(t, cfg, out, Options{})
		h := runBuf(t, b, out)
		defer h.stop()
		start := time.Now()
		for range 3 {
			h.append("t", entries(1, t0, 5))
		}
		synctest.Wait() // three workers hold three chunks at the gate
		close(out.gate)
		time.Sleep(time.Hour)
		synctest.Wait()
		// The 3 simultaneous failures are one step of the output's backoff;
		// then one probe at a time, each failure a step (1, 2, 4, 8, 16,
		// 32s), until each chunk used its own 3 attempts and alone went
		// aside.
		want := []time.Duration{0, 0, 0, 1, 3, 7, 15, 31, 63}
		calls := out.callTimes()
		if len(calls) != len(want) {
			t.Fatalf("%d flush calls, want %d", len(calls), len(want))
		}
		for i, at := range calls {
			if got := at.Sub(start); got != want[i]*time.Second {
				t.Errorf("call %d at %v, want %v", i, got, want[i]*time.Second)
			}
		}
		if st := b.Stats(); st.Failed != 3 || st.QueuedChunks != 0 || st.FailedRecords < 3 ||
			st.FlushTime.Count() != uint64(len(want)) || st.LastError == "" || st.LastErrorTime.IsZero() {
			t.Errorf("stats %+v", st)
		}
	})
}

// flakyOutput fails every flush of a chunk holding a record with "bad",
// with a permanent error when permanent.
type flakyOutput struct {
	*recorder
	permanent bool
	mu        sync.Mutex
	bad       []time.Time // attempts at the bad chunk
}

func (o *flakyOutput) Flush(ctx context.Context, c *Chunk) error {
	r, err := c.Open()
	if err != nil {
		return err
	}
	_, e, err := r.Next()
	r.Close()
	if err != nil {
		return err
	}
	if bytes.Contains(e, []byte("bad")) {
		o.mu.Lock()
		o.bad = append(o.bad, time.Now())
		o.mu.Unlock()
		if o.permanent {
			return Permanent(errDown)
		}
		return errDown
	}
	return o.recorder.Flush(ctx, c)
}

func (o *flakyOutput) badAttempts() []time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]time.Time(nil), o.bad...)
}

func TestRetryFailingChunkDoesNotBlock(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(c *Config)
		permanent bool
		attempts  int // at the bad chunk within the hour
		failed    int // chunks in failed/
	}{
		{"retry_forever", func(c *Config) { c.RetryForever = true }, false, 12, 0},
		{"retry_max_times", func(c *Config) { c.RetryMaxTimes = 3 }, false, 4, 1},
		{"retry_timeout", func(c *Config) { c.RetryTimeout = 10 * time.Second }, false, 4, 1},
		{"permanent", func(c *Config) {}, true, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := testConfig(t, "file")
				cfg.FlushMode = "immediate"
				cfg.FlushThreadCount = 1
				cfg.RetryRandomize = false
				tt.setup(&cfg)
				out := &flakyOutput{recorder: &recorder{}, permanent: tt.permanent}
				b, _ := open(t, cfg, out, Options{})
				h := runBuf(t, b, out.recorder)
				defer h.stop()
				start := time.Now()
				h.append("t", entry(nil, t0, "msg", "bad"))
				synctest.Wait()
				for range 3 {
					h.append("t", entries(1, t0, 5))
				}
				// The bad chunk, ahead of them, probes at 1s and fails again;
				// the output's backoff then holds every chunk until 3s.
				time.Sleep(3 * time.Second)
				synctest.Wait()
				if n := len(out.got()); n != 3 {
					t.Fatalf("%d good chunks flushed 3s after the bad one failed, want 3", n)
				}
				// Good chunks keep coming, every 2 minutes.
				for range 30 {
					h.append("t", entries(1, t0, 5))
					time.Sleep(2 * time.Minute)
				}
				synctest.Wait()
				if n := len(out.got()); n != 33 {
					t.Errorf("%d good chunks flushed, want 33", n)
				}
				for _, c := range out.got() {
					if wait := c.at.Sub(c.Created); wait > 3*time.Second {
						t.Errorf("a good chunk waited %v for its flush", wait)
					}
				}
				bad := out.badAttempts()
				if len(bad) != tt.attempts {
					t.Errorf("%d attempts at the bad chunk, want %d", len(bad), tt.attempts)
				}
				// Its own backoff: 1, 2, 4, 8s...
				for i := 1; i < len(bad) && i < 5; i++ {
					if gap := bad[i].Sub(bad[i-1]); gap != time.Duration(1<<(i-1))*time.Second {
						t.Errorf("bad chunk retry %d after %v, want %v", i, gap, time.Duration(1<<(i-1))*time.Second)
					}
				}
				failed := chunkFiles(t, filepath.Join(cfg.Path, "failed"), "q*.chunk")
				st := b.Stats()
				if len(failed) != tt.failed || st.Failed != int64(tt.failed) || st.Flushed != 33 ||
					st.QueuedChunks != 1-tt.failed {
					t.Errorf("%d chunks in failed/, stats %+v", len(failed), st)
				}
				if tt.name == "retry_timeout" {
					if at := bad[len(bad)-1].Sub(start); at != 7*time.Second {
						t.Errorf("last attempt at %v, want 7s (the next would be past retry_timeout)", at)
					}
				}
			})
		})
	}
}

func TestRetryFailedChunkGoesToBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t, "memory")
		cfg.FlushMode = "lazy"
		cfg.ChunkKeys = []string{"tag"}
		cfg.ChunkLimitRecords = 1 // each append's chunk is queued at once
		cfg.FlushThreadCount = 1
		cfg.RetryRandomize = false
		out := &recorder{fail: func(n int, _ *Chunk) error {
			if n == 1 {
				return errDown
			}
			return nil
		}}
		b, _ := open(t, cfg, out, Options{})
		for _, tag := range []string{"a", "b", "c"} {
			if err := b.Append(context.Background(), tag, entries(1, t0, 5)); err != nil {
				t.Fatal(err)
			}
		}
		h := runBuf(t, b, out)
		defer h.stop()
		time.Sleep(time.Minute)
		synctest.Wait()
		out.mu.Lock()
		var order []string
		for _, c := range out.chunks {
			order = append(order, c.Tag)
		}
		out.mu.Unlock()
		if strings.Join(order, ",") != "b,c,a" {
			t.Errorf("flush order %v, want b,c,a: the failed chunk behind the others", order)
		}
	})
}

// TestFlushNow: FlushNow (SIGUSR1) flushes a staged chunk long before its
// flush_interval, and a chunk waiting out an hour-long backoff at once.
func TestFlushNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t, "file")
		cfg.FlushMode = "interval"
		cfg.FlushInterval = time.Hour
		out := &recorder{}
		b, _ := open(t, cfg, out, Options{})
		h := runBuf(t, b, out)
		defer h.stop()
		h.append("t", entries(2, t0, 5))
		synctest.Wait()
		if n := len(out.callTimes()); n != 0 {
			t.Fatalf("%d flushes before the interval", n)
		}
		start := time.Now()
		b.FlushNow()
		synctest.Wait()
		if len(out.got()) != 1 || time.Since(start) != 0 {
			t.Fatalf("FlushNow: %d chunks flushed after %v", len(out.got()), time.Since(start))
		}
	})
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t, "file")
		cfg.FlushMode = "immediate"
		cfg.RetryWait = time.Hour
		cfg.RetryRandomize = false
		out := &recorder{fail: func(n int, _ *Chunk) error {
			if n == 1 {
				return errDown
			}
			return nil
		}}
		b, _ := open(t, cfg, out, Options{})
		h := runBuf(t, b, out)
		defer h.stop()
		h.append("t", entries(2, t0, 5))
		synctest.Wait()
		if n := len(out.callTimes()); n != 1 || len(out.got()) != 0 {
			t.Fatalf("%d calls, %d flushed; want one failed call", n, len(out.got()))
		}
		start := time.Now()
		b.FlushNow()
		synctest.Wait()
		if len(out.got()) != 1 || time.Since(start) != 0 {
			t.Fatalf("FlushNow during a backoff: %d chunks flushed after %v", len(out.got()), time.Since(start))
		}
	})
}
