package format

import (
	"errors"
	"fmt"
	"time"

	"github.com/barge-dev/barge/output/strftime"
)

// Config is the <format> section: how each record becomes bytes.
type Config struct {
	// Type is json (one object per line), ltsv, msgpack (the bare records,
	// concatenated), single_value (one field's value per line), stdout
	// (Fluentd's out_stdout line: "TIME TAG: JSON") or out_file (Fluentd's
	// out_file line: "TIME<delimiter>TAG<delimiter>JSON").
	Type string `conf:"@type" enum:"json,ltsv,msgpack,single_value,stdout,out_file"`
	// Delimiter separates the fields of an ltsv or out_file line; out_file
	// also takes Fluentd's names SPACE, COMMA and TAB.
	Delimiter string `conf:"delimiter"`
	// OutputTag and OutputTime: out_file writes the tag and the time.
	OutputTag  bool `conf:"output_tag"`
	OutputTime bool `conf:"output_time"`
	// TimeFormat is out_file's time layout (strftime; Fluentd's default is
	// ISO 8601 with the zone). Localtime, UTC and Timezone choose the zone
	// of the times out_file and stdout write (local by default, as
	// Fluentd's formatters).
	TimeFormat string `conf:"time_format"`
	Localtime  bool   `conf:"localtime"`
	UTC        bool   `conf:"utc"`
	Timezone   string `conf:"timezone"`
	// LabelDelimiter separates an ltsv label from its value.
	LabelDelimiter string `conf:"label_delimiter"`
	// Replacement replaces the delimiters inside ltsv labels and values.
	Replacement string `conf:"replacement"`
	// MessageKey is the field single_value writes.
	MessageKey string `conf:"message_key"`
	// AddNewline ends each json, ltsv and single_value record with "\n".
	AddNewline bool `conf:"add_newline"`
	// KeyStyle is as_is (keys are written as they are) or bigquery: the
	// keys of records, of the maps nested in them and the injected keys are
	// rewritten to BigQuery column names (see bqschema.Name) and made unique
	// within each map, case-insensitively. It applies to json, ltsv,
	// msgpack and stdout; single_value writes no keys.
	KeyStyle string `conf:"key_style" enum:"as_is,bigquery"`
}

// DefaultConfig returns Fluentd's defaults: json, ltsv with "\t" and
// ":", single_value of "message", a newline after each record, keys as
// they are.
func DefaultConfig() Config {
	return Config{
		Type:           "json",
		Delimiter:      "\t",
		LabelDelimiter: ":",
		Replacement:    " ",
		MessageKey:     "message",
		AddNewline:     true,
		KeyStyle:       KeyStyleAsIs,
		OutputTag:      true,
		OutputTime:     true,
		Localtime:      true,
	}
}

// Validate checks the format section.
func (c *Config) Validate() error {
	switch c.Type {
	case "json", "ltsv", "msgpack", "single_value", "stdout", "out_file":
	case "":
		return errors.New("'@type' is required in <format> (json, ltsv, msgpack, single_value, stdout, out_file)")
	default:
		return fmt.Errorf("'@type' %q is not a format barge has (json, ltsv, msgpack, single_value, stdout, out_file)", c.Type)
	}
	if c.Type == "out_file" && c.Delimiter == "" {
		return errors.New("'delimiter' must not be empty")
	}
	if c.Timezone != "" {
		if _, err := strftime.ParseTimezone(c.Timezone); err != nil {
			return fmt.Errorf("'timezone' %w", err)
		}
	}
	if c.Type == "ltsv" {
		if c.Delimiter == "" {
			return errors.New("'delimiter' must not be empty")
		}
		if c.LabelDelimiter == "" {
			return errors.New("'label_delimiter' must not be empty")
		}
	}
	if c.Type == "single_value" && c.MessageKey == "" {
		return errors.New("'message_key' must not be empty")
	}
	switch c.KeyStyle {
	case "", KeyStyleAsIs, KeyStyleBigQuery:
	default:
		return fmt.Errorf("'key_style' %q is not one of as_is, bigquery", c.KeyStyle)
	}
	return nil
}

// InjectConfig is the <inject> section: fields added to each record.
type InjectConfig struct {
	// HostnameKey names the field that gets Hostname.
	HostnameKey string `conf:"hostname_key"`
	// Hostname is the injected host name; empty means the machine's.
	Hostname string `conf:"hostname"`
	// TagKey names the field that gets the tag.
	TagKey string `conf:"tag_key"`
	// TimeKey names the field that gets the event time.
	TimeKey string `conf:"time_key"`
	// TimeType is float (seconds, Fluentd's default), unixtime (integer
	// seconds), unixtime_millis, unixtime_micros, unixtime_nanos or string
	// (formatted with TimeFormat).
	TimeType string `conf:"time_type" enum:"float,unixtime,unixtime_millis,unixtime_micros,unixtime_nanos,string"`
	// TimeFormat is a Ruby strftime format (with %L, %N, %3N... for
	// fractions) for time_type string; empty means %Y-%m-%dT%H:%M:%S%z.
	TimeFormat string `conf:"time_format"`
	// Localtime formats string times in the local zone (Fluentd's default);
	// UTC or Localtime false format them in UTC. Timezone wins over both.
	Localtime bool `conf:"localtime"`
	UTC       bool `conf:"utc"`
	// Timezone is "+09:00", "-0700", "UTC" or a name like "Asia/Tokyo".
	Timezone string `conf:"timezone"`
}

// DefaultTimeFormat is the format of injected string times without time_format.
const DefaultTimeFormat = "%Y-%m-%dT%H:%M:%S%z"

// DefaultInjectConfig returns Fluentd's defaults: nothing injected, float
// times, local time.
func DefaultInjectConfig() InjectConfig {
	return InjectConfig{TimeType: "float", Localtime: true}
}

// Enabled reports whether anything is injected.
func (c *InjectConfig) Enabled() bool {
	return c.HostnameKey != "" || c.TagKey != "" || c.TimeKey != ""
}

// Validate checks the inject section.
func (c *InjectConfig) Validate() error {
	switch c.TimeType {
	case "", "float", "unixtime", "unixtime_millis", "unixtime_micros", "unixtime_nanos", "string":
	default:
		return fmt.Errorf("'time_type' %q is not one of float, unixtime, unixtime_millis, unixtime_micros, unixtime_nanos, string", c.TimeType)
	}
	// time_format without time_type string has no effect, as in Fluentd
	// (cmd/barge says so in an info line).
	if c.Timezone != "" {
		if _, err := strftime.ParseTimezone(c.Timezone); err != nil {
			return fmt.Errorf("'timezone' %w", err)
		}
	}
	keys := map[string]string{}
	for _, k := range [][2]string{{"hostname_key", c.HostnameKey}, {"tag_key", c.TagKey}, {"time_key", c.TimeKey}} {
		if k[1] == "" {
			continue
		}
		if other, ok := keys[k[1]]; ok {
			return fmt.Errorf("'%s' %q is also the '%s'", k[0], k[1], other)
		}
		keys[k[1]] = k[0]
	}
	return nil
}

// location returns the zone the format writes times in (stdout, out_file):
// timezone, else UTC with utc or localtime false, else local (nil:
// time.Local).
func (c *Config) location(local *time.Location) *time.Location {
	return zoneOf(c.Timezone, c.UTC, c.Localtime, local)
}

// outFileDelimiter is out_file's delimiter, Fluentd's names resolved.
func (c *Config) outFileDelimiter() string {
	switch c.Delimiter {
	case "SPACE", "space":
		return " "
	case "COMMA", "comma":
		return ","
	case "TAB", "tab":
		return "\t"
	}
	return c.Delimiter
}

// Location returns the zone string times are formatted in; local is what
// "local time" means (nil: time.Local).
func (c *InjectConfig) Location(local *time.Location) *time.Location {
	return zoneOf(c.Timezone, c.UTC, c.Localtime, local)
}

// zoneOf is Fluentd's choice of zone for formatted times: timezone when
// valid, else UTC with utc or without localtime, else local (nil:
// time.Local).
func zoneOf(timezone string, utc, localtime bool, local *time.Location) *time.Location {
	if timezone != "" {
		if loc, err := strftime.ParseTimezone(timezone); err == nil {
			return loc
		}
	}
	if utc || !localtime {
		return time.UTC
	}
	if local == nil {
		return time.Local
	}
	return local
}

// ValidateCompress checks a 'compress' value: gzip, zstd, none (or text,
// Fluentd's name for none).
func ValidateCompress(s string) error {
	switch s {
	case "gzip", "zstd", "none", "text":
		return nil
	}
	return fmt.Errorf("'compress' %q is not one of gzip, zstd, none", s)
}
