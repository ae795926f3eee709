package statefile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesAndSyncs(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "state")
	for _, tt := range []struct {
		data string
		sync bool
	}{{"first, longer content\n", false}, {"second\n", true}} {
		if err := Write(name, []byte(tt.data), tt.sync); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.data {
			t.Fatalf("file holds %q, want %q", got, tt.data)
		}
	}
	if err := SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("SyncDir of a missing directory: no error")
	}
	if err := Write(filepath.Join(dir, "missing", "state"), nil, false); err == nil {
		t.Fatal("Write into a missing directory: no error")
	}
}
