package buffertest

import (
	"bytes"
	"errors"
	"io"
)

// Frames is what an output's encoder reads: (tag, entries) frames, io.EOF
// at the end (format.Frames; *buffer.Reader is one).
type Frames interface {
	Next() (tag string, entries []byte, err error)
}

// Replay serves Src's frames, keeping copies, and serves the copies again
// after Rewind: for tests of outputs that encode a chunk twice (an upload
// redone once the record count is known).
type Replay struct {
	Src    Frames
	tags   []string
	frames [][]byte
	i      int
	done   bool
}

// Rewind starts the frames again from the first.
func (r *Replay) Rewind() { r.i = 0 }

// Next returns the next frame.
func (r *Replay) Next() (string, []byte, error) {
	if r.i < len(r.frames) {
		r.i++
		return r.tags[r.i-1], r.frames[r.i-1], nil
	}
	if r.done {
		return "", nil, io.EOF
	}
	tag, b, err := r.Src.Next()
	if err != nil {
		r.done = errors.Is(err, io.EOF)
		return tag, b, err
	}
	r.tags, r.frames = append(r.tags, tag), append(r.frames, bytes.Clone(b))
	r.i++
	return tag, b, nil
}
