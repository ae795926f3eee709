package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
)

// The Go runtime's soft limit: memory_limit when given (0: none), else
// GOMEMLIMIT's, else 80% of the cgroup's limit (v2, then v1), else none.
func TestMemoryLimit(t *testing.T) {
	cgroup := func(files map[string]string) string {
		dir := t.TempDir()
		for name, v := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	t.Setenv("GOMEMLIMIT", "")
	for _, tc := range []struct {
		name       string
		configured int64
		files      map[string]string
		want       int64
	}{
		{"v2 limit", -1, map[string]string{"memory.max": "1073741824"}, 858993459},
		{"v2 unlimited", -1, map[string]string{"memory.max": "max"}, 0},
		{"v1 limit", -1, map[string]string{"memory/memory.limit_in_bytes": "536870912"}, 429496729},
		{"v1 unlimited", -1, map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712"}, 0},
		{"no cgroup", -1, nil, 0},
		{"configured wins", 300 << 20, map[string]string{"memory.max": "1073741824"}, 300 << 20},
		{"configured none", 0, map[string]string{"memory.max": "1073741824"}, 0},
	} {
		if got, _ := memoryLimit(tc.configured, cgroup(tc.files)); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	t.Setenv("GOMEMLIMIT", "200MiB")
	if got, from := memoryLimit(-1, cgroup(map[string]string{"memory.max": "1073741824"})); got != 0 || from != "GOMEMLIMIT" {
		t.Errorf("with GOMEMLIMIT: %d from %q, want the environment's kept", got, from)
	}
}

// Once started, barge drops the pages of its binary that start-up touched:
// an idle barge keeps a few MiB of them resident (12 to 15 MiB for the
// race-enabled test binary), not the 34 MiB or more its initialisation
// faulted in.
func TestStartupPagesDropped(t *testing.T) {
	dir := t.TempDir()
	p := bargetest.Start(t, bargeBin, dir, "<system>\n  log_level debug\n</system>\n"+fileConfig("flush_interval 1h"), nil)
	l := p.WaitLog(10*time.Second, func(l map[string]any) bool { return l["msg"] == "start-up pages dropped" })
	if n, _ := l["mapped_bytes"].(float64); n < 10<<20 {
		t.Fatalf("advised %v bytes of mappings, want the binary's read-only ones", l["mapped_bytes"])
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	var file int64 = -1
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &file)
		}
	}
	if file < 0 || file > 24<<10 {
		t.Fatalf("RssFile %d kB after the drop, want under 24 MiB", file)
	}
	t.Logf("RssFile %d kB", file)
	bargetest.SendAcked(t, p.Addr, "app.x", 0, 10) // still serving: its code came back from the page cache
	if code := p.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
