package parse

import (
	"bytes"

	"github.com/tinylib/msgp/msgp"
)

// hasDups reports whether two live fields have the same key. A 64-bit
// filter of the keys' lengths and ends makes it linear when there are
// none.
func (b *base) hasDups() bool {
	var seen uint64
	for i := range b.fields {
		f := &b.fields[i]
		if f.dead {
			continue
		}
		h := uint(len(f.key))
		if len(f.key) > 0 {
			h = h*7 + uint(f.key[0])*3 + uint(f.key[len(f.key)-1])
		}
		bit := uint64(1) << (h & 63)
		if seen&bit != 0 && !b.firstOf(i) {
			return true
		}
		seen |= bit
	}
	return false
}

// writeDedup writes the map of fields whose keys repeat: a repeated key
// keeps its first place and its last value, as a Ruby Hash.
func (b *base) writeDedup(dst []byte) []byte {
	fs := b.fields
	if len(fs) > 64 {
		return b.writeMany(dst)
	}
	n := 0
	for i := range fs {
		if !fs[i].dead && b.firstOf(i) {
			n++
		}
	}
	dst = msgp.AppendMapHeader(dst, uint32(n))
	for i := range fs {
		if fs[i].dead || !b.firstOf(i) {
			continue
		}
		last := i
		for j := i + 1; j < len(fs); j++ {
			if !fs[j].dead && bytes.Equal(fs[j].key, fs[i].key) {
				last = j
			}
		}
		dst = msgp.AppendStringFromBytes(dst, fs[i].key)
		dst = appendValue(dst, &fs[last])
	}
	return dst
}

// firstOf reports whether field i is the first live one with its key.
func (b *base) firstOf(i int) bool {
	key := b.fields[i].key
	for j := 0; j < i; j++ {
		if f := &b.fields[j]; !f.dead && len(f.key) == len(key) && string(f.key) == string(key) {
			return false
		}
	}
	return true
}

// writeMany is finishAt's map writing for records of many fields.
func (b *base) writeMany(dst []byte) []byte {
	if b.dups == nil {
		b.dups = map[string]int{}
	}
	clear(b.dups)
	order := b.parts[:0]
	for i := range b.fields {
		f := &b.fields[i]
		if f.dead {
			continue
		}
		if _, ok := b.dups[string(f.key)]; !ok {
			order = append(order, f.key)
		}
		b.dups[string(f.key)] = i
	}
	b.parts = order[:0]
	dst = msgp.AppendMapHeader(dst, uint32(len(order)))
	for _, key := range order {
		dst = msgp.AppendStringFromBytes(dst, key)
		dst = appendValue(dst, &b.fields[b.dups[string(key)]])
	}
	return dst
}
