package files

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/barge-dev/barge/forwarder/internal/statefile"
)

// moveFile moves src into dir under its base name, or NAME.1, NAME.2, ...
// when that is taken: it never overwrites. It hard-links then removes src
// (atomic, no clobber), copies then removes across file systems, and
// fsyncs both directories. It returns the new path.
func moveFile(src, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	base := filepath.Base(src)
	for i := 0; i < 10000; i++ {
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s.%d", base, i)
		}
		dst := filepath.Join(dir, name)
		err := os.Link(src, dst)
		switch {
		case err == nil:
			if err := os.Remove(src); err != nil {
				_ = os.Remove(dst)
				return "", err
			}
		case errors.Is(err, fs.ErrExist):
			continue
		case errors.Is(err, syscall.EXDEV):
			if err := copyFile(src, dst); errors.Is(err, fs.ErrExist) {
				continue
			} else if err != nil {
				return "", err
			}
			if err := os.Remove(src); err != nil {
				_ = os.Remove(dst)
				return "", err
			}
		default: // no hard links here: check, then rename
			if _, err := os.Lstat(dst); err == nil {
				continue
			}
			if err := os.Rename(src, dst); err != nil {
				return "", err
			}
		}
		if err := statefile.SyncDir(dir); err != nil {
			return dst, err
		}
		return dst, statefile.SyncDir(filepath.Dir(src))
	}
	return "", fmt.Errorf("no free name for %s in %s", base, dir)
}

// copyFile copies src to a new file dst (which must not exist) and fsyncs it.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(dst)
	}
	return err
}
