package files

import "strconv"

// jsonScanner is encoding/json's syntax checker (its scanner.go) fed one
// byte at a time, so that a document streamed through it fails where, and
// with the message, json.Decoder.Decode on the whole document would: the
// same states, transitions, messages and nesting limit. It keeps only the
// stack of open containers. jsondoc_test.go holds it to encoding/json.
type jsonScanner struct {
	state  scanState
	stack  []byte // parseObjectKey, parseObjectValue or parseArrayValue per open container
	hex    int    // hex digits read of a \u escape
	lit    string // true, false or null
	litPos int    // bytes of lit read
	msg    string // the syntax error, once state is stError
}

// What step reports, as encoding/json's scanner.
const (
	scanContinue     = iota // an uninteresting byte
	scanBeginLiteral        // a string (value or key), number, true, false or null begins
	scanBeginObject
	scanObjectKey   // the byte after a key, ':'
	scanObjectValue // the ',' after a member
	scanEndObject
	scanBeginArray
	scanArrayValue // the ',' after an element
	scanEndArray
	scanSkipSpace
	scanEnd   // the top-level value ended before this byte
	scanError // a syntax error: msg
)

const (
	parseObjectKey = iota
	parseObjectValue
	parseArrayValue
)

// maxNestingDepth is encoding/json's.
const maxNestingDepth = 10000

type scanState uint8

const (
	stBeginValue scanState = iota // the state at the start
	stBeginValueOrEmpty
	stBeginStringOrEmpty
	stBeginString
	stEndValue
	stEndTop
	stInString
	stInStringEsc
	stInStringEscU
	stNeg
	st1
	st0
	stDot
	stDot0
	stE
	stESign
	stE0
	stLiteral
	stError
)

// step takes the next byte.
func (s *jsonScanner) step(c byte) int {
	switch s.state {
	case stBeginValue:
		return s.beginValue(c)
	case stBeginValueOrEmpty:
		if isSpace(c) {
			return scanSkipSpace
		}
		if c == ']' {
			return s.endValue(c)
		}
		return s.beginValue(c)
	case stBeginStringOrEmpty:
		if isSpace(c) {
			return scanSkipSpace
		}
		if c == '}' {
			s.stack[len(s.stack)-1] = parseObjectValue
			return s.endValue(c)
		}
		return s.beginString(c)
	case stBeginString:
		return s.beginString(c)
	case stEndValue:
		return s.endValue(c)
	case stEndTop:
		if !isSpace(c) {
			s.error(c, "after top-level value")
		}
		return scanEnd
	case stInString:
		switch {
		case c == '"':
			s.state = stEndValue
		case c == '\\':
			s.state = stInStringEsc
		case c < 0x20:
			return s.error(c, "in string literal")
		}
		return scanContinue
	case stInStringEsc:
		switch c {
		case 'b', 'f', 'n', 'r', 't', '\\', '/', '"':
			s.state = stInString
			return scanContinue
		case 'u':
			s.state, s.hex = stInStringEscU, 0
			return scanContinue
		}
		return s.error(c, "in string escape code")
	case stInStringEscU:
		if '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' {
			if s.hex++; s.hex == 4 {
				s.state = stInString
			}
			return scanContinue
		}
		return s.error(c, "in \\u hexadecimal character escape")
	case stNeg:
		if c == '0' {
			s.state = st0
			return scanContinue
		}
		if '1' <= c && c <= '9' {
			s.state = st1
			return scanContinue
		}
		return s.error(c, "in numeric literal")
	case st1:
		if '0' <= c && c <= '9' {
			return scanContinue
		}
		return s.afterInteger(c)
	case st0:
		return s.afterInteger(c)
	case stDot:
		if '0' <= c && c <= '9' {
			s.state = stDot0
			return scanContinue
		}
		return s.error(c, "after decimal point in numeric literal")
	case stDot0:
		if '0' <= c && c <= '9' {
			return scanContinue
		}
		if c == 'e' || c == 'E' {
			s.state = stE
			return scanContinue
		}
		return s.endValue(c)
	case stE:
		if c == '+' || c == '-' {
			s.state = stESign
			return scanContinue
		}
		return s.exponent(c)
	case stESign:
		return s.exponent(c)
	case stE0:
		if '0' <= c && c <= '9' {
			return scanContinue
		}
		return s.endValue(c)
	case stLiteral:
		if c == s.lit[s.litPos] {
			if s.litPos++; s.litPos == len(s.lit) {
				s.state = stEndValue
			}
			return scanContinue
		}
		return s.error(c, "in literal "+s.lit+" (expecting "+quoteChar(s.lit[s.litPos])+")")
	}
	return scanError
}

func (s *jsonScanner) beginValue(c byte) int {
	if isSpace(c) {
		return scanSkipSpace
	}
	switch c {
	case '{':
		s.state = stBeginStringOrEmpty
		return s.push(c, parseObjectKey, scanBeginObject)
	case '[':
		s.state = stBeginValueOrEmpty
		return s.push(c, parseArrayValue, scanBeginArray)
	case '"':
		s.state = stInString
	case '-':
		s.state = stNeg
	case '0':
		s.state = st0
	case 't':
		s.state, s.lit, s.litPos = stLiteral, "true", 1
	case 'f':
		s.state, s.lit, s.litPos = stLiteral, "false", 1
	case 'n':
		s.state, s.lit, s.litPos = stLiteral, "null", 1
	default:
		if c < '1' || c > '9' {
			return s.error(c, "looking for beginning of value")
		}
		s.state = st1
	}
	return scanBeginLiteral
}

func (s *jsonScanner) beginString(c byte) int {
	if isSpace(c) {
		return scanSkipSpace
	}
	if c == '"' {
		s.state = stInString
		return scanBeginLiteral
	}
	return s.error(c, "looking for beginning of object key string")
}

func (s *jsonScanner) afterInteger(c byte) int {
	if c == '.' {
		s.state = stDot
		return scanContinue
	}
	if c == 'e' || c == 'E' {
		s.state = stE
		return scanContinue
	}
	return s.endValue(c)
}

func (s *jsonScanner) exponent(c byte) int {
	if '0' <= c && c <= '9' {
		s.state = stE0
		return scanContinue
	}
	return s.error(c, "in exponent of numeric literal")
}

func (s *jsonScanner) endValue(c byte) int {
	n := len(s.stack)
	if n == 0 {
		s.state = stEndTop
		return s.step(c)
	}
	if isSpace(c) {
		s.state = stEndValue
		return scanSkipSpace
	}
	switch s.stack[n-1] {
	case parseObjectKey:
		if c == ':' {
			s.stack[n-1] = parseObjectValue
			s.state = stBeginValue
			return scanObjectKey
		}
		return s.error(c, "after object key")
	case parseObjectValue:
		if c == ',' {
			s.stack[n-1] = parseObjectKey
			s.state = stBeginString
			return scanObjectValue
		}
		if c == '}' {
			s.pop()
			return scanEndObject
		}
		return s.error(c, "after object key:value pair")
	default:
		if c == ',' {
			s.state = stBeginValue
			return scanArrayValue
		}
		if c == ']' {
			s.pop()
			return scanEndArray
		}
		return s.error(c, "after array element")
	}
}

func (s *jsonScanner) push(c byte, ps byte, op int) int {
	s.stack = append(s.stack, ps)
	if len(s.stack) <= maxNestingDepth {
		return op
	}
	return s.error(c, "exceeded max depth")
}

func (s *jsonScanner) pop() {
	s.stack = s.stack[:len(s.stack)-1]
	if len(s.stack) == 0 {
		s.state = stEndTop
	} else {
		s.state = stEndValue
	}
}

func (s *jsonScanner) error(c byte, context string) int {
	s.state = stError
	s.msg = "invalid character " + quoteChar(c) + " " + context
	return scanError
}

func isSpace(c byte) bool {
	return c <= ' ' && (c == ' ' || c == '\t' || c == '\r' || c == '\n')
}

// quoteChar formats c as encoding/json's messages do.
func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(c))
	return "'" + s[1:len(s)-1] + "'"
}
