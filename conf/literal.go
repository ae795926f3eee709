package conf

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
)

// key scans a parameter name: a quoted string or anything up to whitespace.
// bare reports it was not quoted.
func (p *parser) key() (key string, bare bool, err error) {
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
func (p *parser) sectionArg() (string, error) {
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
// several lines), a quoted string, or the rest of the line.
func (p *parser) literal() (string, error) {
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
// continuation and "#{ENV['NAME']}" substitution.
func (p *parser) doubleQuoted() (string, error) {
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
			if err := p.escape(&b); err != nil {
				return "", err
			}
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
func (p *parser) escape(b *strings.Builder) error {
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
			return errAt(p.file, line, "unexpected back-slash escape character '%c'", c)
		}
		b.WriteByte(c) // \" \' \\ \# and other symbols stand for themselves
	}
	return nil
}

// singleQuoted scans '...': only \' and \\ are escapes; no newlines, as in
// Fluentd.
func (p *parser) singleQuoted() (string, error) {
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

// envCode matches the one form of embedded Ruby barge evaluates.
var envCode = regexp.MustCompile(`^\s*ENV\[\s*(?:'([^'\\]*)'|"([^"\\]*)")\s*\]\s*$`)

// embedded scans the code of "#{...}" (after "#{") up to its closing brace
// and evaluates it: only ENV['NAME'] / ENV["NAME"] is supported; an unset
// variable is "" (Ruby's nil.to_s).
func (p *parser) embedded() (string, error) {
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
			code := string(p.data[start : p.pos-1])
			m := envCode.FindStringSubmatch(code)
			if m == nil {
				return "", errAt(p.file, line, "embedded Ruby code \"#{%s}\" is not supported: only \"#{ENV['NAME']}\" is", code)
			}
			return os.Getenv(m[1] + m[2]), nil
		}
	}
}

// json scans a JSON array or hash that may span lines; '#' outside a
// string starts a comment. The value is the compacted JSON text.
func (p *parser) json() (string, error) {
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
		return "", errAt(p.file, line, "invalid JSON %s: %v", what, err)
	}
	return out.String(), nil
}
