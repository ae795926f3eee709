package conf

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// MaxFileSize is the largest config file (each of the root file and its
// includes) that is read. Fluentd configs are kilobytes; a larger file is
// an operator mistake (a log or a binary given as -c), not a config.
const MaxFileSize = 16 << 20

// readFile reads a config file, refusing what is not a regular file (a
// directory, a FIFO, a device) and files larger than MaxFileSize, so a
// mistaken path fails at once with a clear message instead of blocking or
// filling memory. Symbolic links are followed (ConfigMaps mount files as
// links).
func readFile(path string) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	// writer; regular files ignore it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", fileKind(fi.Mode()))
	}
	if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("file of %d bytes is larger than the limit of %d bytes (16 MiB)", fi.Size(), MaxFileSize)
	}
	// The size may change while reading: never read more than the limit.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("file grew past the limit of %d bytes (16 MiB) while being read", MaxFileSize)
	}
	return data, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}
