package buffer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrLocked is wrapped by Open's error when the buffer directory is open
// in another Buffer, of this process or another. The error reads "buffer
// path PATH is in use by pid N".
var ErrLocked = errors.New("buffer: path in use")

// One buffer directory belongs to one Buffer: Open takes an exclusive
// flock(2) on path/buffer.lock (which holds the owner's pid, for the
// error of the next one) and Close releases it. The kernel releases it
// when the process dies, so a kill -9 never leaves a stale lock. The file
// itself is never deleted: flock is the truth, not the file.
const (
	lockName  = "buffer.lock"
	probeName = "buffer.probe" // written and removed by Open, under the lock
)

type lockedError struct {
	path string
	pid  int // 0: unknown
}

func (e *lockedError) Error() string {
	if e.pid <= 0 {
		return fmt.Sprintf("buffer path %s is in use by another process", e.path)
	}
	return fmt.Sprintf("buffer path %s is in use by pid %d", e.path, e.pid)
}

func (e *lockedError) Unwrap() error { return ErrLocked }

// lockDir locks dir for this Buffer and returns the locked file.
func lockDir(dir string) (*os.File, error) {
	p := filepath.Join(dir, lockName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, fmt.Errorf("buffer path %s is not writable: %w", dir, err)
	}
	if err := flock(f); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &lockedError{path: dir, pid: readPid(f)}
		}
		return nil, fmt.Errorf("lock buffer path %s: %w", dir, err)
	}
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt(pid, 0)
	}
	if err != nil && !noSpace(err) { // a full disk only costs the pid in the next one's error
		f.Close()
		return nil, fmt.Errorf("buffer path %s is not writable: write %s: %w", dir, p, err)
	}
	return f, nil
}

func flock(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if ferr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}

func readPid(f *os.File) int {
	b, err := io.ReadAll(io.LimitReader(f, 32))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

// probe creates, writes and removes a file in dir, so that a read-only
// mount or a directory this process cannot write fails Open, not the
// first Append.
func probe(dir string) error {
	p := filepath.Join(dir, probeName)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write([]byte("barge write probe\n"))
	return errors.Join(err, f.Close(), os.Remove(p))
}
