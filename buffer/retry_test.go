package buffer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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
		for range 3 {
			h.append("t", entries(1, t0, 5))
		}
		synctest.Wait() // three workers hold three chunks at the gate
		close(out.gate)
		time.Sleep(time.Hour)
		synctest.Wait()
		// 3 simultaneous failures count as one; then 2 probes, one at a time.
		if n := len(out.callTimes()); n != 5 {
			t.Errorf("%d flush calls, want 5", n)
		}
		if st := b.Stats(); st.Failed != 3 || st.QueuedChunks != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}
