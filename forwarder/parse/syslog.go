package parse

import (
	"bytes"
	"fmt"
	"regexp"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// Fluentd's syslog patterns. RE2 has no look-behind: the structured data
// of rfc5424, `\[.*?(?<!\\)\]` in Fluentd, is written as brackets around
// text in which every "]" follows a backslash, which matches the same
// lines.
const (
	syslogRFC3164    = `(?m)^(?P<time>[^ ]*\s*[^ ]* [^ ]*) (?P<host>[^ ]*) (?P<ident>[^ :\[]*)(?:\[(?P<pid>[0-9]+)\])?(?:[^\:]*\:)? *(?P<message>.*)$`
	syslogRFC3164Pri = `(?m)^\<(?P<pri>[0-9]+)\>(?P<time>[^ ]* {1,2}[^ ]* [^ ]*) (?P<host>[^ ]*) (?P<ident>[^ :\[]*)(?:\[(?P<pid>[0-9]+)\])?(?:[^\:]*\:)? *(?P<message>.*)$`
	syslogRFC5424    = `(?P<time>[^ ]+) (?P<host>[!-~]{1,255}) (?P<ident>[!-~]{1,48}) (?P<pid>[!-~]{1,128}) (?P<msgid>[!-~]{1,32}) (?P<extradata>(?:\-|(?:\[(?:[^\\\]]|\\+[^\\])*?\])+))(?: (?P<message>.+))?`
)

var (
	syslogDetect5424 = regexp.MustCompile(`^<[0-9]{1,3}>[1-9]\d{0,2}`)
	syslogPatterns   = map[string]*regexp.Regexp{
		"rfc3164":     regexp.MustCompile(syslogRFC3164),
		"rfc3164 pri": regexp.MustCompile(syslogRFC3164Pri),
		"rfc5424":     regexp.MustCompile(`(?s)\A` + syslogRFC5424 + `\z`),
		"rfc5424 pri": regexp.MustCompile(`(?s)\A<(?P<pri>[0-9]{1,3})\>[1-9]\d{0,2} ` + syslogRFC5424 + `\z`),
	}
)

// syslogRegexps are a syslog parser's compiled patterns and time parsers.
type syslogRegexps struct {
	rfc3164, rfc5424     *regexp.Regexp
	names3164, names5424 []namedGroup
	time3164, time5424   *TimeParser
	time5424NoFrac       *TimeParser
}

func (k *compiled) compileSyslog() error {
	c := k.cfg
	s := &syslogRegexps{}
	pri := ""
	if c.WithPriority {
		pri = " pri"
	}
	s.rfc3164, s.rfc5424 = syslogPatterns["rfc3164"+pri], syslogPatterns["rfc5424"+pri]
	s.names3164, s.names5424 = groups(s.rfc3164), groups(s.rfc5424)
	format5424 := c.RFC5424TimeFormat
	if c.MessageFormat == "rfc5424" && c.TimeFormat != "" {
		format5424 = c.TimeFormat
	}
	var err error
	if s.time3164, err = newTimeParser(k.s.timeType, k.s.timeFormat, c.TimeFormatFallbacks); err != nil {
		return fmt.Errorf("'time_format' %w", err)
	}
	if s.time5424, err = newTimeParser(k.s.timeType, format5424, c.TimeFormatFallbacks); err != nil {
		return fmt.Errorf("'rfc5424_time_format' %w", err)
	}
	s.time5424NoFrac, _ = newTimeParser("string", "%Y-%m-%dT%H:%M:%S%z", nil)
	k.syslog = s
	return nil
}

// syslogParser is @type syslog: Fluentd's rfc3164 and rfc5424 patterns,
// pri as an integer, the time parsed (and kept with keep_time_key).
type syslogParser struct{ b base }

func (p *syslogParser) base() *base { return &p.b }

var syslogKey = struct{ pri, time, message []byte }{[]byte("pri"), []byte("time"), []byte("message")}

func (p *syslogParser) parse(dst, line []byte, now time.Time) ([]byte, bool) {
	s := p.b.k.syslog
	rfc5424 := false
	switch p.b.k.cfg.MessageFormat {
	case "rfc5424":
		rfc5424 = true
	case "auto":
		rfc5424 = syslogDetect5424.Match(line)
	}
	re, names, tp := s.rfc3164, s.names3164, s.time3164
	if rfc5424 {
		re, names, tp = s.rfc5424, s.names5424, s.time5424
	}
	m := re.FindSubmatchIndex(line)
	if m == nil {
		return dst, false
	}
	b := &p.b
	b.reset()
	sec, nsec := nowTime(now)
	hasTime := false
	for _, g := range names {
		if m[2*g.index] < 0 {
			continue
		}
		v := line[m[2*g.index]:m[2*g.index+1]]
		switch string(g.name) {
		case "pri":
			n, _, _ := rubyToI(v)
			start := len(b.scratch)
			b.scratch = msgp.AppendInt64(b.scratch, n)
			b.add(syslogKey.pri, b.scratch[start:], kRaw)
		case "time":
			start := len(b.scratch)
			b.scratch = squeezeSpaces(b.scratch, v)
			tv := timeValue{b: b.scratch[start:]}
			var ok bool
			if sec, nsec, ok = tp.parse(tv, b.loc, now); !ok && rfc5424 {
				sec, nsec, ok = s.time5424NoFrac.parse(tv, b.loc, now)
			}
			if !ok {
				return dst, false
			}
			hasTime = true
			if b.k.s.keepTime {
				b.add(syslogKey.time, v, kStr)
			}
		case "message":
			b.add(syslogKey.message, chomp(v), kStr)
		default:
			b.add(g.name, v, kStr)
		}
	}
	if !hasTime && !b.k.cfg.EstimateCurrentEvent {
		return dst, false
	}
	return b.finishAt(dst, sec, nsec, now), true
}

// squeezeSpaces appends v with each run of spaces made one, as Ruby's
// squeeze(' ').
func squeezeSpaces(dst, v []byte) []byte {
	for i, c := range v {
		if c == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// chomp removes a trailing "\r\n", "\n" or "\r", as Ruby's chomp.
func chomp(v []byte) []byte {
	if bytes.HasSuffix(v, []byte("\r\n")) {
		return v[:len(v)-2]
	}
	if len(v) > 0 && (v[len(v)-1] == '\n' || v[len(v)-1] == '\r') {
		return v[:len(v)-1]
	}
	return v
}
