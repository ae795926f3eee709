package files

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/klauspost/compress/gzip"
)

// transfer ships the file at path if its content is new: it hashes the
// file (one open file for the hash and the records, so a file renamed
// over meanwhile is not mixed up), compares with the ledger, and ships,
// resumes, or records a touch. Outcomes are logged and counted here.
func (in *Input) transfer(ctx context.Context, path string) {
	f, err := os.Open(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			in.stats.readErrors.Add(1)
			in.log.Warn("open", "path", path, "err", err)
		}
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		in.stats.readErrors.Add(1)
		in.log.Warn("stat", "path", path, "err", err)
		return
	}
	sum, err := hashFile(ctx, f)
	if err != nil {
		if ctx.Err() == nil {
			in.stats.readErrors.Add(1)
			in.log.Warn("read", "path", path, "err", err)
		}
		return
	}
	if st2, err := f.Stat(); err != nil || st2.Size() != st.Size() || !st2.ModTime().Equal(st.ModTime()) {
		return // changed while hashed: it settles again
	}
	size, mtime := st.Size(), st.ModTime().UnixNano()
	e := in.led.entries[path]
	if e != nil && e.hash == sum && e.state != stateReading {
		// touched, not changed: remember the new mtime, ship nothing
		e.size, e.mtime = size, mtime
		in.stats.unchanged.Add(1)
		if in.note(path) == nil {
			in.finish(path, e)
		}
		return
	}
	if e == nil || e.hash != sum {
		next := &entry{state: stateReading, hash: sum}
		if e != nil {
			next.seq = e.seq
		}
		e = next
		in.led.entries[path] = e
	}
	e.size, e.mtime = size, mtime
	from := e.records
	err = in.ship(ctx, f, path, e)
	var ab *abortError
	var pe *fs.PathError
	switch {
	case err == nil:
		e.state = stateShipped
		in.stats.files.Add(1)
		in.stats.bytes.Add(size)
		if in.note(path) != nil {
			return // finished at a later scan, once the mark is written
		}
		in.log.Info("shipped", "path", path, "records", e.records-from, "bytes", size)
		if st3, err := f.Stat(); err != nil || st3.Size() != size || st3.ModTime().UnixNano() != mtime {
			// the ledger keeps the version hashed: the next scan sees the
			// change and ships the new content, then applies after_transfer
			in.log.Warn("file changed while shipped; its new content will be shipped as a new version", "path", path)
			return
		}
		in.finish(path, e)
	case errors.As(err, &ab):
		// stopping, or the pos_file could not be written: retried later
	case errors.As(err, &pe):
		in.stats.readErrors.Add(1)
		in.log.Warn("read", "path", path, "err", err)
	default:
		e.state = stateFailed
		in.stats.failed.Add(1)
		in.log.Error("bad file", "path", path, "records", e.records, "err", fileError(path, err))
		if in.note(path) == nil {
			in.finish(path, e)
		}
	}
}

// fileError prefixes a data error with the file, and its line when known:
// "/data/a.csv:12: wrong number of fields".
func fileError(path string, err error) error {
	var pe *posError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d: %w", path, pe.line, pe.err)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// ship reads f (at its start) and appends its records, from e's position
// on. Data errors are returned as they are, after the records before them
// were appended; errors of the sink or the ledger as abortError.
func (in *Input) ship(ctx context.Context, f *os.File, path string, e *entry) error {
	tag := expandTag(in.cfg.Tag, path)
	if err := event.CheckTag(tag); err != nil {
		return fmt.Errorf("tag %q: %w", tag, err)
	}
	now := in.now()
	b := &batch{
		buf:        make([]byte, 0, in.batchBytes+in.batchBytes/8),
		maxRecords: in.batchRecords,
		maxBytes:   in.batchBytes,
		commit: func(buf []byte, n int, at cursor) error {
			next := *e
			next.records, next.offset = at.records, at.offset
			if err := in.append(ctx, tag, buf, n, path, &next); err != nil {
				return err
			}
			*e = next
			in.stats.records.Add(int64(n))
			in.stats.appendedBytes.Add(int64(len(buf)))
			return in.note(path)
		},
	}
	r := newFileReader(in.fmt, in.cfg.PathKey, path, now, b)
	br := bufio.NewReaderSize(f, 256<<10)
	magic, _ := br.Peek(2)
	gz := len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b
	start, line := cursor{}, int64(0)
	var names []string
	seek := !gz && e.offset > 0 && in.fmt.typ != "json"
	switch {
	case seek:
		if in.fmt.typ == "csv" || in.fmt.typ == "tsv" {
			var err error
			if names, err = r.csvHeader(io.NewSectionReader(f, 0, e.offset)); err != nil {
				return err
			}
		}
		var err error
		if line, err = countLines(ctx, f, e.offset); err != nil {
			return err
		}
		if _, err := f.Seek(e.offset, io.SeekStart); err != nil {
			return err
		}
		br.Reset(f)
		start = cursor{records: e.records, offset: e.offset}
	default:
		b.skip = e.records
	}
	var src io.Reader = br
	var zr *gzip.Reader
	if gz {
		var err error
		if zr, err = gzip.NewReader(br); err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		src = gzipErrors{zr}
	}
	var err error
	switch in.fmt.typ {
	case "json":
		// read once more for each further pass, from the same open file
		pass := 0
		err = r.jsonDocFrom(func() (io.Reader, error) {
			if pass++; pass == 1 {
				return src, nil
			}
			br.Reset(io.NewSectionReader(f, 0, math.MaxInt64))
			if zr == nil {
				return br, nil
			}
			if err := zr.Reset(br); err != nil {
				return nil, fmt.Errorf("gzip: %w", err)
			}
			return src, nil
		})
	case "ndjson":
		err = r.ndjson(src, start, line)
	default:
		err = r.csv(src, start, line, names)
	}
	if err != nil {
		var ab *abortError
		if errors.As(err, &ab) {
			return err
		}
		if ferr := b.flush(); ferr != nil {
			return ferr
		}
		return err
	}
	return b.flush()
}

// gzipErrors says "gzip:" in the errors of a gzip stream.
type gzipErrors struct{ r io.Reader }

func (g gzipErrors) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("gzip: %w", err)
	}
	return n, err
}

// hashFile returns the SHA-256 of f's content, from its start.
func hashFile(ctx context.Context, f *os.File) ([32]byte, error) {
	var sum [32]byte
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for off := int64(0); ; {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		n, err := f.ReadAt(buf, off)
		h.Write(buf[:n])
		off += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return sum, err
		}
	}
	h.Sum(sum[:0])
	return sum, nil
}

// countLines counts the line breaks in f's first n bytes: the line number
// a resumed transfer starts after.
func countLines(ctx context.Context, f *os.File, n int64) (int64, error) {
	buf := make([]byte, 1<<20)
	var lines int64
	for off := int64(0); off < n; {
		if err := ctx.Err(); err != nil {
			return 0, &abortError{err}
		}
		m, err := f.ReadAt(buf[:min(int64(len(buf)), n-off)], off)
		lines += int64(bytes.Count(buf[:m], []byte{'\n'}))
		off += int64(m)
		if err != nil && !(err == io.EOF && off >= n) {
			return 0, err
		}
	}
	return lines, nil
}
