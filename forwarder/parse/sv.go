package parse

import (
	"bytes"
	"time"
)

// ltsvParser is @type ltsv: "label:value" pairs split on delimiter (or
// delimiter_pattern); pairs without the label delimiter are skipped.
type ltsvParser struct{ b base }

func (p *ltsvParser) base() *base { return &p.b }

func (p *ltsvParser) parse(dst, line []byte, now time.Time) ([]byte, bool) {
	b := &p.b
	b.reset()
	var parts [][]byte
	if re := b.k.delimRe; re != nil {
		parts = b.parts[:0]
		last := 0
		for _, m := range re.FindAllIndex(line, -1) {
			if m[1] == 0 {
				continue // Ruby's split ignores an empty match at the start
			}
			parts = append(parts, line[last:m[0]])
			last = m[1]
		}
		parts = append(parts, line[last:])
	} else {
		parts = rubySplit(b.parts[:0], line, b.k.delim, 0)
	}
	ld := b.k.labelB
	for _, pair := range parts {
		i := bytes.Index(pair, ld)
		if i < 0 {
			continue
		}
		b.add(pair[:i], pair[i+len(ld):], kStr)
	}
	b.parts = parts[:0]
	return b.finish(dst, now)
}

// tsvParser is @type tsv: values split on delimiter, at most one per key
// (the last takes the rest); missing values are nil.
type tsvParser struct{ b base }

func (p *tsvParser) base() *base { return &p.b }

func (p *tsvParser) parse(dst, line []byte, now time.Time) ([]byte, bool) {
	b := &p.b
	b.reset()
	keys := b.k.keyBytes
	parts := rubySplit(b.parts[:0], line, b.k.delim, len(keys))
	for i, key := range keys {
		if i < len(parts) {
			b.add(key, parts[i], kStr)
		} else {
			b.add(key, nil, kNil)
		}
	}
	b.parts = parts[:0]
	return b.finish(dst, now)
}

// csvParser is @type csv: a line read as Ruby's CSV.parse_line does, with
// delimiter as the column separator. An empty unquoted field is nil, a
// quoted one "". A malformed line (a stray quote, an unclosed one, text
// after a closing quote) and an empty line are unmatched.
type csvParser struct{ b base }

func (p *csvParser) base() *base { return &p.b }

func (p *csvParser) parse(dst, line []byte, now time.Time) ([]byte, bool) {
	if len(line) == 0 {
		return dst, false
	}
	b := &p.b
	b.reset()
	keys := b.k.keyBytes
	sep := b.k.delimB
	i, col := 0, 0
	for {
		var val []byte
		k := kNil
		if i < len(line) && line[i] == '"' {
			// quoted: "" is a quote; it must end with a quote before a
			// separator or the end
			start := len(b.scratch)
			i++
			for {
				j := bytes.IndexByte(line[i:], '"')
				if j < 0 {
					return dst, false
				}
				b.scratch = append(b.scratch, line[i:i+j]...)
				i += j + 1
				if i < len(line) && line[i] == '"' {
					b.scratch = append(b.scratch, '"')
					i++
					continue
				}
				break
			}
			val, k = b.scratch[start:], kStr
			if i < len(line) && !bytes.HasPrefix(line[i:], sep) {
				return dst, false
			}
		} else {
			j := bytes.Index(line[i:], sep)
			if j < 0 {
				j = len(line) - i
			}
			val = line[i : i+j]
			if bytes.IndexByte(val, '"') >= 0 {
				return dst, false
			}
			if len(val) > 0 {
				k = kStr
			}
			i += j
		}
		if col < len(keys) {
			b.add(keys[col], val, k)
		}
		col++
		if i >= len(line) {
			break
		}
		i += len(sep)
	}
	for ; col < len(keys); col++ {
		b.add(keys[col], nil, kNil)
	}
	return b.finish(dst, now)
}
