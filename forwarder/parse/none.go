package parse

import (
	"time"

	"github.com/tinylib/msgp/msgp"
)

// noneParser is @type none: {message_key: line} at now.
type noneParser struct {
	b      base
	prefix []byte // the map header and the key
}

func newNone(b base) *noneParser {
	p := &noneParser{b: b}
	p.prefix = msgp.AppendStringFromBytes([]byte{0x81}, []byte(b.k.cfg.MessageKey))
	return p
}

func (p *noneParser) base() *base { return &p.b }

func (p *noneParser) parse(dst, line []byte, now time.Time) ([]byte, bool) {
	if !p.b.k.cfg.EstimateCurrentEvent {
		return dst, false // no time: Fluentd's in_tail takes it as unmatched
	}
	p.b.stats.Records++
	sec, nsec := nowTime(now)
	dst = appendHead(dst, sec, nsec)
	dst = append(dst, p.prefix...)
	return msgp.AppendStringFromBytes(dst, line), true
}
