package format

import (
	"errors"
	"fmt"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/event"
)

// ErrAllRejected is wrapped (with buffer.Permanent) by a Flusher's error
// when no record of a chunk could be written.
var ErrAllRejected = errors.New("output: every record of the chunk rejected")

// AllRejected reports whether the Encode call wrote no record because it
// rejected every one: a Flusher then writes nothing and returns Err's
// permanent error.
func (s Stats) AllRejected() bool { return s.Records == 0 && len(s.Rejects) > 0 }

// Err is what a Flusher returns once the records of s are safely written:
// nil, or buffer.Rejected(s.Rejects) when some were rejected. When every
// record was rejected it is a buffer.Permanent error wrapping
// ErrAllRejected with the first reason.
func (s Stats) Err() error {
	if s.AllRejected() {
		return buffer.Permanent(fmt.Errorf("%w: %d rejected, first: %s", ErrAllRejected, len(s.Rejects), s.Rejects[0].Reason))
	}
	return buffer.Rejected(s.Rejects)
}

// nextEntry delimits the entry at the front of entries and checks it: an
// array [time, record] with a canonical time and a record that event.CheckRecord
// accepts. It returns the entry's time, its record and the entry's length.
// When the entry is well-formed msgpack but not a valid entry, err says
// why and n is still its length: the entry alone is rejected. When it
// cannot be delimited at all, n is -1: the rest of the frame is rejected.
func nextEntry(entries []byte) (sec, nsec int64, rec []byte, n int, err error) {
	if rec, err = event.ReadHead(entries); err == nil {
		if rec, sec, nsec, err = event.ReadTime(rec); err == nil {
			var rest []byte
			if rest, err = event.CheckRecord(rec); err == nil {
				return sec, nsec, rec[:len(rec)-len(rest)], len(entries) - len(rest), nil
			}
		}
	}
	end, serr := event.Skip(entries)
	if serr != nil {
		return 0, 0, nil, -1, err
	}
	return 0, 0, nil, end, err
}
