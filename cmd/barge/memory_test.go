package main

import (
	"os"
	"path/filepath"
	"testing"
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
