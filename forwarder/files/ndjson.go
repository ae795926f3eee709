package files

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/barge-dev/barge/forwarder/parse"
)

// ndjson ships one record per line, streaming: a line is at most
// max_line_size bytes (its line break aside), blank lines are skipped.
// start is where reading begins (after a seek); line is the number of
// lines before it.
func (r *fileReader) ndjson(in io.Reader, start cursor, line int64) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, min(256<<10, r.f.maxLine+2)), r.f.maxLine+2)
	sc.Split(splitLine)
	c := start
	first := start.offset == 0
	for sc.Scan() {
		tok := sc.Bytes()
		c.offset += int64(len(tok))
		line++
		body := tok
		if first {
			body, first = bytes.TrimPrefix(body, bom), false
		}
		body = trimEOL(body)
		if len(body) > r.f.maxLine {
			return &posError{line: line, err: errTooLong}
		}
		if isBlank(body) {
			continue
		}
		rec, err := r.object(body)
		if err != nil {
			var je *parse.JSONError
			if errors.As(err, &je) {
				err = fmt.Errorf("column %d: %w", je.Offset+1, je)
			}
			return &posError{line: line, err: err}
		}
		c.records++
		if err := r.out.add(r.time(), rec, c); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = errTooLong
		}
		return &posError{line: line + 1, err: err}
	}
	return nil
}

// splitLine is bufio.ScanLines keeping the line break, so offsets add up.
func splitLine(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i+1], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
