package route

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/barge-dev/barge/buffer/event"
)

// GrepExpr is a <regexp> or <exclude> section of filter_grep.
type GrepExpr struct {
	Key     string `conf:"key" required:"true"`     // a field name or a record_accessor ($.a.b)
	Pattern string `conf:"pattern" required:"true"` // "/RE/" (optionally /RE/im) or a plain RE
}

// Validate checks the key and the pattern.
func (e *GrepExpr) Validate() error {
	if _, err := event.ParseAccessor(e.Key); err != nil {
		return fmt.Errorf("'key': %w", err)
	}
	if _, err := compileRubyRegexp(e.Pattern, true); err != nil {
		return fmt.Errorf("'pattern' %q: %w", e.Pattern, err)
	}
	return nil
}

// GrepCondition is an <and> or <or> section: either <regexp>s or <exclude>s.
type GrepCondition struct {
	Regexps  []GrepExpr `conf:"<regexp>"`
	Excludes []GrepExpr `conf:"<exclude>"`
}

// GrepConfig is <filter> @type grep, as Fluentd's filter_grep.
type GrepConfig struct {
	Type     string          `conf:"@type"`
	ID       string          `conf:"@id"`
	LogLevel string          `conf:"@log_level"`
	Regexps  []GrepExpr      `conf:"<regexp>"`  // all must match
	Excludes []GrepExpr      `conf:"<exclude>"` // none may match
	And      []GrepCondition `conf:"<and>"`
	Or       []GrepCondition `conf:"<or>"`
	// Legacy holds the deprecated regexpN / excludeN parameters (N = 1..20),
	// each "KEY REGEXP".
	Legacy map[string]string `conf:",rest"`
}

// DefaultGrepConfig returns the defaults of filter_grep.
func DefaultGrepConfig() GrepConfig { return GrepConfig{Type: "grep"} }

// Validate checks the configuration without building the filter.
func (c *GrepConfig) Validate() error {
	_, err := c.compile()
	return err
}

const legacyMax = 20

// grepRules are the four kinds of condition of filter_grep.
type grepRules struct {
	regexpAnd, regexpOr, excludeAnd, excludeOr []grepExpr
}

type grepExpr struct {
	acc event.Accessor
	re  *regexp.Regexp
}

func (c *GrepConfig) compile() (grepRules, error) {
	var r grepRules
	seen := map[string]map[string]bool{}
	add := func(dst *[]grepExpr, kind, key, pattern string, slashes bool) error {
		if seen[kind] == nil {
			seen[kind] = map[string]bool{}
		}
		if seen[kind][key] {
			return fmt.Errorf("'key' %q is given twice in %s conditions", key, kind)
		}
		seen[kind][key] = true
		acc, err := event.ParseAccessor(key)
		if err != nil {
			return fmt.Errorf("'key': %w", err)
		}
		re, err := compileRubyRegexp(pattern, slashes)
		if err != nil {
			return fmt.Errorf("'pattern' %q: %w", pattern, err)
		}
		*dst = append(*dst, grepExpr{acc: acc, re: re})
		return nil
	}
	for i := 1; i <= legacyMax; i++ {
		for _, kind := range []string{"regexp", "exclude"} {
			name := kind + strconv.Itoa(i)
			v, ok := c.Legacy[name]
			if !ok {
				continue
			}
			key, pat, ok := strings.Cut(v, " ")
			if !ok {
				return r, fmt.Errorf("'%s' must be \"KEY REGEXP\"", name)
			}
			dst, k := &r.regexpAnd, "regexp and"
			if kind == "exclude" {
				dst, k = &r.excludeOr, "exclude or"
			}
			if err := add(dst, k, key, pat, false); err != nil {
				return r, fmt.Errorf("'%s': %w", name, err)
			}
		}
	}
	for name := range c.Legacy {
		if n, ok := legacyIndex(name); !ok || n < 1 || n > legacyMax {
			return r, fmt.Errorf("'%s' is not a parameter of grep", name)
		}
	}
	for _, e := range c.Regexps {
		if err := add(&r.regexpAnd, "regexp and", e.Key, e.Pattern, true); err != nil {
			return r, err
		}
	}
	for _, e := range c.Excludes {
		if err := add(&r.excludeOr, "exclude or", e.Key, e.Pattern, true); err != nil {
			return r, err
		}
	}
	for _, group := range []struct {
		name       string
		conds      []GrepCondition
		re, ex     *[]grepExpr
		reKi, exKi string
	}{
		{"<and>", c.And, &r.regexpAnd, &r.excludeAnd, "regexp and", "exclude and"},
		{"<or>", c.Or, &r.regexpOr, &r.excludeOr, "regexp or", "exclude or"},
	} {
		for _, cond := range group.conds {
			if len(cond.Regexps) > 0 && len(cond.Excludes) > 0 {
				return r, fmt.Errorf("'%s' must not hold both <regexp> and <exclude>", group.name)
			}
			for _, e := range cond.Regexps {
				if err := add(group.re, group.reKi, e.Key, e.Pattern, true); err != nil {
					return r, err
				}
			}
			for _, e := range cond.Excludes {
				if err := add(group.ex, group.exKi, e.Key, e.Pattern, true); err != nil {
					return r, err
				}
			}
		}
	}
	return r, nil
}

func legacyIndex(name string) (int, bool) {
	for _, p := range []string{"regexp", "exclude"} {
		if rest, ok := strings.CutPrefix(name, p); ok {
			n, err := strconv.Atoi(rest)
			return n, err == nil && rest[0] != '0' && rest[0] != '+'
		}
	}
	return 0, false
}

// compileRubyRegexp compiles a Fluentd regexp parameter with Go's RE2. With
// slashes, "/RE/flags" is unwrapped (flags i and m, as Ruby's). ^ and $ match
// at line boundaries as in Ruby.
func compileRubyRegexp(s string, slashes bool) (*regexp.Regexp, error) {
	flags := "m"
	if slashes && len(s) >= 2 && s[0] == '/' {
		if end := strings.LastIndexByte(s, '/'); end > 0 {
			opts := s[end+1:]
			if strings.Trim(opts, "imx") == "" {
				for _, o := range opts {
					switch o {
					case 'i':
						flags += "i"
					case 'm':
						flags += "s" // Ruby's /m: the dot matches a newline
					case 'x':
						return nil, fmt.Errorf("the x (extended) option is not supported")
					}
				}
				s = s[1:end]
			}
		}
	}
	if _, err := regexp.Compile(s); err != nil { // the error quotes the user's expression
		return nil, err
	}
	return regexp.Compile("(?" + flags + ")" + s)
}

// Grep is filter_grep: it keeps the records whose fields match the
// <regexp>s and none of the <exclude>s.
type Grep struct {
	rules   grepRules
	dropped atomic.Int64 // records filtered out
}

var _ Filter = (*Grep)(nil)

// NewGrep builds the filter; cfg is validated.
func NewGrep(cfg GrepConfig) (*Grep, error) {
	rules, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	return &Grep{rules: rules}, nil
}

// Filter appends the entries that pass to dst.
func (g *Grep) Filter(tag string, entries []byte, dst []byte) ([]byte, error) {
	var scratch [256]byte
	var dropped int64
	for len(entries) > 0 {
		e, rest, err := event.Next(entries)
		if err != nil {
			return dst, err
		}
		whole := entries[:len(entries)-len(rest)]
		entries = rest
		if g.keep(e.Record, scratch[:0]) {
			dst = append(dst, whole...)
		} else {
			dropped++
		}
	}
	if dropped > 0 {
		g.dropped.Add(dropped)
	}
	return dst, nil
}

// Dropped is the number of records the filter dropped.
func (g *Grep) Dropped() int64 { return g.dropped.Load() }

func (g *Grep) keep(record, scratch []byte) bool {
	match := func(e grepExpr) bool {
		text, _ := e.acc.AppendText(scratch[:0], record) // missing: ""
		return e.re.Match(text)
	}
	r := &g.rules
	for _, e := range r.regexpAnd {
		if !match(e) {
			return false
		}
	}
	if len(r.regexpOr) > 0 {
		any := false
		for _, e := range r.regexpOr {
			if match(e) {
				any = true
				break
			}
		}
		if !any {
			return false
		}
	}
	if len(r.excludeAnd) > 0 {
		all := true
		for _, e := range r.excludeAnd {
			if !match(e) {
				all = false
				break
			}
		}
		if all {
			return false
		}
	}
	for _, e := range r.excludeOr {
		if match(e) {
			return false
		}
	}
	return true
}
