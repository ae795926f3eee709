package conf

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// The embedded Ruby of "#{...}" in a double-quoted string is evaluated by
// a fixed grammar, never by a Ruby interpreter:
//
//	code = term { "||" term }
//	term = "ENV[" string "]" | string | integer | "Socket.gethostname"
//	     | "hostname" | "worker_id" | "use_default" | "use_nil"
//	string = '...' (escapes \' \\) | "..." (escapes \" \\ \' \# \n \t \r \0 \s \e \a \b \f \v)
//	integer = "0" | [1-9][0-9]* (its digits, as Ruby interpolates it)
//
// Blanks may surround every token. As in Ruby, a || b is a when a is not
// nil, else b: ENV['X'] is nil only when X is unset (a variable set to ""
// is ""), every other term is a string. A code whose terms are all unset
// variables is "" (nil.to_s). use_default and use_nil end the evaluation:
// the whole parameter then takes its default, or is nil (Fluentd: they
// raise, and the parser makes the whole string :default or nil).

// use is what a value asks of the decoder.
type use int

const (
	useValue   use = iota // the value as written
	useDefault            // Fluentd's use_default: the parameter's default
	useNil                // Fluentd's use_nil: nil, as if not given
)

// embedResult is one evaluated "#{...}".
type embedResult struct {
	value string
	use   use
	unset []string // environment variables looked up and found unset
}

// embedSupported lists the grammar in refusals.
const embedSupported = `barge evaluates only ENV['NAME'] (or ENV["NAME"]), 'text', "text", 123, ` +
	`Socket.gethostname, hostname, worker_id, use_default and use_nil, joined by ||`

// evalEmbedded parses and evaluates code (the text between "#{" and "}").
// The error is the refusal message, without position.
func evalEmbedded(code string) (embedResult, error) {
	terms, err := parseEmbedded(code)
	if err != nil {
		return embedResult{}, fmt.Errorf("embedded Ruby code \"#{%s}\" is not supported: %v; %s", code, err, embedSupported)
	}
	var r embedResult
	for _, t := range terms {
		switch t.kind {
		case termEnv:
			if v, ok := os.LookupEnv(t.text); ok {
				r.value = v
				return r, nil
			}
			if !slices.Contains(r.unset, t.text) {
				r.unset = append(r.unset, t.text)
			}
		case termString:
			r.value = t.text
			return r, nil
		case termHostname:
			h, err := os.Hostname()
			if err != nil {
				return embedResult{}, fmt.Errorf("embedded Ruby code \"#{%s}\": hostname: %w", code, err)
			}
			r.value = h
			return r, nil
		case termWorkerID:
			r.value = "0" // barge runs one process: Fluentd's first worker
			return r, nil
		case termUseDefault:
			r.use = useDefault
			return r, nil
		case termUseNil:
			r.use = useNil
			return r, nil
		}
	}
	return r, nil // every variable unset: nil.to_s
}

type termKind int

const (
	termEnv termKind = iota
	termString
	termHostname
	termWorkerID
	termUseDefault
	termUseNil
)

type term struct {
	kind termKind
	text string // the variable name, or the string
}

// parseEmbedded splits code into its terms; the error says what is wrong
// and where.
func parseEmbedded(code string) ([]term, error) {
	s := &rubyScanner{src: code}
	var terms []term
	for {
		s.blanks()
		t, err := s.term()
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
		s.blanks()
		if s.eof() {
			return terms, nil
		}
		if !s.skip("||") {
			return nil, s.unexpected()
		}
	}
}

// rubyScanner reads the tokens of the embedded-Ruby grammar.
type rubyScanner struct {
	src string
	pos int
}

func (s *rubyScanner) eof() bool { return s.pos >= len(s.src) }

func (s *rubyScanner) blanks() {
	for !s.eof() && isBlank(s.src[s.pos]) {
		s.pos++
	}
}

func (s *rubyScanner) skip(tok string) bool {
	if strings.HasPrefix(s.src[s.pos:], tok) {
		s.pos += len(tok)
		return true
	}
	return false
}

// unexpected names what stands at the current position.
func (s *rubyScanner) unexpected() error {
	if s.eof() {
		if strings.TrimSpace(s.src) == "" {
			return fmt.Errorf("no code")
		}
		return fmt.Errorf("unexpected end after %q", s.src)
	}
	return fmt.Errorf("unexpected %q", s.src[s.pos:])
}

func (s *rubyScanner) term() (term, error) {
	if s.eof() {
		return term{}, s.unexpected()
	}
	switch c := s.src[s.pos]; {
	case c == '\'' || c == '"':
		str, err := s.str()
		return term{kind: termString, text: str}, err
	case c >= '1' && c <= '9' || c == '0' && (s.pos+1 == len(s.src) || !isNameByte(s.src[s.pos+1])):
		// A decimal integer: Ruby interpolates its digits. 0755 (octal)
		// and 0x1f are not taken.
		start := s.pos
		for !s.eof() && s.src[s.pos] >= '0' && s.src[s.pos] <= '9' {
			s.pos++
		}
		if !s.eof() && (isNameByte(s.src[s.pos]) || s.src[s.pos] == '.') {
			s.pos = start
			return term{}, s.unexpected()
		}
		return term{kind: termString, text: s.src[start:s.pos]}, nil
	case isNameByte(c) && (c < '0' || c > '9'):
	default:
		return term{}, s.unexpected()
	}
	start := s.pos
	for !s.eof() && isNameByte(s.src[s.pos]) {
		s.pos++
	}
	switch ident := s.src[start:s.pos]; ident {
	case "ENV":
		if !s.skip("[") {
			return term{}, s.unexpected()
		}
		s.blanks()
		if s.eof() || s.src[s.pos] != '\'' && s.src[s.pos] != '"' {
			return term{}, s.unexpected()
		}
		name, err := s.str()
		if err != nil {
			return term{}, err
		}
		s.blanks()
		if !s.skip("]") {
			return term{}, s.unexpected()
		}
		return term{kind: termEnv, text: name}, nil
	case "Socket":
		if !s.skip(".gethostname") || !s.eof() && isNameByte(s.src[s.pos]) {
			s.pos = start
			return term{}, s.unexpected()
		}
		return term{kind: termHostname}, nil
	case "hostname":
		return term{kind: termHostname}, nil
	case "worker_id":
		return term{kind: termWorkerID}, nil
	case "use_default":
		return term{kind: termUseDefault}, nil
	case "use_nil":
		return term{kind: termUseNil}, nil
	}
	s.pos = start
	return term{}, s.unexpected()
}

// str scans a Ruby string literal with the escapes of the grammar.
func (s *rubyScanner) str() (string, error) {
	quote := s.src[s.pos]
	start := s.pos
	s.pos++
	var b strings.Builder
	for {
		if s.eof() {
			return "", fmt.Errorf("unterminated string %s", s.src[start:])
		}
		c := s.src[s.pos]
		s.pos++
		switch {
		case c == quote:
			return b.String(), nil
		case c == '\\' && s.eof():
			return "", fmt.Errorf("unterminated string %s", s.src[start:])
		case c == '\\' && quote == '\'':
			if e := s.src[s.pos]; e == '\'' || e == '\\' {
				b.WriteByte(e)
				s.pos++
			} else {
				b.WriteByte(c) // Ruby keeps any other backslash in '...'
			}
		case c == '\\':
			e := s.src[s.pos]
			r, ok := rubyEscape(e)
			if e == '0' && s.pos+1 < len(s.src) && s.src[s.pos+1] >= '0' && s.src[s.pos+1] <= '7' {
				ok = false // an octal escape
			}
			if !ok {
				return "", fmt.Errorf("the escape \\%c in %s", e, s.src[start:])
			}
			b.WriteByte(r)
			s.pos++
		case c == '#' && quote == '"' && !s.eof() && strings.IndexByte("{@$", s.src[s.pos]) >= 0:
			return "", fmt.Errorf("interpolation in %s", s.src[start:])
		default:
			b.WriteByte(c)
		}
	}
}

// rubyEscape returns what \e stands for in a double-quoted Ruby string,
// for the escapes barge takes; hexadecimal, octal, Unicode and control
// escapes are refused.
func rubyEscape(e byte) (byte, bool) {
	switch e {
	case '"', '\\', '\'', '#':
		return e, true
	case 'n':
		return '\n', true
	case 't':
		return '\t', true
	case 'r':
		return '\r', true
	case '0':
		return 0, true
	case 's':
		return ' ', true
	case 'e':
		return 0x1b, true
	case 'a':
		return '\a', true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'v':
		return '\v', true
	}
	return 0, false
}
