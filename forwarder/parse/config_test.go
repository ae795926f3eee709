package parse

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		typ  string
		edit func(*Config)
		err  string // a prefix of the error; "" for none
	}{
		{"no type", "", nil, "'@type' is required in <parse> (none, json, regexp"},
		{"unknown type", "grok", nil, `'@type' "grok" is not a parser barge has (none, json`},
		{"none", "none", nil, ""},
		{"regexp without expression", "regexp", nil, "'expression' is required for @type regexp"},
		{"regexp bad", "regexp", func(c *Config) { c.Expression = "/(?<a>/" }, "'expression': error parsing regexp"},
		{"regexp no closing slash", "regexp", func(c *Config) { c.Expression = "/abc/xyzw" }, "'expression': \"/abc/xyzw\" is missing its closing slash"},
		{"regexp look-behind", "regexp", func(c *Config) { c.Expression = `(?<!x)y` }, "'expression': error parsing regexp"},
		{"time_type", "json", func(c *Config) { c.TimeType = "epoch" }, "'time_type' must be one of string, unixtime, float, mixed"},
		{"mixed without fallbacks", "json", func(c *Config) { c.TimeType = "mixed" }, "'time_format_fallbacks' is required"},
		{"bad time_format", "json", func(c *Config) { c.TimeFormat = "%Y %Q %E" }, "'time_format' \"%Y %Q %E\" has the directive %E"},
		{"bad timezone", "json", func(c *Config) { c.Timezone = "Mars/Base" }, `'timezone' "Mars/Base" is not a known time zone`},
		{"keep_time_key", "json", func(c *Config) { c.KeepTimeKey = "maybe" }, `'keep_time_key' must be true or false, got "maybe"`},
		{"null_value_pattern", "json", func(c *Config) { c.NullValuePattern = "(" }, "'null_value_pattern': error parsing regexp"},
		{"types", "json", func(c *Config) { c.Types = map[string]string{"a": "int"} }, `'types' a: unknown type "int"`},
		{"types time", "json", func(c *Config) { c.Types = map[string]string{"a": "time:%Y:%K"} }, `'types' a: "%Y:%K" has the directive %K`},
		{"csv keys", "csv", nil, "'keys' is required for @type csv"},
		{"csv parser_engine", "csv", func(c *Config) { c.Keys = []string{"a"}; c.ParserEngine = "turbo" }, "'parser_engine' must be one of normal, fast"},
		{"tsv keys", "tsv", nil, "'keys' is required for @type tsv"},
		{"ltsv label_delimiter", "ltsv", func(c *Config) { c.LabelDelimiter = "" }, "'label_delimiter' must not be empty"},
		{"ltsv delimiter_pattern", "ltsv", func(c *Config) { c.DelimiterPattern = "/[/" }, "'delimiter_pattern': error parsing regexp"},
		{"syslog message_format", "syslog", func(c *Config) { c.MessageFormat = "rfc9999" }, "'message_format' must be one of rfc3164, rfc5424, auto"},
		{"syslog parser_type", "syslog", func(c *Config) { c.ParserType = "fast" }, "'parser_type' must be one of regexp, string"},
		{"syslog rfc5424_time_format", "syslog", func(c *Config) { c.RFC5424TimeFormat = "%Q%E" }, "'rfc5424_time_format' \"%Q%E\" has the directive %E"},
		{"multiline without format1", "multiline", nil, "'format1' is required for @type multiline"},
		{"multiline gap", "multiline", func(c *Config) { c.Format1 = "/(?<a>a)/"; c.Format3 = "/b/" }, "'format3' is set but 'format2' is missing"},
		{"multiline slashes", "multiline", func(c *Config) { c.Format1 = "(?<a>a)" }, "'format1' must be a regexp between slashes"},
		{"multiline no group", "multiline", func(c *Config) { c.Format1 = "/a/" }, "'format1' and the other formats have no named group"},
		{"multiline firstline", "multiline", func(c *Config) { c.Format1 = "/(?<a>a)/"; c.FormatFirstline = "^a" }, "'format_firstline' must be a regexp between slashes"},
		{"multiline ok", "multiline", func(c *Config) { c.Format1 = "/(?<a>a)/"; c.Format2 = "/b/"; c.FormatFirstline = "/^a/" }, ""},
		{"nested parse elsewhere", "json", func(c *Config) { c.Parse = &Config{Type: "none"} }, "a nested <parse> is only for @type cri"},
		{"cri nested multiline", "cri", func(c *Config) { c.Parse = &Config{Type: "multiline"} }, "the nested <parse> of cri cannot be @type multiline"},
		{"cri nested bad", "cri", func(c *Config) { c.Parse = &Config{Type: "regexp"} }, "<parse>: 'expression' is required"},
		{"cri", "cri", nil, ""},
		{"docker", "docker", nil, ""},
		{"apache2", "apache2", nil, ""},
		{"nginx", "nginx", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Type = c.typ
			if c.edit != nil {
				c.edit(&cfg)
			}
			err := cfg.Validate()
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case c.err != "" && (err == nil || !strings.HasPrefix(err.Error(), c.err)):
				t.Fatalf("Validate: %v, want %q...", err, c.err)
			}
			if _, nerr := New(cfg, Options{}); (nerr == nil) != (err == nil) {
				t.Fatalf("New: %v, Validate: %v", nerr, err)
			}
		})
	}
}

// TestDefaultTags checks that the default tags (which conf applies to a
// nested <parse> it allocates) are DefaultConfig's values.
func TestDefaultTags(t *testing.T) {
	def := reflect.ValueOf(DefaultConfig())
	typ := def.Type()
	for i := range typ.NumField() {
		sf := typ.Field(i)
		tag, has := sf.Tag.Lookup("default")
		v := def.Field(i)
		if !has {
			if !v.IsZero() {
				t.Errorf("%s is %v in DefaultConfig but has no default tag", sf.Name, v)
			}
			continue
		}
		var want any = tag
		if v.Kind() == reflect.Bool {
			want, _ = strconv.ParseBool(tag)
		}
		if v.Interface() != want {
			t.Errorf("%s: DefaultConfig %v, default tag %q", sf.Name, v, tag)
		}
	}
}

func TestFlushInterval(t *testing.T) {
	c := DefaultConfig()
	if c.FlushInterval() != 0 {
		t.Fatalf("default FlushInterval = %v", c.FlushInterval())
	}
	c.MultilineFlushInterval = 5 * time.Second
	if c.FlushInterval() != 5*time.Second {
		t.Fatalf("FlushInterval = %v", c.FlushInterval())
	}
}
