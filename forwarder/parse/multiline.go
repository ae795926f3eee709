package parse

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// MaxHeldBytes and MaxHeldLines bound a held record: before a line would
// take a multiline record past MaxHeldLines lines, or any held record
// (multiline, partial cri or docker lines) past MaxHeldBytes bytes, the
// held record is appended as it is (a multiline record that does not match
// as unmatched), and the line starts anew.
const (
	MaxHeldBytes = 4 << 20
	MaxHeldLines = 1000
)

// compileMultiline joins format1 ... format20 into one pattern, in which
// "." matches a newline, and compiles format_firstline.
func (k *compiled) compileMultiline() error {
	c := k.cfg
	var joined strings.Builder
	gap := 0
	for i, f := range c.list() {
		key := fmt.Sprintf("format%d", i+1)
		if f == "" {
			if gap == 0 {
				gap = i + 1
			}
			continue
		}
		if gap != 0 {
			return fmt.Errorf("'%s' is set but 'format%d' is missing", key, gap)
		}
		inner, err := slashed(key, f)
		if err != nil {
			return err
		}
		joined.WriteString(inner)
	}
	if joined.Len() == 0 {
		return errors.New("'format1' is required for @type multiline")
	}
	var err error
	if k.re, err = regexp.Compile("(?ms)" + joined.String()); err != nil {
		return fmt.Errorf("'format1' joined with the other formats: %w", err)
	}
	if len(groups(k.re)) == 0 {
		return errors.New("'format1' and the other formats have no named group (?<name>...)")
	}
	if c.FormatFirstline != "" {
		inner, err := slashed("format_firstline", c.FormatFirstline)
		if err != nil {
			return err
		}
		if k.first, err = regexp.Compile("(?m)" + inner); err != nil {
			return fmt.Errorf("'format_firstline': %w", err)
		}
	}
	return nil
}

// slashed returns the pattern inside "/.../", which multiline requires.
func slashed(key, f string) (string, error) {
	if len(f) < 2 || f[0] != '/' || f[len(f)-1] != '/' {
		return "", fmt.Errorf("'%s' must be a regexp between slashes (/.../), got %q", key, f)
	}
	inner := f[1 : len(f)-1]
	if _, err := regexp.Compile(inner); err != nil {
		return "", fmt.Errorf("'%s': %w", key, err)
	}
	return inner, nil
}

// multilineParser is @type multiline, with in_tail's joining: with
// format_firstline, a record runs from a first line to the line before
// the next one, and lines before any first line are parsed alone (as
// Fluentd does with emit_unmatched_lines); without it, lines are joined
// until the joined text matches.
type multilineParser struct {
	rp    *regexpParser
	first *regexp.Regexp
	held  []byte // the held lines, joined with "\n"
	n     int    // how many
}

func newMultiline(b base) *multilineParser {
	return &multilineParser{rp: newRegexp(b, b.k.re), first: b.k.first}
}

func (p *multilineParser) Line(dst, line []byte, now time.Time) []byte {
	full := p.n > 0 && (p.n >= MaxHeldLines || len(p.held)+1+len(line) > MaxHeldBytes)
	if p.first != nil {
		switch {
		case p.first.Match(line):
			dst = p.Flush(dst, now)
		case p.n == 0:
			return p.one(dst, line, now)
		case full:
			dst = p.Flush(dst, now) // and the line starts the next one
		}
		p.hold(line)
		return dst
	}
	if full {
		dst = p.Flush(dst, now)
	}
	p.hold(line)
	if out, ok := p.rp.parse(dst, p.held, now); ok {
		p.held, p.n = p.held[:0], 0
		return out
	}
	return dst
}

func (p *multilineParser) hold(line []byte) {
	if p.n > 0 {
		p.held = append(p.held, '\n')
	}
	p.held = append(p.held, line...)
	p.n++
}

// one parses a line on its own.
func (p *multilineParser) one(dst, line []byte, now time.Time) []byte {
	if out, ok := p.rp.parse(dst, line, now); ok {
		return out
	}
	return p.rp.b.appendUnmatched(dst, line, now)
}

func (p *multilineParser) Flush(dst []byte, now time.Time) []byte {
	if p.n == 0 {
		return dst
	}
	dst = p.one(dst, p.held, now)
	p.held, p.n = p.held[:0], 0
	if cap(p.held) > 64<<10 {
		p.held = nil // do not keep a large record's buffer
	}
	return dst
}

func (p *multilineParser) Held() int    { return p.n }
func (p *multilineParser) Stats() Stats { return p.rp.b.stats }
