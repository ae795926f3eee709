package codec

import (
	"fmt"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// walk validates the entries in src (count of them, or until src ends when
// count is -1) and returns the canonical stream. When every entry is
// already canonical it returns src itself; otherwise it copies into d.out,
// re-encoding only the entries that need it. zeroIsNow replaces time 0 and
// nil by the current time (Fluentd does so in Message and Forward modes).
func (d *Decoder) walk(src []byte, count int, zeroIsNow bool) (out []byte, records, invalid int, err error) {
	copied := false
	pos := 0
	var tbuf [10]byte
	for i := 0; count < 0 && pos < len(src) || i < count; i++ {
		e, end, norm, useNow, err := parseEntry(src[pos:], zeroIsNow)
		if err != nil && end < 0 {
			// cannot find the end of the entry: the rest is lost
			if !d.SkipInvalid {
				return nil, 0, 0, fmt.Errorf("entry %d: %w", i, err)
			}
			if !copied {
				d.out = append(d.out[:0], src[:pos]...)
			}
			return d.out, records, invalid + 1, nil
		}
		switch {
		case err != nil:
			if !d.SkipInvalid {
				return nil, 0, 0, fmt.Errorf("entry %d: %w", i, err)
			}
			if !copied {
				d.out = append(d.out[:0], src[:pos]...)
				copied = true
			}
			invalid++
		case norm:
			if !copied {
				d.out = append(d.out[:0], src[:pos]...)
				copied = true
			}
			if e.RawTime == nil {
				if useNow {
					now := time.Now
					if d.Now != nil {
						now = d.Now
					}
					t := now()
					e.Sec, e.Nsec = t.Unix(), int64(t.Nanosecond())
				}
				e.RawTime = AppendEventTime(tbuf[:0], e.Sec, e.Nsec)
			}
			d.out = AppendEntry(d.out, e.RawTime, e.Record)
			records++
		default:
			if copied {
				d.out = append(d.out, src[pos:pos+end]...)
			}
			records++
		}
		pos += end
	}
	if copied {
		return d.out, records, invalid, nil
	}
	return src[:pos], records, invalid, nil
}

// parseEntry reads one entry. end is its length, or -1 when not even that
// can be found. norm reports that the entry must be re-encoded with a time
// built from e.Sec and e.Nsec, or from the current time when useNow.
func parseEntry(b []byte, zeroIsNow bool) (e Entry, end int, norm, useNow bool, err error) {
	end, serr := Skip(b)
	if serr != nil {
		return e, -1, false, false, fmt.Errorf("%w: %v", ErrEntry, serr)
	}
	b = b[:end]
	var rest []byte
	if len(b) > 0 && b[0] == 0x92 {
		rest = b[1:]
	} else {
		n, r, err := msgp.ReadArrayHeaderBytes(b)
		if err != nil || n != 2 {
			return e, end, false, false, fmt.Errorf("%w: not [time, record]", ErrEntry)
		}
		rest = r
	}
	var tail []byte
	switch rest[0] {
	case 0xc0: // nil time
		if !zeroIsNow {
			return e, end, false, false, fmt.Errorf("%w: time is nil", ErrEntry)
		}
		tail, norm, useNow = rest[1:], true, true
	case 0x92: // Forward Protocol v1.5: [EventTime, metadata]
		t, sec, nsec, err := ReadTime(rest[1:])
		if err != nil {
			return e, end, false, false, err
		}
		if msgp.NextType(t) != msgp.MapType {
			return e, end, false, false, fmt.Errorf("%w: time metadata is %s, want map", ErrEntry, msgp.NextType(t))
		}
		mlen, _ := Skip(t)
		tail, norm = t[mlen:], true
		e.Sec, e.Nsec = sec, nsec
	default:
		t, sec, nsec, err := ReadTime(rest)
		if err != nil {
			return e, end, false, false, err
		}
		e.RawTime = rest[:len(rest)-len(t)]
		e.Sec, e.Nsec = sec, nsec
		tail = t
		if zeroIsNow && sec == 0 && nsec == 0 {
			e.RawTime, norm, useNow = nil, true, true
		}
	}
	if len(tail) == 0 || tail[0]&0xf0 != 0x80 && tail[0] != 0xde && tail[0] != 0xdf {
		return e, end, false, false, fmt.Errorf("%w: record is %s, want map", ErrEntry, msgp.NextType(tail))
	}
	e.Record = tail
	return e, end, norm, useNow, nil
}
