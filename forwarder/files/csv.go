package files

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

// column is a CSV column's key (msgpack-encoded) and rule.
type column struct {
	key  []byte
	ru   rule
	kept bool
}

// guard fails a read when the bytes read since mark exceed limit: it
// bounds the memory encoding/csv spends on one row.
type guard struct {
	r              io.Reader
	n, mark, limit int64
}

func (g *guard) Read(p []byte) (int, error) {
	if g.n-g.mark > g.limit {
		return 0, errTooLong
	}
	n, err := g.r.Read(p)
	g.n += int64(n)
	return n, err
}

const csvBuf = 1 << 20

// newCSV returns a csv.Reader over in and the guard below it.
func (r *fileReader) newCSV(in io.Reader) (*csv.Reader, *bufio.Reader, *guard) {
	g := &guard{r: in, limit: int64(r.f.maxLine) + csvBuf}
	br := bufio.NewReaderSize(g, csvBuf)
	cr := csv.NewReader(br) // uses br itself: it is large enough
	cr.Comma = r.f.comma
	cr.LazyQuotes = r.f.lazy
	cr.ReuseRecord = true
	cr.FieldsPerRecord = len(r.f.columns)
	return cr, br, g
}

// csvHeader reads the column names from the start of a file, for a
// transfer resumed past the header.
func (r *fileReader) csvHeader(in io.Reader) ([]string, error) {
	if !r.f.header {
		return r.f.columns, nil
	}
	cr, br, _ := r.newCSV(in)
	if b, _ := br.Peek(3); bytes.Equal(b, bom) {
		br.Discard(3)
	}
	row, err := cr.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, csvError(err, 0, 1)
	}
	return r.headerNames(row)
}

// headerNames returns the column names given the header row: columns
// when set (the row as wide), else the row's (named, each once).
func (r *fileReader) headerNames(row []string) ([]string, error) {
	if len(r.f.columns) > 0 {
		return r.f.columns, nil
	}
	names := make([]string, len(row))
	seen := make(map[string]bool, len(row))
	for i, n := range row {
		switch {
		case n == "":
			return nil, &posError{line: 1, err: fmt.Errorf("column %d of the header has no name", i+1)}
		case seen[n]:
			return nil, &posError{line: 1, err: fmt.Errorf("column %q repeated in the header", n)}
		}
		seen[n] = true
		names[i] = n
	}
	return names, nil
}

// csv ships one record per row, streaming, every row as wide as the
// header (or columns). start is where reading begins: 0, or after a seek;
// line is the number of lines before it; names are the columns when start
// is past the header (from csvHeader).
func (r *fileReader) csv(in io.Reader, start cursor, line int64, names []string) error {
	cr, br, g := r.newCSV(in)
	base := start.offset
	lastLine := int64(0)
	if start.offset == 0 {
		if b, _ := br.Peek(3); bytes.Equal(b, bom) {
			br.Discard(3)
			base += 3
		}
		names = r.f.columns
		if r.f.header {
			row, err := cr.Read()
			if err == io.EOF {
				return nil
			} else if err != nil {
				return csvError(err, 0, 1)
			}
			if names, err = r.headerNames(row); err != nil {
				return err
			}
			lastLine, g.mark = 1, cr.InputOffset()
		}
	}
	cr.FieldsPerRecord = len(names)
	cols := make([]column, len(names))
	width := uint32(r.tr.TailLen)
	for i, n := range names {
		c := column{key: msgp.AppendString(nil, n), ru: r.f.rules[n], kept: true}
		if c.ru.drop || c.ru.time && !r.f.keepTime {
			c.kept = false
		}
		if c.kept {
			width++
		}
		cols[i] = c
	}
	c := start
	for {
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return csvError(err, line, lastLine+1)
		}
		fl, _ := cr.FieldPos(0)
		lastLine = int64(fl)
		g.mark = cr.InputOffset()
		r.timeBuf = r.timeBuf[:0]
		rec := msgp.AppendMapHeader(r.rec[:0], width)
		for i, v := range row {
			col := &cols[i]
			if col.ru == (rule{}) {
				rec = append(rec, col.key...)
				rec = msgp.AppendString(rec, v)
				continue
			}
			if col.ru.time && v != "" {
				sec, nsec, ok := r.f.time.ParseString(v, r.now)
				if !ok {
					return &posError{line: line + lastLine, err: fmt.Errorf("%s: %w", names[i], r.f.timeError(v))}
				}
				r.timeBuf = event.AppendEventTime(r.timeBuf[:0], sec, nsec)
			}
			if !col.kept {
				continue
			}
			rec = append(rec, col.key...)
			if col.ru.conv == nil {
				rec = msgp.AppendString(rec, v)
			} else if rec, err = col.ru.conv.Convert(rec, v, r.now); err != nil {
				return &posError{line: line + lastLine, err: fmt.Errorf("%s: %w", names[i], err)}
			}
		}
		rec = append(rec, r.tr.Tail...)
		r.rec = rec
		c.records++
		c.offset = base + cr.InputOffset()
		if err := r.out.add(r.time(), rec, c); err != nil {
			return err
		}
	}
}

// csvError places an error of encoding/csv: its own line numbers count
// from where reading began, after line lines.
func csvError(err error, line, next int64) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &posError{line: line + int64(pe.Line), err: pe.Err}
	}
	return &posError{line: line + next, err: err}
}
