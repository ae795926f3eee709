package parse

import (
	"fmt"
	"slices"
	"time"
	_ "time/tzdata" // timezone names work in minimal images too
)

// typeNames are the parser types barge has, in the order errors list them.
var typeNames = []string{"none", "json", "regexp", "ltsv", "csv", "tsv", "apache2", "nginx", "syslog", "multiline", "cri", "docker"}

// TypeNames returns the parser types barge has.
func TypeNames() []string { return slices.Clone(typeNames) }

// Config is the <parse> section: Fluentd's parser plugins' parameters.
// A parameter left "" takes the default of its @type, as Fluentd's
// config_set_default does (json's time_key is "time", csv's is none), so
// the defaults below are those of every type; the fields say where a type
// differs.
type Config struct {
	// Type is one of TypeNames().
	Type string `conf:"@type"`

	// TimeKey is the field holding the event time. "" is the type's
	// default: "time" for json, ltsv, regexp, nginx, multiline, cri and
	// docker; none for csv and tsv. apache2 and syslog take their time from
	// their own pattern; none has no time.
	TimeKey string `conf:"time_key"`
	// TimeType is string (parsed with TimeFormat), unixtime (integer
	// seconds), float (seconds with a fraction) or mixed (TimeFormat, then
	// each of TimeFormatFallbacks in turn). "" is the type's default: float
	// for json without a time_format, string otherwise.
	TimeType string `conf:"time_type"`
	// TimeFormat is a strptime format (%Y %m %d %H %M %S %L %N %z %b %s
	// ...; see strptime.go), or %iso8601. "" is the type's default
	// (nginx "%d/%b/%Y:%H:%M:%S %z", syslog "%b %d %H:%M:%S", cri and
	// docker %iso8601, RFC 3339 with an optional fraction), else a lenient
	// parse of common forms, as Ruby's Time.parse.
	TimeFormat string `conf:"time_format"`
	// TimeFormatFallbacks are the formats time_type mixed tries after
	// TimeFormat; "unixtime" and "float" try a number.
	TimeFormatFallbacks []string `conf:"time_format_fallbacks"`
	// KeepTimeKey keeps the time field in the record: "true" or "false"
	// (also yes/no); "" is the type's default, true for cri, else false.
	KeepTimeKey string `conf:"keep_time_key"`
	// EstimateCurrentEvent gives a record without a time field the current
	// time. When false, such a record is an unmatched line, as in Fluentd.
	EstimateCurrentEvent bool `conf:"estimate_current_event" default:"true"`
	// NullValuePattern turns string values it matches into nil.
	NullValuePattern string `conf:"null_value_pattern"`
	// NullEmptyString turns empty string values into nil.
	NullEmptyString bool `conf:"null_empty_string"`
	// Types converts fields: "key:integer", "key:float", "key:bool",
	// "key:string", "key:array[:DELIMITER]", "key:time[:TIMEZONE][:FORMAT]"
	// (FORMAT may be unixtime or float).
	Types map[string]string `conf:"types"`
	// Localtime parses times without a zone in the local zone (Fluentd's
	// default); UTC (or Localtime false) in UTC. Timezone wins over both.
	Localtime bool `conf:"localtime" default:"true"`
	UTC       bool `conf:"utc"`
	// Timezone is "+09:00", "-0700", "UTC" or a name such as "Asia/Tokyo".
	Timezone string `conf:"timezone"`
	// Timeout is accepted for compatibility: Go's regular expressions run
	// in time linear in the line, so no line can stall a parser.
	Timeout time.Duration `conf:"timeout"`

	// MessageKey is the field none puts the line in.
	MessageKey string `conf:"message_key" default:"message"`

	// Expression is regexp's pattern: "/RE/" with optional i and m flags,
	// or a bare pattern. Named groups are written (?<name>...) as in Ruby.
	Expression string `conf:"expression"`
	// Ignorecase and Multiline are Fluentd's deprecated regexp options;
	// as in Fluentd they have no effect (write /RE/im).
	Ignorecase bool `conf:"ignorecase"`
	Multiline  bool `conf:"multiline"`

	// Delimiter separates fields: "" is the type's default, "\t" for ltsv
	// and tsv, "," for csv. A single space splits on runs of white space,
	// as Ruby's String#split.
	Delimiter string `conf:"delimiter"`
	// DelimiterPattern (ltsv) is a regexp splitting fields, instead of
	// Delimiter.
	DelimiterPattern string `conf:"delimiter_pattern"`
	// LabelDelimiter separates an ltsv label from its value.
	LabelDelimiter string `conf:"label_delimiter" default:":"`
	// Keys names the csv and tsv columns, in order.
	Keys []string `conf:"keys"`
	// ParserEngine is csv's normal or fast; both parse as normal does.
	ParserEngine string `conf:"parser_engine"`
	// ParserType is syslog's regexp or string (both parse with Fluentd's
	// regexps), or csv's older name for parser_engine.
	ParserType string `conf:"parser_type"`

	// MessageFormat is syslog's rfc3164, rfc5424 or auto.
	MessageFormat string `conf:"message_format" default:"rfc3164"`
	// WithPriority expects syslog lines to start with "<PRI>".
	WithPriority bool `conf:"with_priority"`
	// RFC5424TimeFormat is the time format of rfc5424 lines.
	RFC5424TimeFormat string `conf:"rfc5424_time_format" default:"%Y-%m-%dT%H:%M:%S.%L%z"`
	// SupportColonlessIdent is accepted for compatibility (parser_type string).
	SupportColonlessIdent bool `conf:"support_colonless_ident" default:"true"`

	// FormatFirstline is multiline's "/RE/" matching the first line of a
	// record. Without it, lines are joined until the joined text matches.
	FormatFirstline string `conf:"format_firstline"`
	// Formats are multiline's format1 ... format20.
	Formats
	// MultilineFlushInterval is how long the tailer waits before it calls
	// Flush on a held record (multiline, and partial cri and docker lines).
	// Fluentd has it on <source @type tail>; barge takes it here too, and
	// the tailer passes the <source> value when this one is 0. 0: never.
	MultilineFlushInterval time.Duration `conf:"multiline_flush_interval"`

	// MergeCRIFields adds cri's stream and logtag to the record of a
	// nested <parse>.
	MergeCRIFields bool `conf:"merge_cri_fields" default:"true"`
	// Parse (cri only) parses the message; its record replaces message.
	Parse *Config `conf:"<parse>"`

	// JSONParser (oj, yajl, json) and StreamBufferSize are accepted for
	// compatibility; barge has one JSON parser.
	JSONParser       string `conf:"json_parser"`
	StreamBufferSize int    `conf:"stream_buffer_size"`
}

// Formats are multiline's format1 ... format20 parameters, each "/RE/".
type Formats struct {
	Format1  string `conf:"format1"`
	Format2  string `conf:"format2"`
	Format3  string `conf:"format3"`
	Format4  string `conf:"format4"`
	Format5  string `conf:"format5"`
	Format6  string `conf:"format6"`
	Format7  string `conf:"format7"`
	Format8  string `conf:"format8"`
	Format9  string `conf:"format9"`
	Format10 string `conf:"format10"`
	Format11 string `conf:"format11"`
	Format12 string `conf:"format12"`
	Format13 string `conf:"format13"`
	Format14 string `conf:"format14"`
	Format15 string `conf:"format15"`
	Format16 string `conf:"format16"`
	Format17 string `conf:"format17"`
	Format18 string `conf:"format18"`
	Format19 string `conf:"format19"`
	Format20 string `conf:"format20"`
}

// list returns format1 ... format20 in order.
func (f *Formats) list() []string {
	return []string{f.Format1, f.Format2, f.Format3, f.Format4, f.Format5, f.Format6, f.Format7,
		f.Format8, f.Format9, f.Format10, f.Format11, f.Format12, f.Format13, f.Format14,
		f.Format15, f.Format16, f.Format17, f.Format18, f.Format19, f.Format20}
}

// DefaultConfig returns Fluentd's defaults (the type's own are applied by
// New for the parameters left "").
func DefaultConfig() Config {
	return Config{
		EstimateCurrentEvent:  true,
		Localtime:             true,
		MessageKey:            "message",
		LabelDelimiter:        ":",
		MessageFormat:         "rfc3164",
		RFC5424TimeFormat:     "%Y-%m-%dT%H:%M:%S.%L%z",
		SupportColonlessIdent: true,
		MergeCRIFields:        true,
	}
}

// FlushInterval is multiline_flush_interval: how long after the last line
// the tailer calls Flush while Held() > 0. 0 means only at rotation or end.
func (c *Config) FlushInterval() time.Duration { return c.MultilineFlushInterval }

// Validate checks the section; New compiles it.
func (c *Config) Validate() error {
	_, err := compile(c)
	return err
}

// settings are the parameters after the type's defaults are applied.
type settings struct {
	timeKey    string
	timeType   string
	timeFormat string
	keepTime   bool
}

// resolve applies the type's defaults to the parameters left "".
func (c *Config) resolve() (settings, error) {
	s := settings{timeKey: c.TimeKey, timeType: c.TimeType, timeFormat: c.TimeFormat}
	if s.timeKey == "" {
		switch c.Type {
		case "json", "ltsv", "regexp", "nginx", "multiline", "cri", "docker":
			s.timeKey = "time"
		}
	}
	if s.timeFormat == "" {
		switch c.Type {
		case "nginx", "apache2":
			s.timeFormat = "%d/%b/%Y:%H:%M:%S %z"
		case "syslog":
			s.timeFormat = "%b %d %H:%M:%S"
		case "cri", "docker":
			// RFC 3339 with or without a fraction: Fluentd's cri default,
			// %Y-%m-%dT%H:%M:%S.%L%z, fails on the times of the runtimes
			// whose nanoseconds are 0 (Go's RFC3339Nano drops the fraction)
			s.timeFormat = "%iso8601"
		}
	}
	if s.timeType == "" {
		s.timeType = "string"
		if c.Type == "json" && c.TimeFormat == "" {
			s.timeType = "float"
		}
	}
	switch c.KeepTimeKey {
	case "":
		s.keepTime = c.Type == "cri"
	case "true", "yes":
		s.keepTime = true
	case "false", "no":
	default:
		return s, fmt.Errorf("'keep_time_key' must be true or false, got %q", c.KeepTimeKey)
	}
	return s, nil
}
