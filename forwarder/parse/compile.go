package parse

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/barge-dev/barge/output/strftime"
)

// compiled is a validated config, ready for New.
type compiled struct {
	cfg      *Config
	s        settings
	loc      *time.Location // nil: the local zone (Options.Location)
	time     *TimeParser
	null     *regexp.Regexp
	types    *Types
	re       *regexp.Regexp // regexp, nginx, multiline
	first    *regexp.Regexp // multiline's format_firstline
	delimRe  *regexp.Regexp // ltsv's delimiter_pattern
	delim    string
	delimB   []byte
	labelB   []byte
	keyBytes [][]byte
	sub      *compiled // cri's nested <parse>
	syslog   *syslogRegexps
}

func compile(c *Config) (*compiled, error) {
	k := &compiled{cfg: c}
	switch {
	case c.Type == "":
		return nil, fmt.Errorf("'@type' is required in <parse> (%s)", strings.Join(typeNames, ", "))
	case !slices.Contains(typeNames, c.Type):
		return nil, fmt.Errorf("'@type' %q is not a parser barge has (%s)", c.Type, strings.Join(typeNames, ", "))
	}
	var err error
	if k.s, err = c.resolve(); err != nil {
		return nil, err
	}
	// the zone is given to each parse: the Parser's, Options.Location
	// when the section names none
	tc := TimeConfig{Type: k.s.timeType, Format: k.s.timeFormat, Fallbacks: c.TimeFormatFallbacks}
	if k.time, err = NewTimeParser(tc); err != nil {
		return nil, err
	}
	if c.Timezone != "" {
		if k.loc, err = strftime.ParseTimezone(c.Timezone); err != nil {
			return nil, fmt.Errorf("'timezone' %w", err)
		}
	} else if c.UTC || !c.Localtime {
		k.loc = time.UTC
	}
	if c.NullValuePattern != "" {
		if k.null, err = regexp.Compile(c.NullValuePattern); err != nil {
			return nil, fmt.Errorf("'null_value_pattern': %w", err)
		}
	}
	if k.types, err = NewTypes(c.Types, nil); err != nil {
		return nil, err
	}
	if err := k.compileType(); err != nil {
		return nil, err
	}
	if c.Parse != nil && c.Type != "cri" {
		return nil, fmt.Errorf("a nested <parse> is only for @type cri, not %s", c.Type)
	}
	return k, nil
}

// compileType checks and compiles the parameters of c's type.
func (k *compiled) compileType() error {
	c := k.cfg
	var err error
	switch c.Type {
	case "none":
		if c.MessageKey == "" {
			return errors.New("'message_key' must not be empty")
		}
	case "regexp":
		if c.Expression == "" {
			return errors.New("'expression' is required for @type regexp")
		}
		if k.re, err = compileRubyRegexp(c.Expression); err != nil {
			return fmt.Errorf("'expression': %w", err)
		}
	case "nginx":
		expr := c.Expression
		if expr == "" {
			expr = nginxExpression
		}
		if k.re, err = compileRubyRegexp(expr); err != nil {
			return fmt.Errorf("'expression': %w", err)
		}
	case "ltsv":
		k.delim = orDefault(c.Delimiter, "\t")
		if c.DelimiterPattern != "" {
			if k.delimRe, err = compileRubyRegexp(c.DelimiterPattern); err != nil {
				return fmt.Errorf("'delimiter_pattern': %w", err)
			}
		}
		if c.LabelDelimiter == "" {
			return errors.New("'label_delimiter' must not be empty")
		}
		k.labelB = []byte(c.LabelDelimiter)
	case "csv", "tsv":
		if len(c.Keys) == 0 {
			return fmt.Errorf("'keys' is required for @type %s", c.Type)
		}
		k.delim = orDefault(c.Delimiter, map[string]string{"csv": ",", "tsv": "\t"}[c.Type])
		k.delimB = []byte(k.delim)
		for _, key := range c.Keys {
			k.keyBytes = append(k.keyBytes, []byte(key))
		}
		if c.Type == "csv" {
			for _, v := range []struct{ key, val string }{{"parser_engine", c.ParserEngine}, {"parser_type", c.ParserType}} {
				if v.val != "" && v.val != "normal" && v.val != "fast" {
					return fmt.Errorf("'%s' must be one of normal, fast, got %q", v.key, v.val)
				}
			}
		}
	case "syslog":
		switch c.MessageFormat {
		case "rfc3164", "rfc5424", "auto":
		default:
			return fmt.Errorf("'message_format' must be one of rfc3164, rfc5424, auto, got %q", c.MessageFormat)
		}
		if c.ParserType != "" && c.ParserType != "regexp" && c.ParserType != "string" {
			return fmt.Errorf("'parser_type' must be one of regexp, string, got %q", c.ParserType)
		}
		return k.compileSyslog()
	case "multiline":
		return k.compileMultiline()
	case "cri":
		if c.Parse != nil {
			switch c.Parse.Type {
			case "multiline", "cri", "docker":
				return fmt.Errorf("the nested <parse> of cri cannot be @type %s", c.Parse.Type)
			}
			if k.sub, err = compile(c.Parse); err != nil {
				return fmt.Errorf("<parse>: %w", err)
			}
		}
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// location returns the zone of times without one.
func (k *compiled) location(local *time.Location) *time.Location {
	switch {
	case k.loc != nil:
		return k.loc
	case local != nil:
		return local
	}
	return time.Local
}

// compileRubyRegexp compiles a Fluentd regexp parameter: "/RE/" with up to
// two option letters (i: ignore case, m: the dot matches a newline; others
// are ignored, as in Fluentd), or a bare pattern. ^ and $ match at line
// boundaries, as in Ruby.
func compileRubyRegexp(s string) (*regexp.Regexp, error) {
	flags := "m"
	if strings.HasPrefix(s, "/") {
		end := strings.LastIndexByte(s, '/')
		if end == 0 || end < len(s)-3 {
			return nil, fmt.Errorf("%q is missing its closing slash", s)
		}
		if strings.Contains(s[end+1:], "i") {
			flags += "i"
		}
		if strings.Contains(s[end+1:], "m") {
			flags += "s"
		}
		s = s[1:end]
	}
	if _, err := regexp.Compile(s); err != nil { // the error quotes the user's expression
		return nil, err
	}
	return regexp.Compile("(?" + flags + ")" + s)
}
