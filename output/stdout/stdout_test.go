package stdout

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
	"go.uber.org/goleak"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/buffertest"
	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/output/format"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type frames struct {
	tag     string
	entries []byte
	done    bool
}

func (f *frames) Next() (string, []byte, error) {
	if f.done {
		return "", nil, io.EOF
	}
	f.done = true
	return f.tag, f.entries, nil
}

func oneEntry() []byte {
	rec := msgp.AppendMapHeader(nil, 1)
	rec = msgp.AppendString(rec, "msg")
	rec = msgp.AppendString(rec, "hello")
	return event.AppendEntry(nil, event.AppendEventTime(nil, 1795341845, 123456789), rec)
}

func TestStdoutFormats(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"default", func(c *Config) {}, "2026-11-22 10:04:05.123456789 +0000 app.web: {\"msg\":\"hello\"}\n"},
		{"json", func(c *Config) { c.Format.Type = "json" }, "{\"msg\":\"hello\"}\n"},
		{"ltsv inject", func(c *Config) { c.Format.Type = "ltsv"; c.Inject.TagKey = "tag" }, "tag:app.web\tmsg:hello\n"},
		{"single_value", func(c *Config) { c.Format.Type = "single_value"; c.Format.MessageKey = "msg" }, "hello\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			cfg := DefaultConfig()
			tt.mod(&cfg)
			o, err := New(cfg, Options{Writer: &out, Location: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			if err := o.encode(&frames{tag: "app.web", entries: oneEntry()}); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got %q, want %q", out.String(), tt.want)
			}
		})
	}
}

func TestStdoutConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Format.Type = "xml"
	if _, err := New(cfg, Options{}); err == nil {
		t.Error("no error for format xml")
	}
	cfg = DefaultConfig()
	o, err := New(cfg, Options{})
	if err != nil || o.w == nil {
		t.Fatalf("default writer: %v", err)
	}
}

// TestWithMemoryBuffer prints what a real buffer flushes.
func TestWithMemoryBuffer(t *testing.T) {
	var out bytes.Buffer
	o, err := New(DefaultConfig(), Options{Writer: &out, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	bcfg := buffer.DefaultConfig("memory")
	bcfg.FlushMode = "immediate"
	buf := buffertest.Start(t, bcfg, o, "stdout")
	buf.Append("app.web", oneEntry())
	buf.Finish(10 * time.Second)
	if want := "2026-11-22 10:04:05.123456789 +0000 app.web: {\"msg\":\"hello\"}\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// TestKeyCollisionsAreLogged: with key_style bigquery, keys that collide
// after rewriting are renamed and reported once through the output's log.
func TestKeyCollisionsAreLogged(t *testing.T) {
	rec := msgp.AppendMapHeader(nil, 2)
	rec = msgp.AppendString(rec, "a-b")
	rec = msgp.AppendString(rec, "x")
	rec = msgp.AppendString(rec, "a.b")
	rec = msgp.AppendString(rec, "y")
	entry := event.AppendEntry(nil, event.AppendEventTime(nil, 1795341845, 0), rec)
	var out, logs bytes.Buffer
	cfg := DefaultConfig()
	cfg.Format.Type = "json"
	cfg.Format.KeyStyle = "bigquery"
	o, err := New(cfg, Options{Writer: &out, Location: time.UTC, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := o.encode(&frames{tag: "app.web", entries: entry}); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "collide"); n != 1 {
		t.Fatalf("%d collision reports, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "a-b") || !strings.Contains(logs.String(), "a.b") {
		t.Fatalf("report does not name the keys:\n%s", logs.String())
	}
	if line, _, _ := strings.Cut(out.String(), "\n"); !strings.Contains(line, `"a_b":"x"`) || strings.Count(line, `"a_b`) != 2 {
		t.Fatalf("record %s: want a_b and a renamed a_b", line)
	}
}

// TestStdoutRejects: a record nested deeper than event.MaxDepth is not
// printed and comes back with buffer.Rejected; a chunk of nothing else is
// a permanent error.
func TestStdoutRejects(t *testing.T) {
	deep := append(append([]byte{0x92, 0x01, 0x81, 0xa1, 'k'}, bytes.Repeat([]byte{0x91}, event.MaxDepth)...), 0xc0)
	var out bytes.Buffer
	o, err := New(DefaultConfig(), Options{Writer: &out, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	err = o.encode(&frames{tag: "app.web", entries: append(append(oneEntry(), deep...), oneEntry()...)})
	rs, ok := buffer.RejectedRecords(err)
	if !ok || len(rs) != 1 || !bytes.Equal(rs[0].Entry, deep) || rs[0].Tag != "app.web" || buffer.IsPermanent(err) {
		t.Fatalf("err = %v, want buffer.Rejected of the deep record", err)
	}
	if n := strings.Count(out.String(), "app.web: {\"msg\":\"hello\"}\n"); n != 2 || strings.Count(out.String(), "\n") != 2 {
		t.Errorf("printed %q, want the two good records", out.String())
	}
	out.Reset()
	err = o.encode(&frames{tag: "app.web", entries: deep})
	if !buffer.IsPermanent(err) || !errors.Is(err, format.ErrAllRejected) || out.Len() != 0 {
		t.Errorf("all rejected: err = %v, printed %q", err, out.String())
	}
}
