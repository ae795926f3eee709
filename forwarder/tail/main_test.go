package tail

import (
	"os"
	"testing"
	"time"

	"github.com/barge-dev/barge/forwarder/internal/logtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// logBuf is where a test's logger writes.
type logBuf = logtest.Buffer

func put(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// setMtime sets a file's mtime (and atime).
func setMtime(t *testing.T, path string, at time.Time) {
	t.Helper()
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}
