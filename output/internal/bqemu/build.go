package bqemu

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/barge-dev/barge/output/internal/testproc"
)

// Version is the github.com/goccy/bigquery-emulator version that tools/go.mod
// pins. Keep the two in step: the cache key covers go.mod, so a bump there
// rebuilds even if this constant is forgotten.
const Version = "v0.8.1"

// Command is the emulator's main package, declared as a tool in tools/go.mod.
const Command = "github.com/goccy/bigquery-emulator/cmd/bigquery-emulator"

// binName is the file name of the built emulator inside its cache directory.
const binName = "bigquery-emulator"

// buildTail is how much of a failed build's output the test failure shows.
const buildTail = 8 << 10

// ToolsDir is the directory of the tools module that pins the emulator,
// found from this source file's path. It fails if the package was compiled
// with -trimpath, which leaves no usable path.
func ToolsDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return "", errors.New("bqemu: source path unknown (built with -trimpath?)")
	}
	dir := filepath.Join(filepath.Dir(file), "tools")
	if _, err := os.Stat(filepath.Join(dir, "go.sum")); err != nil {
		return "", fmt.Errorf("bqemu: tools module: %w", err)
	}
	return dir, nil
}

// CacheDir is where the emulator built from the tools module in toolsDir is
// kept: a directory named after Version and a key that hashes the tools
// module's go.mod and go.sum, the Go version and the target platform.
func CacheDir(toolsDir string) (string, error) {
	root := os.Getenv("BARGE_TEST_CACHE")
	if root == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("bqemu: no cache directory (set BARGE_TEST_CACHE): %w", err)
		}
		root = filepath.Join(c, "barge-test")
	}
	h := sha256.New()
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(toolsDir, name))
		if err != nil {
			return "", fmt.Errorf("bqemu: cache key: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	key := hex.EncodeToString(h.Sum(nil))[:16]
	return filepath.Join(root, "bigquery-emulator-"+Version+"-"+key), nil
}

// Binary returns the path of the emulator binary, building it first if the
// cache does not have it. Concurrent callers, in this process or others,
// wait for one build. A failed build fails the test.
func Binary(t testing.TB) string {
	t.Helper()
	tools, err := ToolsDir()
	if err != nil {
		t.Fatalf("%v", err)
	}
	dir, err := CacheDir(tools)
	if err != nil {
		t.Fatalf("%v", err)
	}
	bin, err := testproc.Cached(dir, binName, func() error {
		start := time.Now()
		t.Logf("bqemu: building %s@%s into %s (about 5 minutes and 6 GB of memory when cold, once)", Command, Version, dir)
		if out, err := build(tools, dir); err != nil {
			return fmt.Errorf("build %s@%s in %s: %v\n%s", Command, Version, tools, err, tail(out, buildTail))
		}
		t.Logf("bqemu: built %s in %v", filepath.Join(dir, binName), time.Since(start).Round(time.Second))
		return nil
	})
	if err != nil {
		t.Fatalf("bqemu: %v", err)
	}
	return bin
}

// build compiles the emulator inside the tools module, into a temporary
// name in dir that is renamed into place only when complete, so that an
// interrupted build never leaves a binary that looks finished.
func build(tools, dir string) ([]byte, error) {
	tmp := filepath.Join(dir, "."+binName+"-"+strconv.Itoa(os.Getpid()))
	defer os.Remove(tmp)
	cmd := exec.Command("go", "build", "-o", tmp, Command)
	cmd.Dir = tools
	// -mod=readonly: the committed go.sum is the pin; the build must not
	// rewrite it. GOWORK=off: no workspace may pull in barge's module.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.Bytes(), err
	}
	if err := os.Rename(tmp, filepath.Join(dir, binName)); err != nil {
		return out.Bytes(), err
	}
	return out.Bytes(), nil
}

// tail returns at most the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return append([]byte("...\n"), b[len(b)-n:]...)
}
