package parse

import (
	"time"
)

// dockerParser reads the json-file log driver's lines,
// {"log":"...","stream":"stdout","time":"..."}: a JSON record whose time
// is at time_key. Docker splits a long line into entries of 16 KiB whose
// log does not end with "\n"; they are joined, per stream, up to the entry
// that does. The record is the first entry's, with the joined log.
type dockerParser struct {
	b  base
	ps partials
}

func newDocker(b base) *dockerParser { return &dockerParser{b: b} }

var dockerKey = struct{ log, stream []byte }{[]byte("log"), []byte("stream")}

// findString returns the index of the last field named key whose value is a
// string, and the string; -1 when there is none.
func (b *base) findString(key []byte) (int, []byte) {
	for i := len(b.fields) - 1; i >= 0; i-- {
		if string(b.fields[i].key) == string(key) {
			s, ok := strValue(&b.fields[i])
			if !ok {
				return -1, nil
			}
			return i, s
		}
	}
	return -1, nil
}

func (p *dockerParser) Line(dst, line []byte, now time.Time) []byte {
	p.ps.seq++
	b := &p.b
	b.reset()
	i := skipWS(line, 0)
	if i == len(line) || line[i] != '{' {
		return b.appendUnmatched(dst, line, now)
	}
	end, err := b.jsonFields(line, i)
	if err != nil || skipWS(line, end) != len(line) {
		return b.appendUnmatched(dst, line, now)
	}
	li, log := b.findString(dockerKey.log)
	if li < 0 {
		return p.finish(dst, line, now)
	}
	_, stream := b.findString(dockerKey.stream)
	partial := len(log) == 0 || log[len(log)-1] != '\n'
	o := p.ps.find(stream)
	if o != nil && len(o.msg)+len(log) > MaxHeldBytes {
		dst, o = p.close(dst, o, now), nil
		log, stream = p.refill(line, i)
	}
	if !partial {
		if o == nil {
			return p.finish(dst, line, now)
		}
		o.msg = append(o.msg, log...)
		return p.close(dst, o, now)
	}
	if o != nil {
		o.msg = append(o.msg, log...)
		return dst
	}
	if o = p.ps.free(); o == nil {
		o = p.ps.oldest()
		dst = p.close(dst, o, now)
		log, stream = p.refill(line, i)
	}
	p.ps.start(o, stream, line, log)
	return dst
}

// refill parses line again after close used the fields, and returns its
// log and stream.
func (p *dockerParser) refill(line []byte, i int) (log, stream []byte) {
	p.b.reset()
	p.b.jsonFields(line, i) // it parsed before
	_, log = p.b.findString(dockerKey.log)
	_, stream = p.b.findString(dockerKey.stream)
	return log, stream
}

// finish appends the record in b's fields, or unmatched.
func (p *dockerParser) finish(dst, line []byte, now time.Time) []byte {
	if out, ok := p.b.finish(dst, now); ok {
		return out
	}
	return p.b.appendUnmatched(dst, line, now)
}

// close appends the open record o, its first entry with the joined log,
// and closes it.
func (p *dockerParser) close(dst []byte, o *partial, now time.Time) []byte {
	b := &p.b
	b.reset()
	b.jsonFields(o.head, skipWS(o.head, 0)) // checked when it was held
	if li, _ := b.findString(dockerKey.log); li >= 0 {
		b.fields[li].kind, b.fields[li].val = kStr, o.msg
	}
	if out, ok := b.finish(dst, now); ok {
		dst = out
	} else {
		dst = b.appendUnmatched(dst, o.msg, now)
	}
	o.done()
	return dst
}

func (p *dockerParser) Flush(dst []byte, now time.Time) []byte {
	for o := p.ps.oldest(); o != nil; o = p.ps.oldest() {
		dst = p.close(dst, o, now)
	}
	return dst
}

func (p *dockerParser) Held() int    { return p.ps.held() }
func (p *dockerParser) Stats() Stats { return p.b.stats }
