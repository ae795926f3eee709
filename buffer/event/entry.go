package event

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// EventTimeExt is the msgpack extension type of Fluentd's EventTime.
const EventTimeExt = 0

// ErrEntry is wrapped by every error about a malformed entry: not a
// [time, record] array, a time that is not canonical, a record that is not
// a well-formed msgpack map, or one nested deeper than MaxDepth. Retrying
// cannot help such an entry; it is refused at the door or rejected alone.
var ErrEntry = errors.New("malformed entry")

// ErrTooDeep is the error of a record nested deeper than MaxDepth. It wraps
// ErrEntry, and is one value so that refusing many costs no allocation.
var ErrTooDeep = fmt.Errorf("%w: record nested deeper than %d levels", ErrEntry, MaxDepth)

// Entry is one event of a canonical entries stream. Its slices alias the
// stream it was read from.
type Entry struct {
	// RawTime is the msgpack encoding of the time, exactly as stored.
	RawTime []byte
	// Sec and Nsec are the event time.
	Sec, Nsec int64
	// Record is the msgpack map of the record, exactly as stored.
	Record []byte
}

// Time returns the event time.
func (e Entry) Time() time.Time { return time.Unix(e.Sec, e.Nsec) }

// UnixNano returns the event time in nanoseconds since the epoch.
func (e Entry) UnixNano() int64 { return e.Sec*1e9 + e.Nsec }

// Next reads one entry from the front of a canonical stream and returns it
// with the rest of the stream. It checks the shape of the entry ([time, map])
// and that the record is well-formed msgpack, without recursing, so that
// deep nesting costs no stack (CheckRecord also bounds the nesting).
func Next(b []byte) (Entry, []byte, error) {
	// the common shape first: [EventTime (d7 00 + 8 bytes), map]
	if len(b) >= 12 && b[0] == 0x92 && b[1] == 0xd7 && b[2] == EventTimeExt && IsMap(b[11:]) {
		nsec := int64(binary.BigEndian.Uint32(b[7:]))
		if n, _, err := Skim(b[11:]); err == nil && nsec < 1e9 {
			e := Entry{RawTime: b[1:11], Sec: int64(binary.BigEndian.Uint32(b[3:])), Nsec: nsec, Record: b[11 : 11+n]}
			return e, b[11+n:], nil
		}
	}
	return nextSlow(b)
}

// nextSlow is Next for every input.
func nextSlow(b []byte) (Entry, []byte, error) {
	var e Entry
	rest, err := ReadHead(b)
	if err != nil {
		return e, b, err
	}
	tail, sec, nsec, err := ReadTime(rest)
	if err != nil {
		return e, b, err
	}
	e.RawTime = rest[:len(rest)-len(tail)]
	e.Sec, e.Nsec = sec, nsec
	if !IsMap(tail) {
		return e, b, fmt.Errorf("%w: record is %s, want map", ErrEntry, msgp.NextType(tail))
	}
	rl, err := Skip(tail)
	if err != nil {
		return e, b, fmt.Errorf("record: %w", err)
	}
	e.Record = tail[:rl]
	return e, tail[rl:], nil
}

// ReadHead reads the array header of an entry, which must have two
// elements, and returns the rest (the time, then the record).
func ReadHead(b []byte) ([]byte, error) {
	if len(b) > 0 && b[0] == 0x92 {
		return b[1:], nil
	}
	n, rest, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil || n != 2 {
		return b, errNotPair
	}
	return rest, nil
}

var errNotPair = fmt.Errorf("%w: entry is not a [time, record] array", ErrEntry)

// ReadTime reads a canonical time (a non-negative integer of at most 2^40
// seconds, or an EventTime) from the front of b and returns the rest.
func ReadTime(b []byte) (rest []byte, sec, nsec int64, err error) {
	if len(b) == 0 {
		return b, 0, 0, fmt.Errorf("%w: missing time", ErrEntry)
	}
	switch c := b[0]; {
	case c == 0xd7 && len(b) >= 10: // fixext8, the common case
		if int8(b[1]) != EventTimeExt {
			return b, 0, 0, fmt.Errorf("%w: time is ext type %d, want EventTime (0)", ErrEntry, int8(b[1]))
		}
		sec, nsec, rest = int64(binary.BigEndian.Uint32(b[2:])), int64(binary.BigEndian.Uint32(b[6:])), b[10:]
	case c <= 0x7f:
		return b[1:], int64(c), 0, nil
	case c == 0xc7 && len(b) >= 11 && b[1] == 8: // ext8 of 8 bytes
		if int8(b[2]) != EventTimeExt {
			return b, 0, 0, fmt.Errorf("%w: time is ext type %d, want EventTime (0)", ErrEntry, int8(b[2]))
		}
		sec, nsec, rest = int64(binary.BigEndian.Uint32(b[3:])), int64(binary.BigEndian.Uint32(b[7:])), b[11:]
	case c >= 0xcc && c <= 0xcf:
		u, rest, err := msgp.ReadUint64Bytes(b)
		if err != nil {
			return b, 0, 0, fmt.Errorf("%w: time: %v", ErrEntry, err)
		}
		if u > 1<<40 {
			return b, 0, 0, fmt.Errorf("%w: time %d out of range", ErrEntry, u)
		}
		return rest, int64(u), 0, nil
	case c >= 0xd0 && c <= 0xd3 || c >= 0xe0:
		i, rest, err := msgp.ReadInt64Bytes(b)
		if err != nil {
			return b, 0, 0, fmt.Errorf("%w: time: %v", ErrEntry, err)
		}
		if i < 0 || i > 1<<40 {
			return b, 0, 0, fmt.Errorf("%w: time %d out of range", ErrEntry, i)
		}
		return rest, i, 0, nil
	case msgp.NextType(b) == msgp.ExtensionType:
		return b, 0, 0, fmt.Errorf("%w: time extension is not an 8-byte EventTime", ErrEntry)
	default:
		return b, 0, 0, fmt.Errorf("%w: time is %s, want integer or EventTime", ErrEntry, msgp.NextType(b))
	}
	if nsec >= 1e9 {
		return b, 0, 0, fmt.Errorf("%w: EventTime nanoseconds %d out of range", ErrEntry, nsec)
	}
	return rest, sec, nsec, nil
}

// AppendEventTime appends an EventTime (fixext8, type 0).
func AppendEventTime(dst []byte, sec, nsec int64) []byte {
	dst = append(dst, 0xd7, EventTimeExt)
	dst = binary.BigEndian.AppendUint32(dst, uint32(sec))
	return binary.BigEndian.AppendUint32(dst, uint32(nsec))
}

// AppendEntry appends [rawTime, record] to dst. rawTime and record must be
// valid msgpack (a canonical time and a map).
func AppendEntry(dst, rawTime, record []byte) []byte {
	dst = append(dst, 0x92)
	dst = append(dst, rawTime...)
	return append(dst, record...)
}

// Count walks a canonical stream and returns the number of entries and the
// smallest and largest event times in nanoseconds. It fails on the first
// malformed entry.
func Count(b []byte) (n int, minNano, maxNano int64, err error) {
	for len(b) > 0 {
		var e Entry
		e, b, err = Next(b)
		if err != nil {
			return n, minNano, maxNano, err
		}
		t := e.UnixNano()
		if n == 0 || t < minNano {
			minNano = t
		}
		if n == 0 || t > maxNano {
			maxNano = t
		}
		n++
	}
	return n, minNano, maxNano, nil
}

// MaxDepth is how deeply maps and arrays may nest in a record, the record's
// own map being level 1. Inputs refuse a record nested deeper (no ack), and
// every output encoder accepts any record within it, so nothing acked can
// fail to encode for its nesting. It is Ruby JSON's default max_nesting, the
// limit Fluentd's JSON formatter has.
const MaxDepth = 100

// MaxTagLen is the longest tag, in bytes, that inputs accept. Longer tags are
// refused at the door (no ack).
const MaxTagLen = 1024
