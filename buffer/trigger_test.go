package buffer

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestTriggers(t *testing.T) {
	one := len(entries(1, t0, 50)) // bytes of one entry
	tests := []struct {
		name  string
		setup func(c *Config)
		steps func(t *testing.T, h *harness)
	}{
		{"chunk_limit_size", func(c *Config) {
			c.FlushMode = "lazy"
			c.ChunkLimitSize = int64(4 * one)
		}, func(t *testing.T, h *harness) {
			h.append("t", entries(10, t0, 50)) // 4 + 4 + 2 (staged)
			synctest.Wait()
			got := h.out.got()
			if len(got) != 2 || got[0].Records != 4 || got[1].Records != 4 || got[0].Size != int64(4*one) {
				t.Fatalf("flushed %d chunks: %+v", len(got), got)
			}
			if st := h.b.Stats(); st.StagedChunks != 1 || st.StagedBytes != int64(2*one) {
				t.Errorf("stats %+v", st)
			}
		}},
		{"chunk_limit_records", func(c *Config) {
			c.FlushMode = "lazy"
			c.ChunkLimitRecords = 10
		}, func(t *testing.T, h *harness) {
			for range 5 {
				h.append("t", entries(5, t0, 50))
			}
			synctest.Wait()
			got := h.out.got()
			if len(got) != 2 || got[0].Records != 10 || got[1].Records != 10 {
				t.Fatalf("flushed %+v", got)
			}
			if len(got[0].frames) != 2 {
				t.Errorf("frames %d, want one per append", len(got[0].frames))
			}
		}},
		{"oversized entry", func(c *Config) {
			c.FlushMode = "lazy"
			c.ChunkLimitSize = int64(one)
		}, func(t *testing.T, h *harness) {
			h.append("t", entries(1, t0, 10))
			h.append("t", entries(1, t0, 500))
			synctest.Wait()
			got := h.out.got()
			if len(got) != 2 || h.b.Stats().Oversized != 1 {
				t.Fatalf("flushed %d chunks, stats %+v", len(got), h.b.Stats())
			}
		}},
		{"flush_interval", func(c *Config) {
			c.FlushInterval = 5 * time.Second
		}, func(t *testing.T, h *harness) {
			h.append("t", entries(3, t0, 50))
			time.Sleep(4 * time.Second) // fake time inside the bubble
			synctest.Wait()
			if len(h.out.got()) != 0 {
				t.Fatal("flushed before flush_interval")
			}
			time.Sleep(2 * time.Second)
			synctest.Wait()
			if got := h.out.got(); len(got) != 1 || got[0].Records != 3 {
				t.Fatalf("flushed %+v", got)
			}
		}},
		{"timekey and timekey_wait", func(c *Config) {
			c.ChunkKeys = []string{"time"}
			c.TimeKey = time.Minute
			c.TimeKeyWait = 10 * time.Second
			c.TimeKeyUseUTC = true
		}, func(t *testing.T, h *harness) {
			now := time.Now().Truncate(time.Minute)
			h.append("t", entries(2, now, 50))
			h.append("t", entries(2, now.Add(time.Minute), 50))
			time.Sleep(time.Until(now.Add(69 * time.Second)))
			synctest.Wait()
			if len(h.out.got()) != 0 {
				t.Fatal("flushed before timekey + timekey_wait")
			}
			time.Sleep(2 * time.Second)
			synctest.Wait()
			got := h.out.got()
			if len(got) != 1 || !got[0].TimeKey.Equal(now) {
				t.Fatalf("flushed %+v", got)
			}
			time.Sleep(time.Minute)
			synctest.Wait()
			if len(h.out.got()) != 2 {
				t.Fatal("second window not flushed")
			}
		}},
		{"queued_chunks_limit_size", func(c *Config) {
			c.ChunkKeys = []string{"tag"}
			c.FlushInterval = time.Second
		}, func(t *testing.T, h *harness) {
			h.out.gate = make(chan struct{})
			h.append("a", entries(1, t0, 5))
			h.append("b", entries(1, t0, 5))
			h.append("c", entries(1, t0, 5))
			time.Sleep(2 * time.Second)
			synctest.Wait()
			// one in flight (gated), one queued (limit 1 = flush_thread_count), one staged
			if st := h.b.Stats(); st.QueuedChunks != 2 || st.StagedChunks != 1 {
				t.Errorf("stats %+v", st)
			}
			close(h.out.gate)
			synctest.Wait()
			time.Sleep(time.Second)
			synctest.Wait()
			if len(h.out.got()) != 3 {
				t.Errorf("flushed %d chunks", len(h.out.got()))
			}
		}},
	}
	for _, tt := range tests {
		for _, typ := range []string{"file", "memory"} {
			t.Run(tt.name+"/"+typ, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					cfg := testConfig(t, typ)
					tt.setup(&cfg)
					h := start(t, cfg, Options{})
					defer h.stop()
					tt.steps(t, h)
				})
			})
		}
	}
}

func TestFlushModes(t *testing.T) {
	tests := []struct {
		mode     string
		keys     []string
		interval time.Duration
		want     string
		flushed  bool // after 2 minutes with one small append
	}{
		{"default", nil, 0, "interval", true},
		{"default", []string{"time"}, 0, "lazy", false},
		{"default", []string{"time"}, 30 * time.Second, "interval", true},
		{"interval", []string{"time"}, 0, "interval", true},
		{"lazy", nil, 0, "lazy", false},
		{"immediate", nil, 0, "immediate", true},
	}
	for _, tt := range tests {
		t.Run(tt.mode+"/"+joinKeys(tt.keys), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := testConfig(t, "memory")
				cfg.FlushMode, cfg.ChunkKeys, cfg.FlushInterval = tt.mode, tt.keys, tt.interval
				cfg.TimeKey = time.Hour
				if got := cfg.flushMode(); got != tt.want {
					t.Fatalf("flush mode %s, want %s", got, tt.want)
				}
				h := start(t, cfg, Options{})
				defer h.stop()
				h.append("t", entries(1, time.Now(), 5))
				if tt.mode == "immediate" {
					synctest.Wait()
					if len(h.out.got()) != 1 {
						t.Fatal("immediate did not flush at once")
					}
				}
				time.Sleep(2 * time.Minute)
				synctest.Wait()
				if got := len(h.out.got()) == 1; got != tt.flushed {
					t.Errorf("flushed after 2m: %v, want %v", got, tt.flushed)
				}
			})
		})
	}
}
