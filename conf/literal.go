package conf

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// key scans a parameter name: a quoted string or anything up to whitespace.
// bare reports it was not quoted.
func (p *parser) key() (key string, bare bool, err *Error) {
	switch p.peek() {
	case '"':
		key, err = p.doubleQuoted()
		return key, false, err
	case '\'':
		key, err = p.singleQuoted()
		return key, false, err
	}
	start := p.pos
	for !p.eof() {
		if c := p.peek(); isBlank(c) || c == '\r' || c == '\n' {
			break
		}
		p.pos++
	}
	return string(p.data[start:p.pos]), true, nil
}

// sectionArg scans what follows a section name up to '>': quoted, or bare
// with trailing blanks removed.
func (p *parser) sectionArg() (string, *Error) {
	switch p.peek() {
	case '"':
		return p.doubleQuoted()
	case '\'':
		return p.singleQuoted()
	}
	start := p.pos
	for !p.eof() {
		if c := p.peek(); c == '>' || c == '\r' || c == '\n' {
			break
		}
		p.pos++
	}
	return strings.TrimRight(string(p.data[start:p.pos]), " \t"), nil
}

// literal scans a parameter value: a JSON array or hash (possibly over
// several lines), a quoted string, or the rest of the line. The error is
// one that leaves the value's end unknown (an unterminated string); other
// problems are recorded with p.fail and scanning goes on.
func (p *parser) literal() (string, *Error) {
	switch p.peek() {
	case '[', '{':
		return p.json()
	case '"':
		return p.doubleQuoted()
	case '\'':
		return p.singleQuoted()
	}
	start := p.pos
	for !p.eof() {
		c := p.peek()
		if c == '\r' || c == '\n' {
			break
		}
		if isBlank(c) {
			// Blanks end the value when only a comment follows them.
			end := p.pos
			for end < len(p.data) && isBlank(p.data[end]) {
				end++
			}
			if end == len(p.data) || p.data[end] == '#' || p.data[end] == '\n' || p.data[end] == '\r' {
				break
			}
			p.pos = end
			continue
		}
		p.pos++
	}
	return string(p.data[start:p.pos]), nil
}

// doubleQuoted scans "..." with Fluentd's escapes, backslash-newline line
// continuation and embedded Ruby ("#{ENV['NAME']}", see embedded.go),
// whose use_default and use_nil go to p.cur.
func (p *parser) doubleQuoted() (string, *Error) {
	line := p.line
	p.next()
	var b strings.Builder
	for {
		if p.eof() {
			return "", errAt(p.file, line, "unterminated double-quoted string")
		}
		c := p.next()
		switch {
		case c == '"':
			return b.String(), nil
		case c == '\\':
			if p.eof() {
				return "", errAt(p.file, line, "unterminated double-quoted string")
			}
			p.escape(&b)
		case c == '#' && p.peek() == '{':
			p.next()
			v, err := p.embedded()
			if err != nil {
				return "", err
			}
			b.WriteString(v)
		default:
			b.WriteByte(c)
		}
	}
}

// escape handles the byte after a backslash in a double-quoted string.
func (p *parser) escape(b *strings.Builder) {
	line := p.line
	c := p.next()
	switch c {
	case '\n': // line continuation
	case '\r':
		p.skipByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 'n':
		b.WriteByte('\n')
	case 't':
		b.WriteByte('\t')
	case 'f':
		b.WriteByte('\f')
	case 'b':
		b.WriteByte('\b')
	case '0':
		b.WriteByte(0)
	default:
		if isNameByte(c) && c != '_' {
			p.fail(errAt(p.file, line, "unexpected back-slash escape character '%c'", c))
		}
		b.WriteByte(c) // \" \' \\ \# and other symbols stand for themselves
	}
}

// singleQuoted scans '...': only \' and \\ are escapes; no newlines, as in
// Fluentd.
func (p *parser) singleQuoted() (string, *Error) {
	line := p.line
	p.next()
	var b strings.Builder
	for {
		if p.eof() || p.peek() == '\n' || p.peek() == '\r' {
			return "", errAt(p.file, line, "unterminated single-quoted string")
		}
		c := p.next()
		switch {
		case c == '\'':
			return b.String(), nil
		case c == '\\' && (p.peek() == '\'' || p.peek() == '\\'):
			b.WriteByte(p.next())
		default:
			b.WriteByte(c)
		}
	}
}

// embedded scans the code of "#{...}" (after "#{") up to its closing
// brace and evaluates it (embedded.go). A code barge does not evaluate is
// recorded as a problem and stands for "".
func (p *parser) embedded() (string, *Error) {
	line := p.line
	start := p.pos
	var quote byte
	depth := 0
	for {
		if p.eof() || p.peek() == '\n' {
			return "", errAt(p.file, line, "unterminated embedded code \"#{\"")
		}
		c := p.next()
		switch {
		case quote != 0:
			if c == '\\' && !p.eof() && p.peek() != '\n' {
				p.next()
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '{':
			depth++
		case c == '}' && depth > 0:
			depth--
		case c == '}':
			r, err := evalEmbedded(string(p.data[start : p.pos-1]))
			if err != nil {
				p.fail(errAt(p.file, line, "%v", err))
				return "", nil
			}
			p.cur.embedded = true
			for _, name := range r.unset {
				if !slices.Contains(p.cur.unset, name) {
					p.cur.unset = append(p.cur.unset, name)
				}
			}
			// As Fluentd: one use_nil makes the whole string nil, else one
			// use_default makes it the default.
			p.cur.use = max(p.cur.use, r.use)
			return r.value, nil
		}
	}
}

// json scans a JSON array or hash that may span lines; '#' outside a
// string starts a comment. The value is the compacted JSON text.
func (p *parser) json() (string, *Error) {
	line := p.line
	what, closer := "array", "]"
	if p.peek() == '{' {
		what, closer = "hash", "}"
	}
	var raw []byte
	depth := 0
	inString := false
	for {
		if p.eof() {
			return "", errAt(p.file, line, "unterminated JSON %s: expected a closing '%s'", what, closer)
		}
		c := p.next()
		switch {
		case inString:
			if c == '\\' && !p.eof() {
				raw = append(raw, c)
				c = p.next()
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '#':
			p.comment()
			continue
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		}
		raw = append(raw, c)
		if depth == 0 && !inString {
			break
		}
	}
	var out bytes.Buffer
	if err := json.Compact(&out, raw); err != nil {
		p.fail(errAt(p.file, line, "invalid JSON %s: %v", what, err))
		return string(raw), nil
	}
	return out.String(), nil
}
