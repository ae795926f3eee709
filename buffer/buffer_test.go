package buffer

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/barge-dev/barge/buffer/event"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func TestAppendFlushPurge(t *testing.T) {
	for _, typ := range []string{"file", "memory"} {
		t.Run(typ, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := testConfig(t, typ)
				cfg.FlushMode = "immediate"
				h := start(t, cfg, Options{})
				defer h.stop()
				buf := entries(3, t0, 10)
				h.append("app.a", buf)
				buf[0] = 0 // the buffer copied it
				h.append("app.b", entries(2, t0.Add(time.Second), 10))
				synctest.Wait()
				got := h.out.got()
				if len(got) != 2 || got[0].Records+got[1].Records != 5 {
					t.Fatalf("flushed %+v", got)
				}
				// "tag" is not a chunk key, so frames carry it.
				var tags []string
				for _, c := range got {
					if c.Tag != "" || len(c.ID) != 32 {
						t.Errorf("chunk tag %q id %q", c.Tag, c.ID)
					}
					for _, f := range c.frames {
						tags = append(tags, f.tag)
					}
				}
				if len(tags) != 2 || tags[0] == tags[1] {
					t.Errorf("frame tags %v", tags)
				}
				if got[0].frames[0].entries[0] != 0x92 {
					t.Error("entries were not copied")
				}
				if got[0].First.IsZero() || got[0].Size == 0 {
					t.Errorf("chunk %+v", got[0].Chunk)
				}
				st := h.b.Stats()
				if st.Flushed != 2 || st.QueuedChunks != 0 || st.StagedBytes != 0 || st.Records != 5 {
					t.Errorf("stats %+v", st)
				}
				if typ == "file" {
					if left := chunkFiles(t, cfg.Path, "*.chunk"); len(left) != 0 {
						t.Errorf("not purged: %v", left)
					}
				}
			})
		})
	}
}

func TestChunkKeys(t *testing.T) {
	tests := []struct {
		keys   []string
		chunks int
		check  func(t *testing.T, c flushed)
	}{
		{nil, 1, func(t *testing.T, c flushed) {
			if c.Tag != "" || c.Keys != nil || !c.TimeKey.IsZero() {
				t.Errorf("metadata %+v", c.Chunk)
			}
		}},
		{[]string{"tag"}, 2, func(t *testing.T, c flushed) {
			if c.Tag != "a" && c.Tag != "b" {
				t.Errorf("tag %q", c.Tag)
			}
		}},
		{[]string{"time"}, 2, func(t *testing.T, c flushed) {
			if !c.TimeKey.Equal(t0) && !c.TimeKey.Equal(t0.Add(time.Hour)) {
				t.Errorf("timekey %v", c.TimeKey)
			}
			if c.First.Before(c.TimeKey) || !c.Last.Before(c.TimeKey.Add(time.Hour)) {
				t.Errorf("first %v last %v outside %v", c.First, c.Last, c.TimeKey)
			}
		}},
		{[]string{"user"}, 3, func(t *testing.T, c flushed) {
			if v := c.Keys["user"]; v != "alice" && v != "42" && v != "" {
				t.Errorf("user %q", v)
			}
			if len(c.frames) != 2 || c.Records != 4 {
				t.Errorf("user %q: %d frames, %d records; want one frame per append", c.Keys["user"], len(c.frames), c.Records)
			}
		}},
		{[]string{"tag", "time", "user"}, 2 * 2 * 3, func(t *testing.T, c flushed) {
			if c.Tag == "" || c.TimeKey.IsZero() || c.Keys == nil {
				t.Errorf("metadata %+v", c.Chunk)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(joinKeys(tt.keys), func(t *testing.T) {
			for _, typ := range []string{"file", "memory"} {
				cfg := testConfig(t, typ)
				cfg.ChunkKeys = tt.keys
				cfg.TimeKey = time.Hour
				cfg.TimeKeyUseUTC = true
				out := &recorder{}
				b, _ := open(t, cfg, out, Options{})
				for _, tag := range []string{"a", "b"} {
					var e []byte
					for i, at := range []time.Time{t0, t0.Add(time.Hour + time.Minute)} {
						e = entry(e, at.Add(time.Duration(i)*time.Second), "user", "alice", "n", 1)
						e = entry(e, at, "user", 42)
						e = entry(e, at, "other", true)
					}
					if err := b.Append(context.Background(), tag, e); err != nil {
						t.Fatal(err)
					}
				}
				if err := b.Drain(context.Background()); err != nil {
					t.Fatal(err)
				}
				got := out.got()
				if len(got) != tt.chunks || out.records() != 12 {
					t.Fatalf("%s: %d chunks with %d records, want %d chunks", typ, len(got), out.records(), tt.chunks)
				}
				for _, c := range got {
					tt.check(t, c)
				}
				b.Close()
			}
		})
	}
}

func joinKeys(k []string) string {
	if len(k) == 0 {
		return "none"
	}
	s := k[0]
	for _, v := range k[1:] {
		s += "," + v
	}
	return s
}

func TestAppendMalformed(t *testing.T) {
	cfg := testConfig(t, "memory")
	cfg.ChunkKeys = []string{"user"}
	b, _ := open(t, cfg, &recorder{}, Options{})
	defer b.Close()
	good := entries(1, t0, 5)
	for name, e := range map[string][]byte{
		"not array":    {0xc0},
		"bad time":     append([]byte{0x92, 0xa1, 'x'}, 0x80),
		"record array": {0x92, 0x01, 0x90},
		"truncated":    good[:len(good)-2],
		"negative":     {0x92, 0xd0, 0xff, 0x80},
	} {
		if err := b.Append(context.Background(), "t", e); !errors.Is(err, event.ErrEntry) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if st := b.Stats(); st.StagedBytes != 0 {
		t.Errorf("stored %d bytes of malformed input", st.StagedBytes)
	}
}

func TestLifecycle(t *testing.T) {
	t.Run("close without run", func(t *testing.T) {
		cfg := testConfig(t, "file")
		b, _ := open(t, cfg, &recorder{}, Options{})
		if err := b.Append(context.Background(), "t", entries(1, t0, 5)); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal("second close:", err)
		}
		if err := b.Append(context.Background(), "t", entries(1, t0, 5)); !errors.Is(err, ErrClosed) {
			t.Errorf("append after close: %v", err)
		}
		if len(chunkFiles(t, cfg.Path, "b*.chunk")) != 1 {
			t.Error("staged chunk not left on disk")
		}
	})
	t.Run("close never opened", func(t *testing.T) {
		b, err := New(testConfig(t, "memory"), &recorder{}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Append(context.Background(), "t", entries(1, t0, 5)); err == nil {
			t.Error("append before open succeeded")
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("run twice", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := start(t, testConfig(t, "memory"), Options{})
			synctest.Wait()
			if err := h.b.Run(context.Background()); err == nil {
				t.Error("second Run succeeded")
			}
			h.stop()
		})
	})
	t.Run("new rejects", func(t *testing.T) {
		if _, err := New(DefaultConfig("file"), &recorder{}, Options{}); err == nil {
			t.Error("file buffer without path accepted")
		}
		if _, err := New(DefaultConfig("memory"), nil, Options{}); err == nil {
			t.Error("nil flusher accepted")
		}
	})
}

func TestDrain(t *testing.T) {
	for _, atShutdown := range []bool{true, false} {
		cfg := testConfig(t, "file")
		cfg.FlushAtShutdown = atShutdown
		out := &recorder{}
		b, _ := open(t, cfg, out, Options{})
		if err := b.Append(context.Background(), "t", entries(4, t0, 5)); err != nil {
			t.Fatal(err)
		}
		if err := b.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		b.Close()
		left := len(chunkFiles(t, cfg.Path, "*.chunk"))
		if atShutdown && (out.records() != 4 || left != 0) {
			t.Errorf("flush_at_shutdown true: flushed %d records, %d files left", out.records(), left)
		}
		if !atShutdown && (out.records() != 0 || left != 1) {
			t.Errorf("flush_at_shutdown false: flushed %d records, %d files left", out.records(), left)
		}
	}
}

func TestDrainDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t, "file")
		out := &recorder{fail: func(int, *Chunk) error { return errors.New("down") }}
		b, _ := open(t, cfg, out, Options{})
		h := runBuf(t, b, out)
		h.append("t", entries(2, t0, 5))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("drain: %v", err)
		}
		h.stop()
		if n := len(chunkFiles(t, cfg.Path, "q*.chunk")); n != 1 {
			t.Errorf("%d queued files left, want 1", n)
		}
	})
}
