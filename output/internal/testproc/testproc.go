// Package testproc starts the server processes that tests run beside them
// (MinIO, the BigQuery emulator).
package testproc

import (
	"fmt"
	"os/exec"
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
