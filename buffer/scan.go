package buffer

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/buffer/event"
)

// keySpec is the parsed chunk keys.
type keySpec struct {
	tag     bool
	time    bool
	timekey int64 // seconds
	loc     *time.Location
	records []string // record chunk keys as written: "host", "$.a.b"

	once sync.Once
	accs []event.Accessor // of records, by accessors
}

// accessors returns the accessor of each record chunk key, parsed once.
// Config.Validate has checked them; a key that does not parse is read as
// a top-level name.
func (k *keySpec) accessors() []event.Accessor {
	k.once.Do(func() {
		for _, name := range k.records {
			a, err := event.ParseAccessor(name)
			if err != nil {
				a = event.FieldAccessor(name)
			}
			k.accs = append(k.accs, a)
		}
	})
	return k.accs
}

func (k *keySpec) routes() bool { return k.time || len(k.records) > 0 }

// metaKey is one distinct metadata of an Append: its routing key in
// scan.arena and its entries, a list linked through scan.next.
type metaKey struct {
	off, end   int
	timekey    int64
	head, tail int32
}

// scan holds the per-Append parse of an entries stream. It is pooled so that
// Append does not allocate per entry.
type scan struct {
	ends  []int   // end offset of each entry
	nanos []int64 // event time of each entry
	next  []int32 // next entry of the same metadata, -1 at the end
	last  int     // meta of the previous entry
	metas []metaKey
	arena []byte    // routing keys of metas
	tmp   []byte    // the current entry's routing key
	frame []byte    // the frame being written
	mark  []byte    // the encoded mark of an AppendMarked, else nil
	gz    frameGzip // <buffer> compress gzip
	syncs []store
	vals  [][2]int // value ranges in val, per record key
	val   []byte
	// window cache for the time key
	wFrom, wTo int64
}

// Bounds of one batch of an Append (see Append): a batch ends after
// batchEntries entries, or at the first entry that starts at or after
// batchBytes; it always holds at least one entry.
const (
	batchEntries = 64 << 10
	batchBytes   = 8 << 20
)

// A pooled scan that grew past these (a huge entry, thousands of distinct
// chunk key values) is left to the garbage collector.
const (
	maxPooledFrame = 2 * batchBytes
	maxPooledKeys  = 1 << 20
)

func (b *Buffer) getScan() *scan {
	sc := b.pool.Get().(*scan)
	sc.syncs = sc.syncs[:0]
	return sc
}

func (b *Buffer) putScan(sc *scan) {
	clear(sc.syncs)
	if cap(sc.frame) > maxPooledFrame || cap(sc.ends) > 2*batchEntries || cap(sc.metas) > 2*batchEntries ||
		cap(sc.arena) > maxPooledKeys || cap(sc.tmp) > maxPooledKeys || cap(sc.val) > maxPooledKeys ||
		cap(sc.vals) > maxPooledKeys {
		return
	}
	b.pool.Put(sc)
}

func (s *scan) reset() {
	s.ends, s.nanos, s.next = s.ends[:0], s.nanos[:0], s.next[:0]
	s.metas, s.arena = s.metas[:0], s.arena[:0]
	s.wFrom, s.wTo = 1, 0
}

func (s *scan) key(m int) []byte { return s.arena[s.metas[m].off:s.metas[m].end] }

// parse walks one batch at the front of entries (which start at byte base
// of the Append's stream) and returns its length: it records entry
// boundaries (relative to entries) and times, checks the [time, map]
// shape, and groups entries by metadata when time or record keys route
// them.
func (s *scan) parse(entries []byte, base int, tag string, k *keySpec) (int, error) {
	s.reset()
	b := entries
	for len(b) > 0 && len(s.ends) < batchEntries && len(entries)-len(b) < batchBytes {
		sec, nsec, rest, err := s.entry(b, base+len(entries)-len(b), k)
		if err != nil {
			return 0, err
		}
		b = rest
		i := len(s.ends)
		s.ends = append(s.ends, len(entries)-len(b))
		s.nanos = append(s.nanos, sec*1e9+nsec)
		s.next = append(s.next, int32(i+1))
		if k.routes() {
			s.route(i, tag, sec, k)
		}
	}
	if !k.routes() {
		s.metas = append(s.metas, metaKey{head: 0, tail: int32(len(s.ends) - 1)})
	}
	for _, m := range s.metas {
		s.next[m.tail] = -1
	}
	return len(entries) - len(b), nil
}

// check walks entries (which start at byte base of the Append's stream)
// as parse does, keeping nothing.
func (s *scan) check(entries []byte, base int, k *keySpec) error {
	for b := entries; len(b) > 0; {
		_, _, rest, err := s.entry(b, base+len(entries)-len(b), k)
		if err != nil {
			return err
		}
		b = rest
	}
	return nil
}

// entry reads the entry at the front of b (at byte off of the stream): its
// time and, with record keys, their values into s.tmp. It returns the
// bytes after it.
func (s *scan) entry(b []byte, off int, k *keySpec) (sec, nsec int64, rest []byte, err error) {
	start := len(b)
	at := func(r []byte) int { return off + start - len(r) }
	if b, err = event.ReadHead(b); err != nil {
		return 0, 0, nil, fmt.Errorf("at byte %d: %w", at(b), err)
	}
	if rest, sec, nsec, err = event.ReadTime(b); err != nil {
		return 0, 0, nil, fmt.Errorf("at byte %d: %w", at(b), err)
	}
	if !event.IsMap(rest) {
		return 0, 0, nil, fmt.Errorf("at byte %d: %w: record is not a map", at(rest), event.ErrEntry)
	}
	rec := rest
	if len(k.records) > 0 {
		s.tmp = s.tmp[:0]
		rest, err = s.recordKeys(rec, k.accessors())
	} else {
		var n int
		if n, _, err = event.Skim(rec); err == nil {
			rest = rec[n:]
		}
	}
	if err != nil {
		return 0, 0, nil, fmt.Errorf("at byte %d: %w: record: %v", at(rec), event.ErrEntry, err)
	}
	return sec, nsec, rest, nil
}

// route appends entry i to the list of its metadata, creating it.
func (s *scan) route(i int, tag string, sec int64, k *keySpec) {
	var tk int64
	if k.time {
		tk = s.window(sec, k)
	}
	m := -1
	if i > 0 && s.metas[s.last].timekey == tk && bytes.Equal(s.recordPart(s.last, k, tag), s.tmp) {
		m = s.last
	} else {
		for j := range s.metas {
			if s.metas[j].timekey == tk && bytes.Equal(s.recordPart(j, k, tag), s.tmp) {
				m = j
				break
			}
		}
	}
	if m < 0 {
		off := len(s.arena)
		if k.tag {
			s.arena = append(s.arena, tag...)
		}
		s.arena = append(s.arena, 0)
		s.arena = binary.BigEndian.AppendUint64(s.arena, uint64(tk))
		s.arena = append(s.arena, s.tmp...)
		s.metas = append(s.metas, metaKey{off: off, end: len(s.arena), timekey: tk, head: int32(i), tail: int32(i)})
		s.last = len(s.metas) - 1
		return
	}
	s.next[s.metas[m].tail] = int32(i)
	s.metas[m].tail = int32(i)
	s.last = m
}

// recordPart is the record keys' part of meta m's routing key.
func (s *scan) recordPart(m int, k *keySpec, tag string) []byte {
	key := s.key(m)
	skip := 9
	if k.tag {
		skip += len(tag)
	}
	return key[skip:]
}

// window returns the start (unix seconds) of the timekey window holding sec,
// in timekey_zone as Fluentd computes it: t - (t + utc_offset) mod timekey.
// The zone offset is looked up once per window (a DST change inside a
// window keeps the offset of the window's first entry).
func (s *scan) window(sec int64, k *keySpec) int64 {
	if sec >= s.wFrom && sec < s.wTo {
		return s.wFrom
	}
	var off int64
	if k.loc != time.UTC {
		_, o := time.Unix(sec, 0).In(k.loc).Zone()
		off = int64(o)
	}
	m := (sec + off) % k.timekey
	if m < 0 {
		m += k.timekey
	}
	s.wFrom = sec - m
	s.wTo = s.wFrom + k.timekey
	return s.wFrom
}

// recordKeys reads the wanted keys' values of the record map at the front
// of b into s.tmp (u32 length + string form each, in key order, "" when
// absent) and returns the rest after the map. Top-level keys are read in
// the one walk over the map (of a name given twice, the last counts, as
// event.Accessor reads it); nested ones are looked up after it.
func (s *scan) recordKeys(b []byte, want []event.Accessor) ([]byte, error) {
	n, rest, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return b, err
	}
	s.vals = s.vals[:0]
	for range want {
		s.vals = append(s.vals, [2]int{-1, -1})
	}
	s.val = s.val[:0]
	for ; n > 0; n-- {
		var key []byte
		if key, rest, err = msgp.ReadMapKeyZC(rest); err != nil {
			return b, err
		}
		val := rest
		if rest, err = msgp.Skip(rest); err != nil {
			return b, err
		}
		for i, w := range want {
			if name, top := w.Top(); !top || name != string(key) {
				continue
			}
			start := len(s.val)
			if s.val, _, err = event.AppendText(s.val, val); err != nil {
				return b, err
			}
			s.vals[i] = [2]int{start, len(s.val)}
		}
	}
	for i, w := range want {
		if _, top := w.Top(); top {
			continue
		}
		start := len(s.val)
		var found bool
		if s.val, found = w.AppendText(s.val, b); found {
			s.vals[i] = [2]int{start, len(s.val)}
		}
	}
	for _, v := range s.vals {
		if v[0] < 0 {
			s.tmp = binary.BigEndian.AppendUint32(s.tmp, 0)
			continue
		}
		s.tmp = binary.BigEndian.AppendUint32(s.tmp, uint32(v[1]-v[0]))
		s.tmp = append(s.tmp, s.val[v[0]:v[1]]...)
	}
	return rest, nil
}
