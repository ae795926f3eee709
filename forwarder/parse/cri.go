package parse

import (
	"bytes"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// criParser is @type cri (fluent-plugin-parser-cri): "TIME STREAM TAG
// MESSAGE" lines of the container runtime's log files. Its record is
// {stream, logtag, message} and the time field (kept by default); with a
// nested <parse>, the message's record and (merge_cri_fields) stream and
// logtag. Lines whose tag is P (partial) are joined, per stream, with the
// next lines up to the one whose tag is F; the record has the first line's
// time and the last line's tag.
type criParser struct {
	b   base
	sub lineParser
	ps  partials
	// line is the reconstructed line of a joined record that is unmatched.
	line []byte
	key  struct{ stream, logtag, message, time []byte }
	// direct: the record is written without the generic field pipeline
	// (no types, no null values, a time_key other than the fixed keys);
	// keys are then the msgpack keys.
	direct bool
	keys   [4][]byte
}

func newCRI(b base, opts Options) *criParser {
	p := &criParser{b: b}
	if b.k.sub != nil {
		p.sub = newLineParser(newBase(b.k.sub, opts))
	}
	p.key.stream, p.key.logtag, p.key.message = []byte("stream"), []byte("logtag"), []byte("message")
	p.key.time = []byte(b.k.s.timeKey)
	c := b.k.cfg
	switch b.k.s.timeKey {
	case "stream", "logtag", "message":
	default:
		p.direct = len(b.k.types.convs) == 0 && b.k.null == nil && !c.NullEmptyString
	}
	for i, k := range [][]byte{p.key.stream, p.key.logtag, p.key.message, p.key.time} {
		p.keys[i] = msgp.AppendStringFromBytes(nil, k)
	}
	return p
}

var tagP = []byte("P")

// splitCRI splits a line into its four parts.
func splitCRI(line []byte) (ts, stream, tag, msg []byte, ok bool) {
	var parts [3][]byte
	rest := line
	for i := range parts {
		j := bytes.IndexByte(rest, ' ')
		if j < 0 {
			return nil, nil, nil, nil, false
		}
		parts[i], rest = rest[:j], rest[j+1:]
	}
	return parts[0], parts[1], parts[2], rest, true
}

func (p *criParser) Line(dst, line []byte, now time.Time) []byte {
	p.ps.seq++
	ts, stream, tag, msg, ok := splitCRI(line)
	if !ok {
		return p.b.appendUnmatched(dst, line, now)
	}
	partial := len(tag) > 0 && tag[0] == 'P' && (len(tag) == 1 || tag[1] == ':')
	o := p.ps.find(stream)
	if o != nil && len(o.msg)+len(msg) > MaxHeldBytes {
		dst, o = p.close(dst, o, tagP, now), nil
	}
	if !partial {
		if o == nil {
			return p.record(dst, ts, stream, tag, msg, line, now)
		}
		o.msg = append(o.msg, msg...)
		dst = p.record(dst, o.head, o.stream, tag, o.msg, nil, now)
		o.done()
		return dst
	}
	if o != nil {
		o.msg = append(o.msg, msg...)
		return dst
	}
	if o = p.ps.free(); o == nil {
		o = p.ps.oldest()
		dst = p.close(dst, o, tagP, now)
	}
	p.ps.start(o, stream, ts, msg)
	return dst
}

// close appends the open record o as it is and closes it.
func (p *criParser) close(dst []byte, o *partial, tag []byte, now time.Time) []byte {
	dst = p.record(dst, o.head, o.stream, tag, o.msg, nil, now)
	o.done()
	return dst
}

// record appends the record of a line, or of joined lines (line nil).
func (p *criParser) record(dst, ts, stream, tag, msg, line []byte, now time.Time) []byte {
	if line == nil {
		p.line = append(append(append(append(append(append(p.line[:0], ts...), ' '), stream...), ' '), tag...), ' ')
		p.line = append(p.line, msg...)
		line = p.line
	}
	if p.sub != nil {
		// the message's record, at its own time or else the line's
		sb := p.sub.base()
		at := now
		if sec, nsec, ok := p.b.k.time.parse(timeValue{b: ts}, p.b.loc, now); ok {
			at = time.Unix(sec, nsec)
		}
		sb.extra = sb.extra[:0]
		if p.b.k.cfg.MergeCRIFields {
			sb.extra = append(sb.extra, field{key: p.key.stream, val: stream}, field{key: p.key.logtag, val: tag})
		}
		out, ok := p.sub.parse(dst, msg, at)
		sb.extra = sb.extra[:0]
		if ok {
			return out
		}
		return p.b.appendUnmatched(dst, line, now)
	}
	b := &p.b
	if p.direct {
		sec, nsec, ok := b.k.time.parse(timeValue{b: ts}, b.loc, now)
		if !ok {
			return b.appendUnmatched(dst, line, now)
		}
		b.stats.Records++
		dst = appendHead(dst, sec, nsec)
		if b.k.s.keepTime {
			dst = append(dst, 0x84)
		} else {
			dst = append(dst, 0x83)
		}
		dst = msgp.AppendStringFromBytes(append(dst, p.keys[0]...), stream)
		dst = msgp.AppendStringFromBytes(append(dst, p.keys[1]...), tag)
		dst = msgp.AppendStringFromBytes(append(dst, p.keys[2]...), msg)
		if b.k.s.keepTime {
			dst = msgp.AppendStringFromBytes(append(dst, p.keys[3]...), ts)
		}
		return dst
	}
	b.reset()
	b.add(p.key.stream, stream, kStr)
	b.add(p.key.logtag, tag, kStr)
	b.add(p.key.message, msg, kStr)
	b.add(p.key.time, ts, kStr)
	if out, ok := b.finish(dst, now); ok {
		return out
	}
	return b.appendUnmatched(dst, line, now)
}

func (p *criParser) Flush(dst []byte, now time.Time) []byte {
	for o := p.ps.oldest(); o != nil; o = p.ps.oldest() {
		dst = p.close(dst, o, tagP, now)
	}
	return dst
}

func (p *criParser) Held() int { return p.ps.held() }

func (p *criParser) Stats() Stats {
	s := p.b.stats
	if p.sub != nil {
		ss := p.sub.base().stats
		s.Records += ss.Records
		s.Unmatched += ss.Unmatched
	}
	return s
}
