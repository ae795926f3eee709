package files

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/theory/jsonpath"
	"github.com/theory/jsonpath/spec"
)

// pathStep is a step of a json_path that walks straight down from the
// root: a member's name, or an array's index (index -1 for a name).
type pathStep struct {
	name  string
	index int
}

// streamSteps returns the steps of p when it selects at most one node by
// a straight walk from the root ($, $.task, $.data.items, $['a b'].c,
// $.pages[0].rows; nil p is the document itself). Any other query
// (wildcards, slices, filters, descendants, negative indexes, several
// selectors in a segment) returns false: it needs the whole document.
func streamSteps(p *jsonpath.Path) ([]pathStep, bool) {
	if p == nil {
		return nil, true
	}
	var steps []pathStep
	for _, seg := range p.Query().Segments() {
		sels := seg.Selectors()
		if seg.IsDescendant() || len(sels) != 1 {
			return nil, false
		}
		switch s := sels[0].(type) {
		case spec.Name:
			steps = append(steps, pathStep{name: string(s), index: -1})
		case spec.Index:
			if s < 0 {
				return nil, false
			}
			steps = append(steps, pathStep{index: int(s)})
		default:
			return nil, false
		}
	}
	return steps, true
}

// walker follows the path down a streamed document to the selected node
// and hands its records to the reader: each element of an array, or the
// node itself. It tells which node is selected as json_path over the
// decoded document would: when a key is repeated, its last occurrence
// (a node the path reaches replaces what was selected before).
type walker struct {
	r     *fileReader
	sc    jsonScanner
	steps []pathStep
	emit  bool  // check (false), or emit the records (true)
	want  int64 // when emitting: the records checked, emitted at most

	open   int     // the path's nodes open: containers at levels below are on it
	count  []int64 // elements seen of each open array on the path
	match  bool    // the member about to begin is the path's next step
	keyCap bool    // capturing a key to match against the path
	began  bool    // the top-level value began
	done   bool    // the top-level value ended

	selected bool  // the path reached its node
	start    int64 // the node's offset (after the BOM)
	recs     int64 // records of the node seen
	recErr   error // the first bad record of the node
	recCap   bool  // capturing a record
	recLevel int   // its nesting level

	bad error // the document is not JSON, or has data after it
}

// newWalker returns a walker checking a document; newEmitWalker one
// emitting the records, at most want, of the node a checking walker
// selected.
func newWalker(r *fileReader, steps []pathStep) *walker {
	return &walker{r: r, steps: steps, count: make([]int64, len(steps)+1)}
}

func newEmitWalker(r *fileReader, want int64) *walker {
	w := newWalker(r, nil)
	w.emit, w.want = true, want
	return w
}

// run reads d until its end, a data error (w.bad), or, when emitting, the
// end of the top-level value. It returns read errors and the emitter's.
func (w *walker) run(d *docStream) error {
	for {
		if d.pos == d.end {
			ok, err := d.more()
			if err != nil {
				return err
			}
			if !ok {
				w.atEOF()
				return nil
			}
		}
		c := d.buf[d.pos]
		d.pos++
		d.off++
		if c == '\n' {
			d.lines++
		}
		if w.done {
			if !isSpace(c) {
				w.bad = &posError{line: d.lines + 1, err: errors.New("data after the document")}
				return nil
			}
			continue
		}
		if w.sc.state == stInString {
			// the bulk of a document: the rest of a string, as far as buffered
			i := d.pos
			for i < d.end && d.buf[i] >= 0x20 && d.buf[i] != '"' && d.buf[i] != '\\' {
				i++
			}
			if c >= 0x20 && c != '"' && c != '\\' {
				d.off += int64(i - d.pos)
				d.pos = i
				continue
			}
		}
		switch op := w.sc.step(c); op {
		case scanBeginObject, scanBeginArray:
			w.value(len(w.sc.stack)-1, c, d)
		case scanBeginLiteral:
			if n := len(w.sc.stack); n > 0 && w.sc.stack[n-1] == parseObjectKey {
				w.key(n-1, d)
			} else {
				w.value(n, c, d)
			}
		case scanEndObject, scanEndArray:
			if err := w.end(len(w.sc.stack), d); err != nil {
				return err
			}
			if len(w.sc.stack) == 0 {
				w.done = true
				if w.emit {
					return nil
				}
			}
		case scanEnd: // a top-level number, string or literal ended before c
			w.done = true
			if !isSpace(c) {
				w.bad = &posError{line: d.lines + 1, err: errors.New("data after the document")}
				return nil
			}
		case scanError:
			w.bad = &posError{line: d.lines + 1, err: fmt.Errorf("invalid JSON: %w", syntaxError(w.sc.msg))}
			return nil
		}
		if w.keyCap && w.sc.state == stEndValue {
			w.keyCap = false
			raw := d.captured()
			w.match = !d.capOver && keyIs(raw, w.steps[w.open-1].name)
		}
		if w.emit && w.recErr != nil {
			return w.r.changed(w.recErr)
		}
	}
}

// atEOF ends the document as json.Decoder does: a value not ended is
// "unexpected EOF", reported at the document's start.
func (w *walker) atEOF() {
	switch {
	case w.done:
	case !w.began:
		w.bad = &posError{line: 1, err: errors.New("empty document")}
	case w.sc.step(' ') == scanEnd:
		w.done = true
	default:
		w.bad = &posError{line: 1, err: fmt.Errorf("invalid JSON: %w", io.ErrUnexpectedEOF)}
	}
}

// value sees a value begin, at nesting level (0: the document), with its
// first byte c.
func (w *walker) value(level int, c byte, d *docStream) {
	if level == 0 {
		w.began = true
	}
	if level != w.open {
		return // off the path
	}
	if level > len(w.steps) {
		w.element(level, c, d)
		return
	}
	if level > 0 {
		if w.sc.stack[level-1] == parseArrayValue {
			i := w.count[level-1]
			w.count[level-1]++
			if int64(w.steps[level-1].index) != i {
				return
			}
		} else if !w.match {
			return
		}
		w.match = false
	}
	// reached by the path: it replaces what an earlier occurrence of a
	// repeated key selected
	w.selected, w.recs, w.recErr = false, 0, nil
	if level < len(w.steps) {
		if c == '{' || c == '[' {
			w.open = level + 1
			w.count[level] = 0
		}
		return
	}
	w.selected, w.start = true, d.off-1
	if c == '[' {
		w.open = level + 1 // its elements are the records
		return
	}
	w.element(level, c, d)
}

// element sees a record begin: an element of the selected array, or the
// selected node itself.
func (w *walker) element(level int, c byte, d *docStream) {
	w.recs++
	if w.recErr != nil {
		return // only the first bad record is told
	}
	if w.emit && w.recs > w.want {
		w.recErr = fmt.Errorf("more than %d records", w.want)
		return
	}
	if c != '{' {
		w.recErr = fmt.Errorf("record %d: is %s, want an object", w.recs, jsonKindOf(c))
		return
	}
	d.capture(0)
	w.recCap, w.recLevel = true, level
}

// key sees a key begin in an object at level.
func (w *walker) key(level int, d *docStream) {
	w.match = false
	if level != w.open-1 || level >= len(w.steps) || w.steps[level].index >= 0 {
		return
	}
	// an escape is at most 6 bytes for 1 of the name
	d.capture(6*len(w.steps[level].name) + 2)
	w.keyCap = true
}

// end sees the container at level end.
func (w *walker) end(level int, d *docStream) error {
	if level < w.open {
		w.open = level
	}
	if !w.recCap || level != w.recLevel {
		return nil
	}
	w.recCap = false
	rec, err := w.r.docRecord(d.captured())
	if err != nil {
		w.recErr = fmt.Errorf("record %d: %w", w.recs, err)
		return nil
	}
	if w.emit {
		return w.r.out.add(w.r.time(), rec, cursor{records: w.recs})
	}
	return nil
}

// docRecord decodes the text of an object of the document as a record.
// One json.Decoder serves every record of the reader, fed their texts in
// turn, so that its buffer is kept.
func (r *fileReader) docRecord(text []byte) ([]byte, error) {
	if r.dec == nil {
		r.dec = json.NewDecoder(&r.feed)
		r.dec.UseNumber()
	}
	r.feed.Reset(text)
	var v any
	if err := r.dec.Decode(&v); err != nil {
		r.dec = nil // its error sticks
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("is %s, want an object", jsonKind(v))
	}
	return r.mapRecord(m)
}

// keyIs tells whether the JSON string raw decodes to name.
func keyIs(raw []byte, name string) bool {
	if len(raw) < 2 {
		return false
	}
	if body := raw[1 : len(raw)-1]; bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return string(body) == name
	}
	var s string
	return json.Unmarshal(raw, &s) == nil && s == name
}

// jsonKindOf names the kind of a value by its first byte, as jsonKind.
func jsonKindOf(c byte) string {
	switch c {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a bool"
	case 'n':
		return "null"
	}
	return "a number"
}

// syntaxError is a message of encoding/json's scanner.
type syntaxError string

func (e syntaxError) Error() string { return string(e) }
