package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// verifier counts the lines of the files an output writes into a directory.
type verifier struct {
	dir     string
	before  map[string]bool // files present before the run: not counted
	counted map[string]counted
}

type counted struct {
	size  int64
	mod   time.Time
	lines int64
}

func newVerifier(dir string) (*verifier, error) {
	v := &verifier{dir: dir, before: map[string]bool{}, counted: map[string]counted{}}
	err := v.walk(func(path string, _ fs.FileInfo) error {
		v.before[path] = true
		return nil
	})
	return v, err
}

// walk calls fn for every regular, non-hidden file under dir.
func (v *verifier) walk(fn func(path string, info fs.FileInfo) error) error {
	err := filepath.WalkDir(v.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		hidden := strings.HasPrefix(d.Name(), ".") && path != v.dir
		if d.IsDir() {
			if hidden {
				return filepath.SkipDir
			}
			return nil
		}
		if hidden || !d.Type().IsRegular() || strings.HasSuffix(d.Name(), ".tmp") {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) { // renamed or removed meanwhile
			return nil
		}
		if err != nil {
			return err
		}
		return fn(path, info)
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// scan counts the lines of the new files and returns the total and the
// latest modification time among them. A file that cannot be read whole yet
// (a compressed file still being written) is counted at a later scan.
func (v *verifier) scan() (lines int64, last time.Time, err error) {
	err = v.walk(func(path string, info fs.FileInfo) error {
		if v.before[path] {
			return nil
		}
		c, ok := v.counted[path]
		if !ok || c.size != info.Size() || !c.mod.Equal(info.ModTime()) {
			n, err := countLines(path)
			if err != nil {
				return nil // retried at the next scan
			}
			c = counted{size: info.Size(), mod: info.ModTime(), lines: n}
			v.counted[path] = c
		}
		lines += c.lines
		if c.mod.After(last) {
			last = c.mod
		}
		return nil
	})
	return lines, last, err
}

// countLines counts the lines of a file, decompressing .gz and .zst files.
func countLines(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var r io.Reader = f
	switch filepath.Ext(path) {
	case ".gz":
		z, err := gzip.NewReader(f)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		defer z.Close()
		r = z
	case ".zst", ".zstd":
		z, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		defer z.Close()
		r = z
	}
	buf := make([]byte, 256<<10)
	var n int64
	var lastByte byte = '\n'
	for {
		k, err := r.Read(buf)
		if k > 0 {
			n += int64(bytes.Count(buf[:k], []byte{'\n'}))
			lastByte = buf[k-1]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
	}
	if lastByte != '\n' {
		n++ // a last line without its newline
	}
	return n, nil
}
