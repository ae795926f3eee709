package conf

import (
	"bytes"
	"path/filepath"
)

// maxDepth bounds section nesting plus include depth, so hostile input
// cannot exhaust the stack.
const maxDepth = 64

// ParseFile reads and parses the config file at path.
func ParseFile(path string) (*Section, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	return parse(path, data, true)
}

// Parse parses data as the contents of the file name. @include paths are
// relative to name's directory. The error is an *Error (syntax errors stop
// the parse).
func Parse(name string, data []byte) (*Section, error) {
	return parse(name, data, true)
}

// parse parses a root file; includes false makes @include an error (for
// fuzzing, which must not read arbitrary files).
func parse(name string, data []byte, includes bool) (*Section, error) {
	root := &Section{File: name}
	p := newParser(name, data, []string{absPath(name)})
	p.noInclude = !includes
	if err := p.body(root, true, 0); err != nil {
		return nil, err
	}
	return root, nil
}

func absPath(name string) string {
	if a, err := filepath.Abs(name); err == nil {
		return a
	}
	return name
}

// parser reads one file. Sections opened in a file close in that file.
type parser struct {
	scanner
	dir   string
	chain []string // absolute paths of the files being included, outermost first
	// noInclude makes @include an error.
	noInclude bool
}

func newParser(name string, data []byte, chain []string) *parser {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	return &parser{scanner: scanner{file: name, data: data, line: 1}, dir: filepath.Dir(name), chain: chain}
}

// body parses params and sections into sec until EOF (top) or sec's end tag.
func (p *parser) body(sec *Section, top bool, depth int) error {
	if depth > maxDepth {
		return p.errf("sections and includes nested deeper than %d levels", maxDepth)
	}
	for {
		p.spacing()
		switch {
		case p.eof():
			if top {
				return nil
			}
			return errAt(sec.File, sec.Line, "%s is not closed: expected </%s> before end of file", sec.Label(), sec.Name)
		case p.hasPrefix("</"):
			return p.endTag(sec, top)
		case p.peek() == '<':
			if err := p.section(sec, depth); err != nil {
				return err
			}
		default:
			if err := p.param(sec, top, depth); err != nil {
				return err
			}
		}
	}
}

func (p *parser) endTag(sec *Section, top bool) error {
	line := p.line
	p.pos += 2
	name := p.name()
	p.blanks()
	if !p.skipByte('>') {
		return p.errf("expected '>' after </%s", name)
	}
	if !p.lineEnd() {
		return p.errf("expected end of line after </%s>", name)
	}
	if top {
		return errAt(p.file, line, "</%s> without an opening <%s>", name, name)
	}
	if name != sec.Name {
		return errAt(p.file, line, "</%s> does not close %s (opened at line %d)", name, sec.Label(), sec.Line)
	}
	return nil
}

func (p *parser) section(parent *Section, depth int) error {
	line := p.line
	p.pos++
	name := p.name()
	if name == "" {
		return p.errf("expected a section name after '<'")
	}
	p.blanks()
	arg, err := p.sectionArg()
	if err != nil {
		return err
	}
	p.blanks()
	if !p.skipByte('>') {
		return p.errf("expected '>' to end <%s", name)
	}
	if !p.lineEnd() {
		return p.errf("expected end of line after <%s>", name)
	}
	child := &Section{Name: name, Arg: arg, File: p.file, Line: line}
	parent.Sections = append(parent.Sections, child)
	return p.body(child, false, depth+1)
}

func (p *parser) param(sec *Section, top bool, depth int) error {
	line := p.line
	key, bare, err := p.key()
	if err != nil {
		return err
	}
	p.blanks()
	if p.eof() || p.peek() == '\n' || p.peek() == '\r' {
		// A key alone has the empty value (Fluentd: a bool that is true).
		if key == "@include" {
			return errAt(p.file, line, "@include needs a path")
		}
		sec.Params = append(sec.Params, &Param{Key: key, File: p.file, Line: line})
		return nil
	}
	if key == "@include" || (top && bare && key == "include") {
		return p.include(sec, line, depth)
	}
	val, err := p.literal()
	if err != nil {
		return err
	}
	if !p.lineEnd() {
		return p.errf("expected end of line after the value of '%s'", key)
	}
	sec.Params = append(sec.Params, &Param{Key: key, Value: val, File: p.file, Line: line})
	return nil
}
