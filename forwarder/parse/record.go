package parse

import (
	"math"
	"time"
	"unsafe"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

// kind is how a field's value is held.
type kind uint8

const (
	kStr kind = iota // val is the bytes of a string
	kNil             // nil
	kRaw             // val is a msgpack value
	kNum             // val is the text of a JSON number, checked
)

// field is one key and value of a record being built. Its slices alias the
// line or the parser's scratch buffer, valid until the next line.
type field struct {
	key  []byte
	val  []byte
	kind kind
	dead bool // removed (the time field)
}

// base is what every parser shares: the compiled config, the fields of the
// record being built, scratch space and the counters.
type base struct {
	k       *compiled
	loc     *time.Location
	unkey   []byte // UnmatchedKey
	stats   Stats
	fields  []field
	scratch []byte
	parts   [][]byte
	dups    map[string]int
	// extra are fields set after the conversions (cri's stream and logtag
	// on the record of its nested parser).
	extra []field
}

func newBase(k *compiled, opts Options) base {
	key := opts.UnmatchedKey
	if key == "" {
		key = "message"
	}
	return base{k: k, loc: k.location(opts.Location), unkey: []byte(key)}
}

// Stats are a parser's counters.
type Stats struct {
	// Records is how many entries the parser appended, unmatched ones
	// included.
	Records uint64
	// Unmatched is how many of them hold a line that did not parse.
	Unmatched uint64
}

// reset starts a new record.
func (b *base) reset() {
	b.fields = b.fields[:0]
	b.scratch = b.scratch[:0]
}

func (b *base) add(key, val []byte, k kind) {
	b.fields = append(b.fields, field{key: key, val: val, kind: k})
}

// appendHead appends the head of an entry: the header of its [time,
// record] array and the time, an EventTime. The record follows.
func appendHead(dst []byte, sec, nsec int64) []byte {
	return event.AppendEventTime(append(dst, 0x92), sec, nsec)
}

// nowTime returns now as an EventTime's seconds and nanoseconds.
func nowTime(now time.Time) (int64, int64) {
	sec := now.Unix()
	switch {
	case sec < 0:
		return 0, 0
	case sec > math.MaxUint32:
		return math.MaxUint32, 0
	}
	return sec, int64(now.Nanosecond())
}

// appendUnmatched appends {UnmatchedKey: line} at now.
func (b *base) appendUnmatched(dst, line []byte, now time.Time) []byte {
	b.stats.Records++
	b.stats.Unmatched++
	sec, nsec := nowTime(now)
	dst = appendHead(dst, sec, nsec)
	dst = append(dst, 0x81)
	dst = msgp.AppendStringFromBytes(dst, b.unkey)
	return msgp.AppendStringFromBytes(dst, line)
}

// finish takes the time from the time key (or now), converts the values
// and appends the entry. ok is false when the line is unmatched: its time
// does not parse, or it has none and estimate_current_event is false.
func (b *base) finish(dst []byte, now time.Time) ([]byte, bool) {
	sec, nsec := nowTime(now)
	if key := b.k.s.timeKey; key != "" {
		i := len(b.fields) - 1
		for ; i >= 0; i-- {
			if string(b.fields[i].key) == key {
				break
			}
		}
		switch {
		case i >= 0:
			var ok bool
			if sec, nsec, ok = b.k.time.parse(b.timeValue(&b.fields[i]), b.loc, now); !ok {
				return dst, false
			}
			if !b.k.s.keepTime {
				for j := range b.fields {
					if string(b.fields[j].key) == key {
						b.fields[j].dead = true
					}
				}
			}
		case !b.k.cfg.EstimateCurrentEvent:
			return dst, false
		}
	}
	return b.finishAt(dst, sec, nsec, now), true
}

// timeValue returns the value of f as a time parser reads it.
func (b *base) timeValue(f *field) timeValue {
	switch f.kind {
	case kStr:
		return timeValue{b: f.val}
	case kNil:
		return timeValue{invalid: true}
	case kNum:
		return timeValue{b: f.val, number: true}
	}
	v, _ := rawTimeValue(nil, f.val)
	return v
}

// finishAt converts the values and appends the entry at the given time.
func (b *base) finishAt(dst []byte, sec, nsec int64, now time.Time) []byte {
	k := b.k
	if k.null != nil || k.cfg.NullEmptyString || len(k.types.convs) > 0 {
		b.convert(now)
	}
	if len(b.extra) > 0 {
		b.fields = append(b.fields, b.extra...)
	}
	b.stats.Records++
	dst = appendHead(dst, sec, nsec)
	fs := b.fields
	if b.hasDups() {
		return b.writeDedup(dst)
	}
	n := 0
	for i := range fs {
		if !fs[i].dead {
			n++
		}
	}
	dst = msgp.AppendMapHeader(dst, uint32(n))
	for i := range fs {
		if !fs[i].dead {
			dst = msgp.AppendStringFromBytes(dst, fs[i].key)
			dst = appendValue(dst, &fs[i])
		}
	}
	return dst
}

func appendValue(dst []byte, f *field) []byte {
	switch f.kind {
	case kStr:
		return msgp.AppendStringFromBytes(dst, f.val)
	case kNil:
		return append(dst, 0xc0)
	case kNum:
		return appendNumberText(dst, f.val)
	}
	return append(dst, f.val...)
}

// strValue returns the bytes of a string value (kStr, or a msgpack str).
func strValue(f *field) ([]byte, bool) {
	switch f.kind {
	case kStr:
		return f.val, true
	case kRaw:
		if msgp.NextType(f.val) == msgp.StrType {
			s, _, err := msgp.ReadStringZC(f.val)
			return s, err == nil
		}
	}
	return nil, false
}

// convert applies null_empty_string, null_value_pattern and types to the
// live fields, as Fluentd's convert_values: nil values are left as they
// are, strings that look null become nil, then types convert.
func (b *base) convert(now time.Time) {
	k := b.k
	for i := range b.fields {
		f := &b.fields[i]
		if f.dead || f.kind == kNil || f.kind == kRaw && len(f.val) > 0 && f.val[0] == 0xc0 {
			continue
		}
		if s, ok := strValue(f); ok && (k.cfg.NullEmptyString && len(s) == 0 || k.null != nil && k.null.Match(s)) {
			f.kind, f.val = kNil, nil
			continue
		}
		for t := range k.types.convs {
			if c := &k.types.convs[t]; string(f.key) == c.key {
				if f.kind == kNum {
					start := len(b.scratch)
					b.scratch = appendNumberText(b.scratch, f.val)
					f.kind, f.val = kRaw, b.scratch[start:]
				}
				b.convertField(f, c, now)
				break
			}
		}
	}
}

// unsafeString views b as a string, for lookups that do not keep it.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
