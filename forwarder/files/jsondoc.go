package files

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
)

var bom = []byte{0xef, 0xbb, 0xbf}

// docBuf is the read buffer of a streamed document.
const docBuf = 64 << 10

// jsonDoc ships the JSON document read from in. An io.Seeker is read
// twice from where it is, as jsonDocFrom does; any other reader is held
// whole (jsonWhole).
func (r *fileReader) jsonDoc(in io.Reader) error {
	s, ok := in.(io.ReadSeeker)
	if !ok {
		return r.jsonWhole(in)
	}
	start, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	pass := 0
	return r.jsonDocFrom(func() (io.Reader, error) {
		if pass++; pass > 1 {
			if _, err := s.Seek(start, io.SeekStart); err != nil {
				return nil, err
			}
		}
		return s, nil
	})
}

// jsonDocFrom ships a JSON document: at most max_document_size bytes,
// numbers kept exact, json_path selecting the records (each element of a
// selected array, or the selected object). A document ships all or
// nothing: every record is checked before the first is emitted.
//
// open returns the document from its start; each call begins a pass.
// When json_path walks straight down from the root (streamSteps), the
// document is streamed twice and never held: the first pass checks the
// whole document as json.Decoder would (jsonScanner), finds the selected
// node (the last occurrence of a repeated key, as a decoded map keeps)
// and checks its records one at a time; the second skips to the node and
// emits its records. Memory then grows with the largest record, not with
// the document. Any other json_path needs the whole document: jsonWhole,
// with one pass.
func (r *fileReader) jsonDocFrom(open func() (io.Reader, error)) error {
	in, err := open()
	if err != nil {
		return err
	}
	if !r.f.stream {
		return r.jsonWhole(in)
	}
	buf := make([]byte, docBuf)
	d, err := newDocStream(in, r.f.maxDoc, buf)
	if err != nil {
		return err
	}
	w := newWalker(r, r.f.steps)
	if err := w.run(d); err != nil {
		return err
	}
	if w.bad != nil {
		// the rest is read as io.ReadAll would: a read error, then a
		// document over max_document_size, come before a syntax error
		if _, err := io.Copy(io.Discard, &d.lr); err != nil {
			return err
		}
	}
	switch {
	case d.lr.N == 0:
		return fmt.Errorf("document larger than max_document_size (%d bytes)", r.f.maxDoc)
	case w.bad != nil:
		return w.bad
	case !w.selected:
		return fmt.Errorf("json_path %s selected nothing", r.f.pathText)
	case w.recErr != nil:
		return w.recErr
	}

	if in, err = open(); err != nil {
		return err
	}
	if d, err = newDocStream(in, r.f.maxDoc, buf); err != nil {
		return err
	}
	if ok, err := d.skip(w.start); err != nil || !ok {
		if err != nil {
			return err
		}
		return r.changed(io.ErrUnexpectedEOF)
	}
	e := newEmitWalker(r, w.recs)
	if err := e.run(d); err != nil {
		return err
	}
	switch {
	case e.bad != nil:
		return r.changed(e.bad)
	case e.recErr != nil:
		return r.changed(e.recErr)
	case !e.done || e.recs != w.recs:
		return r.changed(fmt.Errorf("%d records, then %d", w.recs, e.recs))
	}
	return nil
}

// changed is the error of a document that differs between the passes
// (written to while shipped): a read error, so that the file is tried
// again at the next scan, as the new version it is.
func (r *fileReader) changed(err error) error {
	return &fs.PathError{Op: "read", Path: r.path, Err: fmt.Errorf("document changed while shipped: %w", err)}
}

// jsonWhole ships a JSON document held whole: read (at most
// max_document_size), decoded by encoding/json into maps (10 to 20 times
// the document's size in memory), then json_path selects the records. It
// serves the json_path queries that cannot be streamed (wildcards,
// slices, filters, descendants, negative indexes, several selectors), and
// the tests as the reference of the streaming passes.
func (r *fileReader) jsonWhole(in io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(in, r.f.maxDoc+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > r.f.maxDoc {
		return fmt.Errorf("document larger than max_document_size (%d bytes)", r.f.maxDoc)
	}
	data = bytes.TrimPrefix(data, bom)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return &posError{line: 1, err: errors.New("empty document")}
		}
		return &posError{line: lineAt(data, jsonOffset(err, dec)), err: fmt.Errorf("invalid JSON: %w", err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &posError{line: lineAt(data, dec.InputOffset()), err: errors.New("data after the document")}
	}
	nodes := []any{doc}
	if r.f.path != nil {
		nodes = r.f.path.Select(doc)
		if len(nodes) == 0 {
			return fmt.Errorf("json_path %s selected nothing", r.f.pathText)
		}
	}
	// check every record, then emit them
	for pass := 0; pass < 2; pass++ {
		idx := int64(0)
		for _, n := range nodes {
			elems := []any{n}
			if a, ok := n.([]any); ok {
				elems = a
			}
			for _, el := range elems {
				idx++
				m, ok := el.(map[string]any)
				if !ok {
					return fmt.Errorf("record %d: is %s, want an object", idx, jsonKind(el))
				}
				rec, err := r.mapRecord(m)
				if err != nil {
					return fmt.Errorf("record %d: %w", idx, err)
				}
				if pass == 1 {
					if err := r.out.add(r.time(), rec, cursor{records: idx}); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// jsonOffset finds where encoding/json stopped.
func jsonOffset(err error, dec *json.Decoder) int64 {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Offset
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Offset
	}
	return dec.InputOffset()
}

func lineAt(data []byte, off int64) int64 {
	off = min(max(off, 0), int64(len(data)))
	return int64(bytes.Count(data[:off], []byte{'\n'})) + 1
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a bool"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// mapRecord renders a decoded object as a record: encoding/json writes it
// again (keys sorted, numbers as they were), and the transcoder of ndjson
// lines reads it, applying the same rules.
func (r *fileReader) mapRecord(m map[string]any) ([]byte, error) {
	var err error
	if r.doc, err = appendJSON(r.doc[:0], m); err != nil {
		return nil, err
	}
	return r.object(r.doc)
}

// appendJSON appends the JSON text of v, without HTML escapes.
func appendJSON(dst []byte, v any) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return buf.Bytes(), err
}
