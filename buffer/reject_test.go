package buffer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// rejecter is a Flusher that writes every record but those holding "bad",
// which it returns with Rejected.
type rejecter struct {
	mu      sync.Mutex
	parents []string // ids of the chunks it was given
	written int      // records written
}

func (o *rejecter) Flush(_ context.Context, c *Chunk) error {
	r, err := c.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	var rs []Reject
	written := 0
	for {
		tag, e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		for len(e) > 0 {
			rest, err := msgp.Skip(e)
			if err != nil {
				return err
			}
			one := e[:len(e)-len(rest)]
			if bytes.Contains(one, []byte("bad")) {
				rs = append(rs, Reject{Tag: tag, Entry: bytes.Clone(one), Reason: "cannot encode"})
			} else {
				written++
			}
			e = rest
		}
	}
	o.mu.Lock()
	o.parents = append(o.parents, c.ID)
	o.written += written
	o.mu.Unlock()
	return Rejected(rs)
}

func TestRejected(t *testing.T) {
	tests := []struct {
		name      string
		typ       string
		secondary string // "", "ok", "fails", "rejects"
		where     string // "secondary", "failed", "dropped"
	}{
		{"file to secondary", "file", "ok", "secondary"},
		{"file without secondary", "file", "", "failed"},
		{"file, secondary fails", "file", "fails", "failed"},
		{"file, secondary rejects", "file", "rejects", "failed"},
		{"memory to secondary", "memory", "ok", "secondary"},
		{"memory without secondary", "memory", "", "dropped"},
	}
	bad1 := entry(nil, t0, "msg", "bad one")
	bad2 := entry(nil, t0.Add(time.Second), "msg", "bad two")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, tt.typ)
			cfg.FlushMode = "lazy"
			out := &rejecter{}
			sec := &recorder{}
			var opts Options
			switch tt.secondary {
			case "ok":
				opts.Secondary = sec
			case "fails":
				sec.fail = func(int, *Chunk) error { return errDown }
				opts.Secondary = sec
			case "rejects":
				opts.Secondary = &rejecter{}
			}
			sink, lg := newLogSink(t)
			opts.Logger = lg
			b, _ := open(t, cfg, out, opts)
			defer b.Close()
			ctx := context.Background()
			if err := b.Append(ctx, "app.a", append(entries(2, t0, 5), bad1...)); err != nil {
				t.Fatal(err)
			}
			if err := b.Append(ctx, "app.b", append(bad2, entries(1, t0, 5)...)); err != nil {
				t.Fatal(err)
			}
			if err := b.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			if len(out.parents) != 1 || out.written != 3 {
				t.Fatalf("output saw chunks %v and wrote %d records", out.parents, out.written)
			}
			parent := out.parents[0]
			rid := rejectID(parent)
			if st := b.Stats(); st.Flushed != 1 || st.Rejected != 2 || st.Failed != 0 || st.QueuedChunks != 0 ||
				st.FlushedRecords != 3 || st.FlushedBytes == 0 || st.FlushTime.Count() != 1 {
				t.Errorf("stats %+v", st)
			}
			if tt.typ == "file" {
				if left := chunkFiles(t, cfg.Path, "*.chunk"); len(left) != 0 {
					t.Errorf("parent not purged: %v", left)
				}
			}
			want := []frame{{"app.a", bad1}, {"app.b", bad2}}
			var got []frame
			switch tt.where {
			case "secondary":
				if s := sec.got(); len(s) != 1 || s[0].ID != rid || s[0].Records != 2 ||
					!s[0].First.Equal(t0) || !s[0].Last.Equal(t0.Add(time.Second)) {
					t.Fatalf("secondary got %+v, want one chunk %s of 2 records", s, rid)
				}
				got = sec.got()[0].frames
			case "failed":
				p := filepath.Join(cfg.Path, "failed", "q"+rid+".chunk")
				c, frames := readChunkFile(t, p)
				if c.ID != rid || c.Records != 2 {
					t.Errorf("%s: id %s, %d records", p, c.ID, c.Records)
				}
				got = frames
				if n := len(chunkFiles(t, filepath.Join(cfg.Path, "failed"), "*")); n != 1 {
					t.Errorf("%d files in failed/, want 1", n)
				}
			}
			if tt.where != "dropped" {
				if len(got) != len(want) {
					t.Fatalf("reject chunk frames %v", got)
				}
				for i := range want {
					if got[i].tag != want[i].tag || !bytes.Equal(got[i].entries, want[i].entries) {
						t.Errorf("frame %d: %s %x, want %s %x", i, got[i].tag, got[i].entries, want[i].tag, want[i].entries)
					}
				}
			}
			logs := sink.find("records rejected by the output")
			if len(logs) != 1 {
				t.Fatalf("%d reject log lines, want 1", len(logs))
			}
			l := logs[0]
			if l["chunk_id"] != parent || l["reject_chunk_id"] != rid || l["records"] != "2" ||
				!strings.Contains(l["reasons"], `tag="app.a" reason="cannot encode" records=1`) ||
				!strings.Contains(l["reasons"], `tag="app.b"`) {
				t.Errorf("log line %v", l)
			}
			if where := map[string]string{"secondary": "secondary", "failed": "failed/", "dropped": "dropped"}[tt.where]; !strings.Contains(sink.recsMessage(0, "records rejected"), where) {
				t.Errorf("log line %q does not say %s", sink.recsMessage(0, "records rejected"), where)
			}
			if tt.secondary == "fails" && !strings.Contains(l["err"], errDown.Error()) {
				t.Errorf("log line %v does not carry the secondary's error", l)
			}
		})
	}
}

// recsMessage is the message of the n-th record starting with prefix.
func (l *logSink) recsMessage(n int, prefix string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		if strings.HasPrefix(r.Message, prefix) {
			if n == 0 {
				return r.Message
			}
			n--
		}
	}
	return ""
}

// TestRejectsDurableBeforePurge: while the rejected records cannot be
// kept, the chunk is not purged but retried, and its repeated flush
// writes the same reject chunk.
func TestRejectsDurableBeforePurge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t, "file")
		cfg.FlushMode = "immediate"
		cfg.RetryRandomize = false
		out := &rejecter{}
		b, _ := open(t, cfg, out, Options{})
		blocker := filepath.Join(cfg.Path, "failed") // a file where failed/ should be
		if err := os.WriteFile(blocker, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		h := runBuf(t, b, &recorder{})
		defer h.stop()
		h.append("t", append(entries(2, t0, 5), entry(nil, t0, "msg", "bad")...))
		synctest.Wait()
		if st := b.Stats(); st.Rejected != 0 || st.Flushed != 0 || st.Retries != 1 || st.QueuedChunks != 1 {
			t.Errorf("stats %+v, want the chunk kept for a retry", st)
		}
		if n := len(chunkFiles(t, cfg.Path, "q*.chunk")); n != 1 {
			t.Errorf("%d queued chunk files, want the parent kept", n)
		}
		if err := os.Remove(blocker); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if st := b.Stats(); st.Rejected != 1 || st.Flushed != 1 || st.QueuedChunks != 0 {
			t.Errorf("stats %+v", st)
		}
		if len(out.parents) != 2 || out.parents[0] != out.parents[1] {
			t.Fatalf("flushes %v, want the same chunk twice", out.parents)
		}
		p := filepath.Join(cfg.Path, "failed", "q"+rejectID(out.parents[0])+".chunk")
		if c, _ := readChunkFile(t, p); c.Records != 1 {
			t.Errorf("%s holds %d records", p, c.Records)
		}
		if n := len(chunkFiles(t, cfg.Path, "*.chunk")); n != 0 {
			t.Errorf("%d chunk files left after the rejects were kept", n)
		}
	})
}

func TestRejectID(t *testing.T) {
	a, b := rejectID("0123456789abcdef0123456789abcdef"), rejectID("0123456789abcdef0123456789abcdee")
	if !validID(a) || a == b || a != rejectID("0123456789abcdef0123456789abcdef") || a == "0123456789abcdef0123456789abcdef" {
		t.Errorf("reject ids %s %s: want valid, deterministic, distinct", a, b)
	}
}

func TestRejectReasonsBounded(t *testing.T) {
	long := strings.Repeat("é", 500) // 1000 bytes; a cut at 256 would split a character
	rs := []Reject{{Tag: strings.Repeat("t", 300), Reason: long}, {Tag: "a", Reason: "x\nforged=1"}}
	for i := range 12 {
		rs = append(rs, Reject{Tag: "many", Reason: strings.Repeat("r", i+1)})
	}
	got := rejectReasons(rs)
	for _, want := range []string{"...(300 bytes)", "...(1000 bytes)", `reason="x\nforged=1"`, "and 4 more"} {
		if !strings.Contains(got, want) {
			t.Errorf("reasons %q lack %q", got, want)
		}
	}
	if strings.Contains(got, strings.Repeat("t", 257)) || strings.Contains(got, `\x`) || strings.Contains(got, "\n") {
		t.Errorf("reasons not cut cleanly: %q", got)
	}
	if len(got) > maxReasons*(2*maxLogValue*6+64) {
		t.Errorf("reasons of %d bytes", len(got))
	}
}
