package buffer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// lockHelperEnv makes the test binary hold a buffer open at the directory
// it names (see TestMain and holdLock).
const lockHelperEnv = "BARGE_BUFFER_TEST_HOLD_LOCK"

// holdLock opens a file buffer at dir, prints "locked" and keeps it open
// until stdin ends. It returns the exit code.
func holdLock(dir string) int {
	cfg := DefaultConfig("file")
	cfg.Path = dir
	b, err := New(cfg, nullFlusher{}, Options{})
	if err == nil {
		_, err = b.Open(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	if err := b.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestOpenLocked(t *testing.T) {
	cfg := testConfig(t, "file")
	b1, _ := open(t, cfg, &recorder{}, Options{})
	b2, err := New(cfg, &recorder{}, Options{Logger: logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	_, err = b2.Open(context.Background())
	want := fmt.Sprintf("buffer path %s is in use by pid %d", cfg.Path, os.Getpid())
	if !errors.Is(err, ErrLocked) || err.Error() != want {
		t.Fatalf("second Open: %v, want %q wrapping ErrLocked", err, want)
	}
	if pid := lockPid(t, cfg.Path); pid != os.Getpid() {
		t.Errorf("lock file holds pid %d, want %d", pid, os.Getpid())
	}
	if err := b1.Close(); err != nil {
		t.Fatal(err)
	}
	// Close released the directory; the refused Buffer kept nothing.
	if _, err := b2.Open(context.Background()); err != nil {
		t.Fatalf("Open after the first Close: %v", err)
	}
	if err := b2.Append(context.Background(), "t", entries(1, t0, 5)); err != nil {
		t.Fatal(err)
	}
}

func TestOpenLockedByOtherProcess(t *testing.T) {
	cfg := testConfig(t, "file")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+cfg.Path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q, %v", line, err)
	}
	b, err := New(cfg, &recorder{}, Options{Logger: logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = b.Open(context.Background())
	want := fmt.Sprintf("buffer path %s is in use by pid %d", cfg.Path, cmd.Process.Pid)
	if !errors.Is(err, ErrLocked) || err.Error() != want {
		t.Errorf("Open while another process holds the path: %v, want %q", err, want)
	}
	// kill -9: the kernel releases the lock with the process.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Error("killed child exited 0")
	}
	if _, err := b.Open(context.Background()); err != nil {
		t.Fatalf("Open after the holder was killed: %v", err)
	}
}

func TestOpenNotWritable(t *testing.T) {
	tests := []struct {
		name  string
		path  func(t *testing.T) string
		cause error // nil: EROFS, EACCES or EPERM
	}{
		{"read-only tmpfs", func(t *testing.T) string {
			return mountTmpfs(t, syscall.MS_RDONLY, "size=64k")
		}, nil},
		{"directory to create on a read-only tmpfs", func(t *testing.T) string {
			return filepath.Join(mountTmpfs(t, syscall.MS_RDONLY, "size=64k"), "buf")
		}, nil},
		{"probe file cannot be created", func(t *testing.T) string {
			// The lock file opens, the probe does not.
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, probeName), 0o755); err != nil {
				t.Fatal(err)
			}
			return dir
		}, syscall.EISDIR},
		{"read-only bind mount of a used buffer", func(t *testing.T) string {
			src := filepath.Join(t.TempDir(), "buf")
			cfg := DefaultConfig("file")
			cfg.Path = src
			b, _ := open(t, cfg, &recorder{}, Options{})
			if err := b.Append(context.Background(), "t", entries(2, t0, 5)); err != nil {
				t.Fatal(err)
			}
			b.Close() // leaves buffer.lock and a chunk behind
			dir := t.TempDir()
			if err := syscall.Mount(src, dir, "", syscall.MS_BIND, ""); err != nil {
				t.Skipf("cannot bind-mount %s (the test needs root or CAP_SYS_ADMIN): %v", src, err)
			}
			t.Cleanup(func() {
				if err := syscall.Unmount(dir, 0); err != nil {
					t.Errorf("unmount %s: %v", dir, err)
				}
			})
			if err := syscall.Mount("", dir, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
				t.Skipf("cannot remount %s read-only: %v", dir, err)
			}
			return dir
		}, nil},
		{"directory without write permission", func(t *testing.T) string {
			if os.Geteuid() == 0 {
				t.Skip("running as root, which ignores permission bits: the read-only mounts cover the case")
			}
			dir := t.TempDir()
			if err := os.Chmod(dir, 0o555); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(dir, 0o755) })
			return dir
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig("file")
			cfg.Path = tt.path(t)
			b, err := New(cfg, &recorder{}, Options{Logger: logger(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			_, err = b.Open(context.Background())
			if err == nil {
				t.Fatal("Open accepted a path it cannot write")
			}
			cause := errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
			if tt.cause != nil {
				cause = errors.Is(err, tt.cause)
			}
			if !strings.Contains(err.Error(), cfg.Path) || !cause {
				t.Errorf("Open: %v; want the path and the cause", err)
			}
			t.Log(err)
		})
	}
}

func lockPid(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, lockName))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("lock file %q: %v", b, err)
	}
	return pid
}
