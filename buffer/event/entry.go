package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// EventTimeExt is the msgpack extension type of Fluentd's EventTime.
const EventTimeExt = 0

// ErrEntry is wrapped by every error about an entry's shape.
var ErrEntry = errors.New("codec: malformed entry")

// ErrTooDeep is wrapped, with ErrEntry, by the error of a record nested
// deeper than MaxDepth.
var ErrTooDeep = errors.New("codec: record nested too deeply")

// errTooDeep is the error of every record nested too deeply (one value, so
// that refusing many costs no allocation).
var errTooDeep = fmt.Errorf("%w: %w: deeper than %d levels", ErrEntry, ErrTooDeep, MaxDepth)

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
// deep nesting costs no stack.
func Next(b []byte) (Entry, []byte, error) {
	var e Entry
	n, rest, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil {
		return e, b, fmt.Errorf("%w: %v", ErrEntry, err)
	}
	if n != 2 {
		return e, b, fmt.Errorf("%w: array of %d elements, want [time, record]", ErrEntry, n)
	}
	tail, sec, nsec, err := ReadTime(rest)
	if err != nil {
		return e, b, err
	}
	e.RawTime = rest[:len(rest)-len(tail)]
	e.Sec, e.Nsec = sec, nsec
	if msgp.NextType(tail) != msgp.MapType {
		return e, b, fmt.Errorf("%w: record is %s, want map", ErrEntry, msgp.NextType(tail))
	}
	rl, err := Skip(tail)
	if err != nil {
		return e, b, fmt.Errorf("%w: record: %v", ErrEntry, err)
	}
	e.Record = tail[:rl]
	return e, tail[rl:], nil
}

// ReadTime reads a canonical time (a non-negative integer or an EventTime)
// from the front of b and returns the rest.
func ReadTime(b []byte) (rest []byte, sec, nsec int64, err error) {
	switch msgp.NextType(b) {
	case msgp.UintType:
		u, rest, err := msgp.ReadUint64Bytes(b)
		if err != nil {
			return b, 0, 0, fmt.Errorf("%w: time: %v", ErrEntry, err)
		}
		if u > 1<<40 {
			return b, 0, 0, fmt.Errorf("%w: time %d out of range", ErrEntry, u)
		}
		return rest, int64(u), 0, nil
	case msgp.IntType:
		i, rest, err := msgp.ReadInt64Bytes(b)
		if err != nil {
			return b, 0, 0, fmt.Errorf("%w: time: %v", ErrEntry, err)
		}
		if i < 0 || i > 1<<40 {
			return b, 0, 0, fmt.Errorf("%w: time %d out of range", ErrEntry, i)
		}
		return rest, i, 0, nil
	case msgp.ExtensionType:
		// fixext8 (0xd7) or ext8 (0xc7) with length 8.
		var data []byte
		switch {
		case len(b) >= 10 && b[0] == 0xd7:
			if int8(b[1]) != EventTimeExt {
				return b, 0, 0, fmt.Errorf("%w: time is ext type %d, want EventTime (0)", ErrEntry, int8(b[1]))
			}
			data, rest = b[2:10], b[10:]
		case len(b) >= 11 && b[0] == 0xc7 && b[1] == 8:
			if int8(b[2]) != EventTimeExt {
				return b, 0, 0, fmt.Errorf("%w: time is ext type %d, want EventTime (0)", ErrEntry, int8(b[2]))
			}
			data, rest = b[3:11], b[11:]
		default:
			return b, 0, 0, fmt.Errorf("%w: time extension is not an 8-byte EventTime", ErrEntry)
		}
		sec = int64(binary.BigEndian.Uint32(data[0:4]))
		nsec = int64(binary.BigEndian.Uint32(data[4:8]))
		if nsec >= 1e9 {
			return b, 0, 0, fmt.Errorf("%w: EventTime nanoseconds %d out of range", ErrEntry, nsec)
		}
		return rest, sec, nsec, nil
	default:
		return b, 0, 0, fmt.Errorf("%w: time is %s, want integer or EventTime", ErrEntry, msgp.NextType(b))
	}
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
