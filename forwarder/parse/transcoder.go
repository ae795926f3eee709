package parse

import (
	"fmt"

	"github.com/barge-dev/barge/buffer/event"
)

// Transcoder turns JSON objects into msgpack maps, for inputs that read
// JSON records themselves (the whole-file input's ndjson lines). It reads
// values as the json parser does (see jsontext.go): what encoding/json
// reads, keys in their order, a repeated key kept as it comes. The zero
// Transcoder transcodes the object as it is.
type Transcoder struct {
	// Field, when not nil, is called after each field of the object (the
	// top level only) is appended to dst: its key, a msgpack str, at
	// dst[key:val], its value at dst[val:]. It returns dst as it is, with
	// the value replaced (dst[:val] and another value), or cut at key,
	// which drops the field. An error stops the transcoding and is
	// returned as it is.
	Field func(dst []byte, key, val int) ([]byte, error)
	// Tail is appended to the map after the object's fields: TailLen more
	// msgpack key-value pairs.
	Tail    []byte
	TailLen int
}

// AppendObject transcodes src, one JSON object with white space around it
// allowed, into a msgpack map appended to dst. Text that does not
// transcode (not an object, invalid JSON, a number out of float64's
// range, nesting deeper than event.MaxDepth) is a *JSONError. On error
// the returned dst holds what was appended so far; callers drop it.
func (t *Transcoder) AppendObject(dst, src []byte) ([]byte, error) {
	i := skipWS(src, 0)
	if i == len(src) || src[i] != '{' {
		return dst, &JSONError{Offset: i, Reason: "not a JSON object"}
	}
	dst, i, err := appendObject(dst, src, i, 1, t)
	switch {
	case err == errDeep:
		return dst, &JSONError{Offset: i, Err: event.ErrTooDeep}
	case err == errRange:
		return dst, &JSONError{Offset: i, Reason: "number out of range"}
	case err == errJSON && i >= len(src):
		return dst, &JSONError{Offset: i, Reason: "unexpected end"}
	case err == errJSON:
		return dst, &JSONError{Offset: i, Reason: fmt.Sprintf("unexpected %q", src[i])}
	case err != nil:
		return dst, err
	}
	if i = skipWS(src, i); i != len(src) {
		return dst, &JSONError{Offset: i, Reason: "data after the object"}
	}
	return dst, nil
}

// JSONError is JSON text that does not transcode. Its message does not
// say where: the caller, which knows the line, says it from Offset.
type JSONError struct {
	// Offset is the index in src of the byte where transcoding stopped
	// (len(src) at its end).
	Offset int
	// Reason says what is wrong there.
	Reason string
	// Err is event.ErrTooDeep for text nested too deeply, else nil.
	Err error
}

func (e *JSONError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return "invalid JSON: " + e.Reason
}

func (e *JSONError) Unwrap() error { return e.Err }
