package conf

import "fmt"

// scanner is the byte-level reader under parser: positions, lines,
// whitespace and comments. Literals are in literal.go.
type scanner struct {
	file string
	data []byte
	pos  int
	line int
}

func (s *scanner) eof() bool { return s.pos >= len(s.data) }

func (s *scanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.data[s.pos]
}

func (s *scanner) hasPrefix(p string) bool {
	return len(s.data)-s.pos >= len(p) && string(s.data[s.pos:s.pos+len(p)]) == p
}

// next consumes one byte, counting lines.
func (s *scanner) next() byte {
	c := s.data[s.pos]
	s.pos++
	if c == '\n' {
		s.line++
	}
	return c
}

func (s *scanner) skipByte(c byte) bool {
	if s.peek() == c && !s.eof() {
		s.next()
		return true
	}
	return false
}

func (s *scanner) errf(format string, args ...any) *Error {
	return &Error{File: s.file, Line: s.line, Msg: fmt.Sprintf(format, args...)}
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// blanks skips spaces and tabs.
func (s *scanner) blanks() {
	for !s.eof() && isBlank(s.peek()) {
		s.pos++
	}
}

// comment skips from '#' to the end of the line, leaving the newline.
func (s *scanner) comment() {
	for !s.eof() && s.peek() != '\n' && s.peek() != '\r' {
		s.pos++
	}
}

// spacing skips whitespace, newlines and comments (Fluentd's SPACING).
func (s *scanner) spacing() {
	for !s.eof() {
		switch c := s.peek(); {
		case isBlank(c) || c == '\r' || c == '\n':
			s.next()
		case c == '#':
			s.comment()
		default:
			return
		}
	}
}

// lineEnd skips blanks and a comment and consumes the end of the line. It
// reports false when something else follows on the line.
func (s *scanner) lineEnd() bool {
	s.blanks()
	if s.peek() == '#' {
		s.comment()
	}
	switch {
	case s.eof():
		return true
	case s.peek() == '\r':
		s.next()
		s.skipByte('\n')
		return true
	case s.peek() == '\n':
		s.next()
		return true
	}
	return false
}

func isNameByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// name scans a section name: [a-zA-Z0-9_]*.
func (s *scanner) name() string {
	start := s.pos
	for !s.eof() && isNameByte(s.peek()) {
		s.pos++
	}
	return string(s.data[start:s.pos])
}
