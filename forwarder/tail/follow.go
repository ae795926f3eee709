package tail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/barge-dev/barge/forwarder/parse"
)

// readBufSize is a file's read buffer at first; it grows up to
// max_line_size (plus this) while a line is incomplete.
const readBufSize = 64 << 10

// follower is one file followed: its open file, its read buffer, its
// parser and the offsets of the lines read. Only Run's goroutine uses it.
//
// Offsets: buf holds the file's bytes from bufOff; buf[head:] is not yet
// cut into lines. next is the offset after the last line consumed (given
// to the parser, or skipped); starts are the start offsets of the last
// lines the parser holds (parse.Parser.Held). The position to commit is
// starts[0], else next.
type follower struct {
	path   string
	key    string // its position's key in the store: path, or rotatedKey
	tag    string
	f      *os.File
	gz     *gzSource // a .gz file: f read decompressed
	id     Identity
	parser parse.Parser
	maxLen int64

	buf    []byte
	bufOff int64
	head   int  // start of the next line in buf
	scan   int  // where to look for the next "\n" in buf
	skip   bool // discarding a line longer than max_line_size

	starts    []int64
	next      int64
	committed int64 // -1: nothing committed yet

	idle     bool      // read to its end; nothing said it grew since
	rotated  time.Time // when its path stopped naming it (zero: it does)
	lastLine time.Time // when a line was last given to the parser
	lastSize int64     // size seen at the last reconcile
	records  parse.Stats
	window   struct { // read_bytes_limit_per_second
		start time.Time
		bytes int64
	}
}

// openFollower opens path and decides where it is read from: its
// position, if the store holds one (Decide); else its end when fromEnd
// (read_from_head false, at first start), else 0.
func (t *Tailer) openFollower(path string, fromEnd bool) (*follower, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	gz := isGzip(path)
	id, fi, err := readIdentity(f, gz)
	if err != nil {
		f.Close()
		return nil, err
	}
	size := fi.Size()
	if gz {
		size = -1 // Decide: unknown until decompressed
	}
	p, err := parse.New(t.cfg.Parse, t.parseOpt)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("<parse>: %w", err)
	}
	var off int64
	committed := int64(-1)
	e, ok := t.store.Get(path)
	if !ok || !e.ID.Same(id) {
		if ie, iok := t.byIdentity(id); iok { // follow_inodes: renamed here
			t.log.Info("file read on from the position it had under another path", "path", path, "was", ie.Path)
			e, ok = ie, true
		}
	}
	if ok {
		var v Verdict
		off, v = Decide(e, id, size)
		if v == Resume {
			committed = off
		} else {
			t.log.Info("file is not the one of its position; read from its start", "path", path, "verdict", v.String())
		}
	} else if fromEnd {
		off = fi.Size()
		if gz {
			if off, err = gzSize(f); err != nil {
				f.Close()
				return nil, fmt.Errorf("read %s: %w", path, err)
			}
		}
	}
	fl := &follower{
		path: path, key: path, tag: t.cfg.TagFor(path), f: f, id: id, parser: p, maxLen: t.cfg.MaxLineSize,
		bufOff: off, next: off, committed: committed, lastSize: fi.Size(),
	}
	if gz {
		fl.gz = &gzSource{f: f}
	}
	return fl, nil
}

func (fl *follower) close() error {
	if fl.f == nil {
		return nil
	}
	err := fl.f.Close()
	fl.f = nil
	return err
}

// readOff is the offset of the next byte to read from the file.
func (fl *follower) readOff() int64 { return fl.bufOff + int64(len(fl.buf)) }

// reset makes the file read again from offset 0 (it was truncated, or
// replaced in place), with a new parser: what the old one held is gone
// with the old bytes.
func (t *Tailer) reset(fl *follower) {
	fl.buf, fl.bufOff, fl.head, fl.scan, fl.skip = fl.buf[:0], 0, 0, 0, false
	fl.starts, fl.next = fl.starts[:0], 0
	if p, err := parse.New(t.cfg.Parse, t.parseOpt); err == nil {
		t.countParser(fl)
		fl.parser, fl.records = p, parse.Stats{}
	}
	fl.idle = false
}

// countParser adds the parser's counters since last time to the tailer's.
func (t *Tailer) countParser(fl *follower) {
	s := fl.parser.Stats()
	t.counters.records.Add(s.Records - fl.records.Records)
	t.counters.unmatched.Add(s.Unmatched - fl.records.Unmatched)
	fl.records = s
}

// longLine reports a line longer than max_line_size, skipped.
func (t *Tailer) longLine(fl *follower, start int64) {
	t.counters.long.Add(1)
	t.log.Warn("line longer than max_line_size skipped", "path", fl.path, "offset", start, "max_line_size", fl.maxLen)
}

// nextLine returns the next complete line (without "\n" and a trailing
// "\r") and its start offset; ok is false at the end of what the file
// holds now (a partial last line stays in buf). Lines longer than
// max_line_size are skipped and reported. The line aliases buf.
func (t *Tailer) nextLine(fl *follower) (line []byte, start int64, ok bool, err error) {
	for {
		if i := bytes.IndexByte(fl.buf[fl.scan:], '\n'); i >= 0 {
			end := fl.scan + i
			start = fl.bufOff + int64(fl.head)
			line = fl.buf[fl.head:end]
			fl.head, fl.scan = end+1, end+1
			fl.next = fl.bufOff + int64(fl.head)
			t.counters.bytes.Add(uint64(len(line)) + 1)
			switch {
			case fl.skip: // the end of a long line, reported already
				fl.skip = false
				continue
			case int64(len(line)) > fl.maxLen:
				t.longLine(fl, start)
				continue
			}
			return bytes.TrimSuffix(line, []byte{'\r'}), start, true, nil
		}
		fl.scan = len(fl.buf)
		if partial := len(fl.buf) - fl.head; int64(partial) > fl.maxLen || fl.skip && partial > 0 {
			if !fl.skip {
				t.longLine(fl, fl.bufOff+int64(fl.head))
				fl.skip = true
			}
			t.counters.bytes.Add(uint64(partial))
			fl.bufOff += int64(len(fl.buf))
			fl.buf, fl.head, fl.scan = fl.buf[:0], 0, 0
		}
		if n, err := fl.fill(); n == 0 {
			return nil, 0, false, err
		}
	}
}

// fill reads more of the file into buf, after moving the unread bytes to
// its front and growing it when full (up to max_line_size and a read).
func (fl *follower) fill() (int, error) {
	if fl.head > 0 {
		n := copy(fl.buf, fl.buf[fl.head:])
		fl.bufOff += int64(fl.head)
		fl.buf, fl.scan, fl.head = fl.buf[:n], fl.scan-fl.head, 0
	}
	if len(fl.buf) == 0 && cap(fl.buf) > readBufSize {
		fl.buf = nil // grown for a long line: back to the usual size
	}
	if cap(fl.buf)-len(fl.buf) < readBufSize/4 {
		size := max(2*cap(fl.buf), readBufSize)
		size = min(size, int(fl.maxLen)+readBufSize)
		if size <= len(fl.buf) {
			size = len(fl.buf) + readBufSize
		}
		var nb []byte
		if size == readBufSize && len(fl.buf) == 0 {
			nb = (*readBufs.Get().(*[]byte))[:0]
		} else {
			nb = make([]byte, len(fl.buf), size)
			copy(nb, fl.buf)
		}
		fl.buf = nb
	}
	if fl.f == nil {
		return 0, nil
	}
	var n int
	var err error
	if fl.gz != nil {
		n, err = fl.gz.ReadAt(fl.buf[len(fl.buf):cap(fl.buf)], fl.readOff())
	} else {
		n, err = fl.f.ReadAt(fl.buf[len(fl.buf):cap(fl.buf)], fl.readOff())
	}
	fl.buf = fl.buf[:len(fl.buf)+n]
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if err != nil {
		err = fmt.Errorf("read %s: %w", fl.path, err)
	}
	return n, err
}

// readBufs holds the read buffers of files read to their end (see
// release), for the next file that has something to read.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 0, readBufSize); return &b }}

// release lets go of fl's read buffer when it holds nothing unread: a
// file read to its end costs no buffer while it stays idle (a thousand
// idle files would otherwise hold 64 MiB).
func (fl *follower) release() {
	if fl.head < len(fl.buf) || cap(fl.buf) == 0 {
		return
	}
	fl.bufOff += int64(len(fl.buf))
	if cap(fl.buf) == readBufSize {
		b := fl.buf[:0]
		readBufs.Put(&b)
	}
	fl.buf, fl.head, fl.scan = nil, 0, 0
}

// partial takes the incomplete last line, if any, as a line: for a file
// rotated away whose rotate_wait passed.
func (fl *follower) partial() (line []byte, start int64, ok bool) {
	if fl.skip || fl.head >= len(fl.buf) {
		return nil, 0, false
	}
	line, start = fl.buf[fl.head:], fl.bufOff+int64(fl.head)
	fl.head, fl.scan = len(fl.buf), len(fl.buf)
	fl.next = fl.bufOff + int64(fl.head)
	return bytes.TrimSuffix(line, []byte{'\r'}), start, true
}
