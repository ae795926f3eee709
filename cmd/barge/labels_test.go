package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/cmd/barge/bargetest"
)

const labelsConfig = `<source>
  @type forward
  bind 127.0.0.1
  port %d
  @label @app
</source>
<source>
  @type forward
  bind 127.0.0.1
  port %d
</source>
<match relabel.**>
  @type relabel
  @label @app
</match>
<match fluent.**>
  @type file
  path logs/
  <buffer>
    flush_interval 200ms
  </buffer>
</match>
<match **>
  @type file
  path top/
  <buffer>
    flush_interval 200ms
  </buffer>
</match>
<label @app>
  <filter **>
    @type grep
    <exclude>
      key level
      pattern /debug/
    </exclude>
  </filter>
  <match **>
    @type copy
    copy_mode deep
    <store>
      @type file
      path out-a/
      <buffer>
        flush_interval 200ms
      </buffer>
    </store>
    <store ignore_error>
      @type file
      path out-b/
      compress gzip
      <buffer>
        flush_interval 200ms
      </buffer>
    </store>
  </match>
</label>
`

// Fluentd's routing, run as a user would: a <source> with @label, a
// <label> with its own <filter> and a @type copy to two <store>s (each
// with its own buffer, needing no path), @type relabel into the label,
// and barge's own warnings routed to <match fluent.**> as fluent.warn
// events.
func TestLabelsCopyRelabel(t *testing.T) {
	dir := t.TempDir()
	app, top := freePort(t), freePort(t)
	p := startBarge(t, dir, fmt.Sprintf(labelsConfig, app, top))
	p.WaitNth(10*time.Second, 2, func(l map[string]any) bool { return l["msg"] == "listening" })
	appAddr, topAddr := fmt.Sprintf("127.0.0.1:%d", app), fmt.Sprintf("127.0.0.1:%d", top)

	level := func(i int) string {
		if i%5 == 4 {
			return "debug" // dropped by the label's grep
		}
		return "info"
	}
	bargetest.SendRecords(t, appAddr, "web.access", 0, 100, func(i int) map[string]any {
		return map[string]any{"seq": i, "level": level(i)}
	})
	bargetest.SendRecords(t, topAddr, "relabel.x", 100, 150, func(i int) map[string]any {
		return map[string]any{"seq": i, "level": level(i)}
	})
	bargetest.SendRecords(t, topAddr, "other.y", 0, 30, func(i int) map[string]any {
		return map[string]any{"seq": i, "level": "debug"} // no filter at the top level
	})
	// a bad client: barge warns, and the warning is a fluent.warn event
	nc, err := net.Dial("tcp", topAddr)
	if err != nil {
		t.Fatal(err)
	}
	nc.Write([]byte{0xc1, 0xc1, 0xc1, 0xc1})
	nc.Close()
	warned := p.WaitLog(10*time.Second, func(l map[string]any) bool {
		return l["level"] == "WARN" && strings.HasSuffix(fmt.Sprint(l["msg"]), "connection closed")
	})

	const kept = 120 // 150 sent into the label, every fifth at debug
	a := bargetest.WaitRecords(t, filepath.Join(dir, "out-a"), kept, 30*time.Second)
	b := bargetest.WaitRecords(t, filepath.Join(dir, "out-b"), kept, 30*time.Second)
	tp := bargetest.WaitRecords(t, filepath.Join(dir, "top"), 30, 30*time.Second)
	logs := bargetest.WaitRecords(t, filepath.Join(dir, "logs"), 1, 30*time.Second)
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for name, recs := range map[string][]map[string]any{"out-a": a, "out-b": b} {
		seen := map[int]int{}
		for _, r := range recs {
			if r["level"] == "debug" {
				t.Errorf("%s: a debug record passed the label's filter: %v", name, r)
			}
			seen[int(r["seq"].(float64))]++
		}
		for i := range 150 {
			if want := map[bool]int{true: 0, false: 1}[level(i) == "debug"]; seen[i] != want {
				t.Errorf("%s: seq %d seen %d times, want %d", name, i, seen[i], want)
			}
		}
		if len(recs) != kept {
			t.Errorf("%s: %d records, want %d", name, len(recs), kept)
		}
	}
	if len(tp) != 30 {
		t.Errorf("top: %d records, want the 30 of other.y", len(tp))
	}
	found := false
	for _, r := range logs {
		if msg, _ := r["message"].(string); strings.HasPrefix(msg, fmt.Sprint(warned["msg"])) && strings.Contains(msg, `peer="127.0.0.1:`) {
			found = true
		}
	}
	if !found {
		t.Errorf("logs/ has no fluent.warn event for the bad client: %v", logs)
	}
	// the buffers needed no path: each lives beside its output's path
	for _, d := range []string{"out-a.buffer", "out-b.buffer", "top.buffer", "logs.buffer"} {
		if m, _ := filepath.Glob(filepath.Join(dir, d, "*")); len(m) == 0 {
			t.Errorf("no buffer directory under %s", d)
		}
	}
}

// <label @ERROR> gets the records an output rejects, run as a user would:
// a chunk left on disk holds good records and one nested too deeply for
// any encoder; the good ones are written out, and the rejected one goes to
// the label's output instead of the first output's failed/. (That output
// cannot encode it either, so it ends in the label's own failed/.)
func TestErrorLabel(t *testing.T) {
	dir := t.TempDir()
	seedChunk(t, filepath.Join(dir, "buf"), "app.good", 0, 10, event.MaxDepth+50)
	p := startBarge(t, dir, fileConfig("flush_mode interval\n flush_interval 200ms")+`
<label @ERROR>
  <match **>
    @type file
    path ./errors/
    <buffer>
      @type file
      path ./errbuf
      flush_mode interval
      flush_interval 200ms
    </buffer>
  </match>
</label>
`)
	good := bargetest.WaitRecords(t, filepath.Join(dir, "out"), 10, 30*time.Second)
	p.WaitLog(30*time.Second, func(l map[string]any) bool {
		return l["msg"] == "records rejected by the output were sent to <label @ERROR>" && l["match"] == "**"
	})
	kept := p.WaitLog(30*time.Second, func(l map[string]any) bool { return l["msg"] == "chunk kept in failed/" })
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if len(good) != 10 {
		t.Fatalf("%d good records written, want 10", len(good))
	}
	if path, _ := kept["path"].(string); !strings.HasPrefix(path, "errbuf/failed/") || countChunkRecords(t, filepath.Join(dir, path)) != 1 {
		t.Fatalf("the rejected record was kept at %v, want alone in the <label @ERROR> output's errbuf/failed/", kept["path"])
	}
	if failed, _ := filepath.Glob(filepath.Join(dir, "buf", "failed", "*")); len(failed) != 0 {
		t.Fatalf("buf/failed/ holds %v; the rejected record should have gone to <label @ERROR>", failed)
	}
}
