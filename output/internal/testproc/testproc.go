// Package testproc builds and starts the server processes that tests run
// beside them (MinIO, the BigQuery emulator).
package testproc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// Start starts cmd so that it dies with the test process (Pdeathsig), even
// when the test is killed. exited is closed once cmd has exited; stop
// kills it and waits for that.
func Start(cmd *exec.Cmd) (exited <-chan struct{}, stop func(), err error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	return done, func() {
		cmd.Process.Kill()
		<-done
	}, nil
}

// Cached returns dir/name, running build first when it is not there.
// Concurrent callers, in this process or others, wait for one build under
// an exclusive lock on dir/.lock. build must create dir/name only when it
// is complete (write elsewhere, then rename).
func Cached(dir, name string, build func() error) (string, error) {
	bin := filepath.Join(dir, name)
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(bin); err == nil { // built by another caller while this one waited
		return bin, nil
	}
	return bin, build()
}
