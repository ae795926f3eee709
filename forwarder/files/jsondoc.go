package files

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

var bom = []byte{0xef, 0xbb, 0xbf}

// jsonDoc ships a JSON document: read whole (at most max_document_size),
// decoded by encoding/json (numbers kept exact), then json_path selects
// the records: each selected array gives one record per element, each
// selected object one record. A document ships all or nothing: every
// record is checked before the first is emitted.
func (r *fileReader) jsonDoc(in io.Reader) error {
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
