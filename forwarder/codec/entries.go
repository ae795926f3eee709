package codec

import (
	"fmt"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/buffer/event"
)

// walk validates the entries in src (count of them, or until src ends when
// count is -1) and returns the canonical stream. When every entry is
// already canonical it returns src itself; otherwise it copies into d.out,
// re-encoding only the entries that need it, or, when inPlace, compacts
// src itself (only without zeroIsNow, where re-encoding never grows an
// entry). zeroIsNow replaces time 0 and nil by the current time (Fluentd
// does so in Message and Forward modes). The canonical stream may not
// exceed d.Limit.
func (d *Decoder) walk(src []byte, count int, zeroIsNow, inPlace bool) (out []byte, records, invalid, deep int, err error) {
	copied := false
	pos := 0
	for i := 0; count < 0 && pos < len(src) || i < count; i++ {
		e, end, norm, useNow, err := parseEntry(src[pos:], zeroIsNow)
		if err == event.ErrTooDeep {
			deep++
		}
		if err != nil && end < 0 {
			// cannot find the end of the entry: the rest is lost
			if !d.SkipInvalid {
				return nil, 0, 0, deep, fmt.Errorf("entry %d: %w", i, err)
			}
			if !copied {
				if out, err = d.startCopy(src, pos, inPlace, 0); err != nil {
					return nil, 0, 0, deep, err
				}
			}
			return out, records, invalid + 1, deep, nil
		}
		switch {
		case err != nil:
			if !d.SkipInvalid {
				return nil, 0, 0, deep, fmt.Errorf("entry %d: %w", i, err)
			}
			if !copied {
				if out, err = d.startCopy(src, pos, inPlace, 0); err != nil {
					return nil, 0, 0, deep, err
				}
				copied = true
			}
			invalid++
		case norm:
			if !copied {
				// the rest may grow: a time of 0 or nil becomes an EventTime
				grow := 0
				if zeroIsNow && count > i {
					grow = 9 * (count - i)
				}
				if out, err = d.startCopy(src, pos, inPlace, grow); err != nil {
					return nil, 0, 0, deep, err
				}
				copied = true
			}
			if e.RawTime == nil {
				d.retime(&e, useNow)
			}
			if out, err = d.room(out, 1+len(e.RawTime)+len(e.Record), inPlace); err != nil {
				return nil, 0, 0, deep, err
			}
			out = event.AppendEntry(out, e.RawTime, e.Record) // in place: memmove backwards
			records++
		default:
			if copied {
				if out, err = d.room(out, end, inPlace); err != nil {
					return nil, 0, 0, deep, err
				}
				out = append(out, src[pos:pos+end]...)
			}
			records++
		}
		pos += end
	}
	if copied {
		if !inPlace {
			d.out = out
		}
		return out, records, invalid, deep, nil
	}
	return src[:pos], records, invalid, deep, nil
}

// retime sets e.RawTime to an EventTime (in d.tbuf, until the next
// retime): of e.Sec and e.Nsec, or of the current time when useNow.
func (d *Decoder) retime(e *event.Entry, useNow bool) {
	if useNow {
		now := time.Now
		if d.Now != nil {
			now = d.Now
		}
		t := now()
		e.Sec, e.Nsec = t.Unix(), int64(t.Nanosecond())
	}
	e.RawTime = event.AppendEventTime(d.tbuf[:0], e.Sec, e.Nsec)
}

// startCopy begins the output of walk with the pos canonical bytes of src
// already walked: src itself when inPlace, else a copy in d.out big enough
// for all of src and grow bytes more (within d.Limit), so that it need not
// grow.
func (d *Decoder) startCopy(src []byte, pos int, inPlace bool, grow int) ([]byte, error) {
	if inPlace {
		return src[:pos], nil
	}
	out, err := pool{d.Alloc}.buffer(&d.out, min(len(src)+grow, d.limit()))
	if err != nil {
		return nil, err
	}
	return append(out, src[:pos]...), nil
}

// room returns out with room for n more bytes, within d.Limit.
func (d *Decoder) room(out []byte, n int, inPlace bool) ([]byte, error) {
	if inPlace || cap(out)-len(out) >= n {
		return out, nil
	}
	limit := d.limit()
	if len(out)+n > limit {
		return nil, fmt.Errorf("%w: canonical entries over %d bytes", ErrTooLarge, limit)
	}
	return pool{d.Alloc}.grow(&d.out, out, n, limit)
}

// parseEntry reads one entry. end is its length, or -1 when not even that
// can be found. norm reports that the entry must be re-encoded with a time
// built from e.Sec and e.Nsec, or from the current time when useNow. A
// record nested deeper than event.MaxDepth is event.ErrTooDeep, with its end.
func parseEntry(b []byte, zeroIsNow bool) (e event.Entry, end int, norm, useNow bool, err error) {
	end, containers, serr := event.Skim(b)
	if serr != nil {
		return e, -1, false, false, serr
	}
	b = b[:end]
	// the entry's array is level 1 and its record level 2: only an entry
	// with more containers than event.MaxDepth can nest its record too deeply
	deep := containers > event.MaxDepth
	var rest []byte
	if len(b) > 0 && b[0] == 0x92 {
		rest = b[1:]
	} else {
		n, r, err := msgp.ReadArrayHeaderBytes(b)
		if err != nil || n != 2 {
			return e, end, false, false, fmt.Errorf("%w: not [time, record]", event.ErrEntry)
		}
		rest = r
	}
	e, norm, useNow, err = parseFields(rest, zeroIsNow)
	if err == nil && deep {
		_, err = event.CheckRecord(e.Record)
	}
	return e, end, norm, useNow, err
}

// parseFields reads the time and the record of an entry from rest, which
// holds exactly them (the entry without its array header).
func parseFields(rest []byte, zeroIsNow bool) (e event.Entry, norm, useNow bool, err error) {
	tail := rest
	switch rest[0] {
	case 0xc0: // nil time
		if !zeroIsNow {
			return e, false, false, errNilTime
		}
		tail, norm, useNow = rest[1:], true, true
	case 0x92: // Forward Protocol v1.5: [EventTime, metadata]
		t, sec, nsec, err := event.ReadTime(rest[1:])
		if err != nil {
			return e, false, false, err
		}
		if msgp.NextType(t) != msgp.MapType {
			return e, false, false, fmt.Errorf("%w: time metadata is %s, want map", event.ErrEntry, msgp.NextType(t))
		}
		mlen, _ := event.Skip(t)
		tail, norm = t[mlen:], true
		e.Sec, e.Nsec = sec, nsec
	default:
		t, sec, nsec, err := event.ReadTime(rest)
		if err != nil {
			return e, false, false, err
		}
		e.RawTime = rest[:len(rest)-len(t)]
		e.Sec, e.Nsec = sec, nsec
		tail = t
	}
	if zeroIsNow && e.RawTime != nil && e.Sec == 0 && e.Nsec == 0 {
		e.RawTime, norm, useNow = nil, true, true
	}
	if !event.IsMap(tail) {
		return e, false, false, fmt.Errorf("%w: record is %s, want map", event.ErrEntry, msgp.NextType(tail))
	}
	e.Record = tail
	return e, norm, useNow, nil
}

var errNilTime = fmt.Errorf("%w: time is nil", event.ErrEntry)
