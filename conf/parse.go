package conf

import (
	"bytes"
	"path/filepath"
)

// maxDepth bounds section nesting plus include depth, so hostile input
// cannot exhaust the stack.
const maxDepth = 64

// maxErrors bounds the problems one parse reports: past it, the parse
// stops (a binary file given as a config would otherwise fill the screen).
const maxErrors = 100

// ParseFile reads and parses the config file at path.
func ParseFile(path string) (*Section, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, Errors{&Error{File: path, Msg: err.Error()}}
	}
	return parse(path, data, true)
}

// Parse parses data as the contents of the file name. @include paths are
// relative to name's directory. The error is Errors holding every problem
// found, each an *Error: after a problem the parse goes on at the next
// line (or, in a double-quoted string, right after the problem), so that
// one run shows them all.
func Parse(name string, data []byte) (*Section, error) {
	return parse(name, data, true)
}

// parse parses a root file; includes false makes @include an error (for
// fuzzing, which must not read arbitrary files).
func parse(name string, data []byte, includes bool) (*Section, error) {
	root := &Section{File: name}
	p := newParser(name, data, []string{absPath(name)}, &parseState{})
	p.noInclude = !includes
	p.body(root, true, 0)
	if len(p.st.errs) > 0 {
		return nil, p.st.errs
	}
	return root, nil
}

func absPath(name string) string {
	if a, err := filepath.Abs(name); err == nil {
		return a
	}
	return name
}

// parseState is shared by the parsers of a root file and its includes.
type parseState struct {
	errs    Errors
	stopped bool // too many errors, or nesting too deep
}

// parser reads one file. Sections opened in a file close in that file.
type parser struct {
	scanner
	dir   string
	chain []string // absolute paths of the files being included, outermost first
	// noInclude makes @include an error.
	noInclude bool
	st        *parseState
	open      []*Section // the sections of this file being parsed, outermost first
	// cur is what the literal being scanned took from embedded Ruby.
	cur valueInfo
}

// valueInfo is what a literal's embedded Ruby did.
type valueInfo struct {
	embedded bool
	use      use
	unset    []string
}

func newParser(name string, data []byte, chain []string, st *parseState) *parser {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	return &parser{scanner: scanner{file: name, data: data, line: 1}, dir: filepath.Dir(name), chain: chain, st: st}
}

// fail records a problem; past maxErrors it stops the parse.
func (p *parser) fail(e *Error) {
	if p.st.stopped {
		return
	}
	p.st.errs = append(p.st.errs, e)
	if len(p.st.errs) >= maxErrors {
		p.st.errs = append(p.st.errs, errAt(e.File, e.Line, "too many errors, stopping"))
		p.st.stopped = true
	}
}

// resync goes back to pos and line (the start of what failed) and then
// past the end of line errLine (at least of line), where parsing goes on.
func (p *parser) resync(pos, line, errLine int) {
	p.pos, p.line = pos, line
	for !p.eof() && p.line <= max(errLine, line) {
		p.next()
	}
}

// skipLine skips the rest of the current line and its newline.
func (p *parser) skipLine() { p.resync(p.pos, p.line, p.line) }

// body parses params and sections into sec until EOF (top) or sec's end
// tag, recording every problem.
func (p *parser) body(sec *Section, top bool, depth int) {
	if depth > maxDepth {
		p.fail(p.errf("sections and includes nested deeper than %d levels", maxDepth))
		p.st.stopped = true
		return
	}
	for !p.st.stopped {
		p.spacing()
		switch {
		case p.eof():
			if !top {
				p.fail(errAt(sec.File, sec.Line, "%s is not closed: expected </%s> before end of file", sec.Label(), sec.Name))
			}
			return
		case p.hasPrefix("</"):
			if p.endTag(sec, top) {
				return
			}
		case p.peek() == '<':
			p.section(sec, depth)
		default:
			p.param(sec, top, depth)
		}
	}
}

// endTag reads "</name>" and reports whether sec is closed. A tag that
// closes a section enclosing sec closes sec with an error and is left
// for that section; any other mismatched tag is taken for sec's (a typo).
func (p *parser) endTag(sec *Section, top bool) (closed bool) {
	line, start := p.line, p.pos
	p.pos += 2
	name := p.name()
	p.blanks()
	switch {
	case !p.skipByte('>'):
		p.fail(p.errf("expected '>' after </%s", name))
		p.skipLine()
	case !p.lineEnd():
		p.fail(p.errf("expected end of line after </%s>", name))
		p.skipLine()
	}
	if top {
		p.fail(errAt(p.file, line, "</%s> without an opening <%s>", name, name))
		return false
	}
	if name != sec.Name {
		p.fail(errAt(p.file, line, "</%s> does not close %s (opened at line %d)", name, sec.Label(), sec.Line))
		for _, o := range p.open[:len(p.open)-1] {
			if o.Name == name {
				p.pos, p.line = start, line
				break
			}
		}
	}
	return true
}

func (p *parser) section(parent *Section, depth int) {
	line, start := p.line, p.pos
	p.pos++
	name := p.name()
	if name == "" {
		p.fail(p.errf("expected a section name after '<'"))
		p.skipLine()
		return
	}
	p.blanks()
	p.cur = valueInfo{}
	arg, err := p.sectionArg()
	switch {
	case err != nil:
		p.fail(err)
		p.resync(start, line, err.Line)
	case p.cur.use != useValue:
		p.fail(errAt(p.file, line, "use_default and use_nil are taken only in a parameter's value, not in <%s ARG>", name))
		p.resync(start, line, line)
	default:
		p.blanks()
		if !p.skipByte('>') {
			p.fail(p.errf("expected '>' to end <%s", name))
			p.skipLine()
		} else if !p.lineEnd() {
			p.fail(p.errf("expected end of line after <%s>", name))
			p.skipLine()
		}
	}
	// Even a broken header opens its section, so that its end tag and
	// body read as written.
	child := &Section{Name: name, Arg: arg, File: p.file, Line: line}
	parent.Sections = append(parent.Sections, child)
	p.open = append(p.open, child)
	p.body(child, false, depth+1)
	p.open = p.open[:len(p.open)-1]
}

func (p *parser) param(sec *Section, top bool, depth int) {
	line, start := p.line, p.pos
	before := len(p.st.errs)
	p.cur = valueInfo{}
	key, bare, err := p.key()
	if err != nil {
		p.fail(err)
		p.resync(start, line, err.Line)
		return
	}
	if p.cur.use != useValue {
		p.fail(errAt(p.file, line, "use_default and use_nil are taken only in a parameter's value, not in its key"))
		p.resync(start, line, line)
		return
	}
	p.blanks()
	if p.eof() || p.peek() == '\n' || p.peek() == '\r' {
		// A key alone has the empty value (Fluentd: a bool that is true).
		if key == "@include" {
			p.fail(errAt(p.file, line, "@include needs a path"))
			return
		}
		if len(p.st.errs) == before {
			sec.Params = append(sec.Params, &Param{Key: key, File: p.file, Line: line})
		}
		return
	}
	if key == "@include" || (top && bare && key == "include") {
		p.include(sec, line, depth)
		return
	}
	p.cur = valueInfo{}
	vstart := p.pos
	val, err := p.literal()
	if err != nil {
		p.fail(err)
		p.resync(start, line, err.Line)
		return
	}
	vend := p.pos
	if !p.lineEnd() {
		p.fail(p.errf("expected end of line after the value of '%s'", key))
		p.skipLine()
		return
	}
	if len(p.st.errs) > before {
		return // a problem inside the value: the parameter is left out
	}
	prm := &Param{Key: key, Value: val, File: p.file, Line: line, Unset: p.cur.unset}
	if p.cur.embedded {
		prm.Raw = string(p.data[vstart:vend])
	}
	switch p.cur.use {
	case useDefault:
		prm.UseDefault, prm.Value = true, ""
	case useNil:
		prm.UseNil, prm.Value = true, ""
	}
	sec.Params = append(sec.Params, prm)
}
