package conf

import "strings"

// Section is one directive (<name arg> ... </name>) or the root of a file.
// The root has an empty Name and holds the top-level params and sections.
type Section struct {
	Name     string
	Arg      string
	File     string
	Line     int
	Params   []*Param
	Sections []*Section
}

// Param is one "key value" line. Value is the decoded literal: quotes
// removed, escapes and embedded Ruby ("#{ENV['NAME']}") evaluated, JSON
// arrays and hashes compacted.
type Param struct {
	Key   string
	Value string
	File  string
	Line  int
	// Raw is the value as written, quotes included, when it holds embedded
	// Ruby; "" otherwise. Messages quote it.
	Raw string
	// Unset lists the environment variables the embedded Ruby looked up
	// and found unset, in order, each once. Decode names them when the
	// value is missing or invalid.
	Unset []string
	// UseDefault: the embedded Ruby evaluated Fluentd's use_default, so
	// the parameter takes its default. UseNil: it evaluated use_nil, so
	// the parameter is nil. Either way Decode treats the parameter as
	// not given, and Value is "".
	UseDefault bool
	UseNil     bool
}

// Absent reports whether the parameter counts as not given (UseDefault
// or UseNil).
func (p *Param) Absent() bool { return p.UseDefault || p.UseNil }

// Positioner is something with a place in a config file: *Section, *Param.
type Positioner interface {
	Pos() (file string, line int)
}

// Pos returns where the section starts.
func (s *Section) Pos() (string, int) {
	if s == nil {
		return "", 0
	}
	return s.File, s.Line
}

// Pos returns where the parameter's key is.
func (p *Param) Pos() (string, int) {
	if p == nil {
		return "", 0
	}
	return p.File, p.Line
}

// Param returns the last parameter named key (Fluentd: the last one wins),
// or nil, also when that last one is Absent (use_default, use_nil).
func (s *Section) Param(key string) *Param {
	if p := s.lastParam(key); p != nil && !p.Absent() {
		return p
	}
	return nil
}

// lastParam is Param including an Absent parameter.
func (s *Section) lastParam(key string) *Param {
	for i := len(s.Params) - 1; i >= 0; i-- {
		if s.Params[i].Key == key {
			return s.Params[i]
		}
	}
	return nil
}

// Get returns the value of Param(key), or "".
func (s *Section) Get(key string) string {
	if p := s.Param(key); p != nil {
		return p.Value
	}
	return ""
}

// Has reports whether Param(key) is not nil: the section gives key a value
// (its last parameter named key is not use_default or use_nil).
func (s *Section) Has(key string) bool { return s.Param(key) != nil }

// Type returns the value of @type (or of the legacy "type" when @type is
// absent), or "".
func (s *Section) Type() string {
	if p := s.Param("@type"); p != nil {
		return p.Value
	}
	return s.Get("type")
}

// Children returns the nested sections named name, in order.
func (s *Section) Children(name string) []*Section {
	var out []*Section
	for _, c := range s.Sections {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// Label returns the directive as written in messages: "<match a.** b>",
// "<buffer>", or "" for the root.
func (s *Section) Label() string {
	if s.Name == "" {
		return ""
	}
	if s.Arg == "" {
		return "<" + s.Name + ">"
	}
	return "<" + s.Name + " " + s.Arg + ">"
}

// String renders the section back in Fluentd syntax (values double-quoted
// where needed), for debugging and golden tests.
func (s *Section) String() string {
	var b strings.Builder
	s.write(&b, "")
	return b.String()
}

func (s *Section) write(b *strings.Builder, ind string) {
	inner := ind
	if s.Name != "" {
		b.WriteString(ind + "<" + s.Name)
		if s.Arg != "" {
			b.WriteString(" " + quoteArg(s.Arg))
		}
		b.WriteString(">\n")
		inner = ind + "  "
	}
	for _, p := range s.Params {
		v := quoteValue(p.Value)
		switch {
		case p.UseNil:
			v = `"#{use_nil}"`
		case p.UseDefault:
			v = `"#{use_default}"`
		}
		b.WriteString(inner + quoteKey(p.Key) + " " + v + "\n")
	}
	for _, c := range s.Sections {
		c.write(b, inner)
	}
	if s.Name != "" {
		b.WriteString(ind + "</" + s.Name + ">\n")
	}
}

// quoteKey double-quotes k when it would not read back unchanged bare.
func quoteKey(k string) string {
	if k == "" || k[0] == '#' || k == "include" || strings.ContainsAny(k, "\"' \t\r\n<") {
		return forceQuote(k)
	}
	return k
}

// quoteArg double-quotes a section argument when it would not read back
// unchanged bare.
func quoteArg(a string) string {
	if strings.ContainsAny(a, ">\"'\r\n\\") || strings.TrimSpace(a) != a {
		return forceQuote(a)
	}
	return a
}

// quoteValue double-quotes v when it would not read back unchanged bare.
func quoteValue(v string) string {
	if v != "" && !strings.ContainsAny(v, "\"'#\\\n\r\t[{") && strings.TrimSpace(v) == v {
		return v
	}
	return forceQuote(v)
}

// forceQuote writes v as a double-quoted literal.
func forceQuote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '"', '\\', '#':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
