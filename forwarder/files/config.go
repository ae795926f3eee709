package files

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/forwarder/parse"
	"github.com/barge-dev/barge/output/strftime"
	"github.com/robfig/cron/v3"
	"github.com/theory/jsonpath"
)

// Config is the <source> section of @type files. Parameter names follow
// Fluentd's in_tail where the feature exists there (path, exclude_path,
// tag, pos_file, refresh_interval, path_key).
type Config struct {
	Type string `conf:"@type"`
	ID   string `conf:"@id"`
	// Path lists the globs of the files to ship (filepath.Match syntax, no
	// "**"), comma-separated.
	Path []string `conf:"path" required:"true"`
	// ExcludePath lists globs of files never shipped.
	ExcludePath []string `conf:"exclude_path"`
	// Tag is the tag of every record; its first "*" becomes the file's
	// path with "/" turned into "." (as in_tail).
	Tag     string `conf:"tag" required:"true"`
	PosFile string `conf:"pos_file" required:"true"`
	// PosFileFsync (barge extension) fsyncs every write of the pos_file,
	// so that it survives a power loss, not only a crash of barge (see
	// doc.go). Off by default, as the file buffer's fsync.
	PosFileFsync bool `conf:"pos_file_fsync"`
	// SettleTime is how long a file's size and mtime must be seen unchanged
	// before it is taken (0: at first sight).
	SettleTime time.Duration `conf:"settle_time"`
	// RefreshInterval is how often the globs are scanned when there is no
	// schedule (in_tail's default, 60s).
	RefreshInterval time.Duration `conf:"refresh_interval"`
	// Schedule is a cron expression (5 fields, @daily and the like, an
	// optional "CRON_TZ=Zone " prefix; local time otherwise): scans happen
	// only at these times (and, within a run, again as unsettled files
	// settle).
	Schedule string `conf:"schedule"`
	// PathKey, when set, adds the file's path to every record under this key.
	PathKey string `conf:"path_key"`
	// AfterTransfer is "keep", "delete" or "move_to DIR".
	AfterTransfer string `conf:"after_transfer"`
	// ErrorDir, when set, receives bad files.
	ErrorDir string `conf:"error_dir"`

	Parse ParseConfig `conf:"<parse>" required:"true"`
}

// ParseConfig is the <parse> section: how a file's bytes become records.
type ParseConfig struct {
	// Type is json (one document per file), ndjson (one object per line),
	// csv or tsv.
	Type string `conf:"@type" enum:"json,ndjson,csv,tsv"`
	// JSONPath (json only) is an RFC 9535 query; every array it selects
	// gives one record per element, every object one record. Default: the
	// document itself. A walk down from the root by names and indexes
	// ($.task, $.data.items, $['a b'].c) streams the document; other
	// queries hold it in memory (see doc.go).
	JSONPath string `conf:"json_path"`
	// Header (csv, tsv): the first row names the columns.
	Header bool `conf:"header"`
	// Columns names the columns when header is false, or overrides the
	// header's names.
	Columns []string `conf:"columns"`
	// Delimiter (csv, tsv) is one character; "\t" may be written as two
	// characters. Default "," for csv, a tab for tsv.
	Delimiter string `conf:"delimiter"`
	// Types converts top-level string values: "key:integer,key2:float"
	// with integer, float, bool, string, array[:DELIMITER] or
	// time[:TIMEZONE][:FORMAT], as the tailer's types (strictly: see
	// doc.go).
	Types map[string]string `conf:"types"`
	// TimeKey names the field holding the record's time (default: the
	// time the file's transfer started).
	TimeKey string `conf:"time_key"`
	// TimeType is how TimeKey's value is read, as in the tailer's <parse>:
	// string (with TimeFormat), unixtime, float, or mixed (TimeFormat,
	// then each of TimeFormatFallbacks). "" (the default): a string with
	// TimeFormat, or a number of seconds since the epoch.
	TimeType string `conf:"time_type" enum:"string,unixtime,float,mixed"`
	// TimeFormat is a strptime format for TimeKey's value, or %iso8601
	// (default: ISO 8601 and the common forms of log files).
	TimeFormat string `conf:"time_format"`
	// TimeFormatFallbacks are the formats time_type mixed tries after
	// TimeFormat ("unixtime" and "float" read a number).
	TimeFormatFallbacks []string `conf:"time_format_fallbacks"`
	// Timezone is the zone of times that carry none: "+09:00", "UTC",
	// "Asia/Tokyo"... (default: the local zone).
	Timezone string `conf:"timezone"`
	// KeepTimeKey keeps TimeKey's field in the record (Fluentd's default:
	// false).
	KeepTimeKey bool `conf:"keep_time_key"`
	// MaxLineSize bounds one ndjson line or one csv/tsv row (default 16m).
	MaxLineSize int64 `conf:"max_line_size,size"`
	// MaxDocumentSize bounds a json document (default 64m). A streamed
	// document is never held, only its records one at a time; one whose
	// json_path cannot be streamed is held in memory, decoded, while it
	// is shipped (see doc.go).
	MaxDocumentSize int64 `conf:"max_document_size,size"`
}

// DefaultConfig returns the defaults of @type files.
func DefaultConfig() Config {
	return Config{
		Type:            "files",
		SettleTime:      5 * time.Second,
		RefreshInterval: 60 * time.Second,
		AfterTransfer:   "keep",
		Parse:           DefaultParseConfig(),
	}
}

// DefaultParseConfig returns the defaults of <parse>.
func DefaultParseConfig() ParseConfig {
	return ParseConfig{
		Type:            "json",
		Header:          true,
		MaxLineSize:     16 << 20,
		MaxDocumentSize: 64 << 20,
	}
}

// Validate checks cross-field rules. Messages start with the quoted key.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Path) == 0 {
		errs = append(errs, errors.New("'path' is required"))
	}
	for _, p := range c.Path {
		if err := checkGlob(p); err != nil {
			errs = append(errs, fmt.Errorf("'path' %q: %w", p, err))
		}
	}
	for _, p := range c.ExcludePath {
		if err := checkGlob(p); err != nil {
			errs = append(errs, fmt.Errorf("'exclude_path' %q: %w", p, err))
		}
	}
	switch {
	case c.Tag == "":
		errs = append(errs, errors.New("'tag' is required"))
	case strings.Count(c.Tag, "*") > 1:
		errs = append(errs, fmt.Errorf("'tag' %q may hold one '*' at most", c.Tag))
	default:
		if err := event.CheckTag(strings.Replace(c.Tag, "*", "x", 1)); err != nil {
			errs = append(errs, fmt.Errorf("'tag' %q: %w", c.Tag, err))
		}
	}
	if c.PosFile == "" {
		errs = append(errs, errors.New("'pos_file' is required"))
	}
	if c.SettleTime < 0 {
		errs = append(errs, errors.New("'settle_time' must not be negative"))
	}
	if c.RefreshInterval <= 0 {
		errs = append(errs, errors.New("'refresh_interval' must be positive"))
	}
	if c.Schedule != "" {
		if _, err := cron.ParseStandard(c.Schedule); err != nil {
			errs = append(errs, fmt.Errorf("'schedule' %q: %w", c.Schedule, err))
		}
	}
	if _, err := parseAfterTransfer(c.AfterTransfer); err != nil {
		errs = append(errs, err)
	}
	if err := c.Parse.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func checkGlob(p string) error {
	if p == "" {
		return errors.New("empty glob")
	}
	if strings.Contains(p, "**") {
		return errors.New(`"**" is not supported`)
	}
	_, err := filepath.Match(p, "")
	return err
}

// validate checks <parse>; its messages start with the quoted key.
func (p *ParseConfig) validate() error {
	var errs []error
	switch p.Type {
	case "json", "ndjson", "csv", "tsv":
	default:
		errs = append(errs, fmt.Errorf("'@type' must be one of json, ndjson, csv, tsv, got %q", p.Type))
	}
	if p.JSONPath != "" {
		if p.Type != "json" {
			errs = append(errs, fmt.Errorf("'json_path' applies to @type json only, not %s", p.Type))
		} else if _, err := jsonpath.Parse(p.JSONPath); err != nil {
			errs = append(errs, fmt.Errorf("'json_path' %q: %w", p.JSONPath, err))
		}
	}
	tabular := p.Type == "csv" || p.Type == "tsv"
	if !tabular && (len(p.Columns) > 0 || p.Delimiter != "") {
		errs = append(errs, fmt.Errorf("'columns' and 'delimiter' apply to csv and tsv only, not %s", p.Type))
	}
	if tabular && !p.Header && len(p.Columns) == 0 {
		errs = append(errs, errors.New("'columns' is required when header is false"))
	}
	seen := map[string]bool{}
	for _, c := range p.Columns {
		if seen[c] {
			errs = append(errs, fmt.Errorf("'columns' names %q twice", c))
		}
		seen[c] = true
	}
	if p.Delimiter != "" {
		if _, err := delimiter(p.Delimiter); err != nil {
			errs = append(errs, err)
		}
	}
	for _, k := range []struct{ key, val string }{{"time_type", p.TimeType}, {"time_format", p.TimeFormat}} {
		if k.val != "" && p.TimeKey == "" {
			errs = append(errs, fmt.Errorf("'%s' needs time_key", k.key))
		}
	}
	if len(p.TimeFormatFallbacks) > 0 && p.TimeType != "mixed" {
		errs = append(errs, errors.New("'time_format_fallbacks' needs time_type mixed"))
	}
	if loc, err := p.location(); err != nil {
		errs = append(errs, err)
	} else {
		if _, err := p.timeParser(loc); err != nil {
			errs = append(errs, err)
		}
		if _, err := parse.NewTypes(p.Types, loc); err != nil {
			errs = append(errs, err)
		}
	}
	if p.MaxLineSize < 1024 || p.MaxLineSize > 1<<30 {
		errs = append(errs, fmt.Errorf("'max_line_size' %d must be within 1k..1g", p.MaxLineSize))
	}
	if p.MaxDocumentSize < 1024 || p.MaxDocumentSize > 4<<30 {
		errs = append(errs, fmt.Errorf("'max_document_size' %d must be within 1k..4g", p.MaxDocumentSize))
	}
	return errors.Join(errs...)
}

// location returns the zone of times that carry none.
func (p *ParseConfig) location() (*time.Location, error) {
	if p.Timezone == "" {
		return time.Local, nil
	}
	loc, err := strftime.ParseTimezone(p.Timezone)
	if err != nil {
		return nil, fmt.Errorf("'timezone' %w", err)
	}
	return loc, nil
}

// timeParser compiles time_type and time_format for times in loc.
// time_type "" is mixed: time_format (or, without one, ISO 8601 and the
// common forms), then seconds since the epoch.
func (p *ParseConfig) timeParser(loc *time.Location) (*parse.TimeParser, error) {
	tc := parse.TimeConfig{Type: p.TimeType, Format: p.TimeFormat, Fallbacks: p.TimeFormatFallbacks, Location: loc}
	if p.TimeType == "" {
		tc.Type, tc.Format, tc.Fallbacks = "mixed", "", []string{p.TimeFormat, "float"}
	}
	return parse.NewTimeParser(tc)
}

// delimiter returns the one character of a delimiter; `\t` is a tab.
func delimiter(s string) (rune, error) {
	if s == `\t` {
		return '\t', nil
	}
	r, n := utf8.DecodeRuneInString(s)
	if n != len(s) || r == utf8.RuneError || r == '\r' || r == '\n' || r == '"' {
		return 0, fmt.Errorf("'delimiter' %q must be one character other than a quote or a line break", s)
	}
	return r, nil
}

// afterTransfer is a parsed after_transfer.
type afterTransfer struct {
	mode string // keep, delete, move_to
	dir  string
}

func parseAfterTransfer(s string) (afterTransfer, error) {
	f := strings.Fields(s)
	switch {
	case len(f) == 1 && (f[0] == "keep" || f[0] == "delete"):
		return afterTransfer{mode: f[0]}, nil
	case len(f) == 2 && f[0] == "move_to":
		return afterTransfer{mode: "move_to", dir: f[1]}, nil
	}
	return afterTransfer{}, fmt.Errorf("'after_transfer' must be keep, delete or move_to DIR, got %q", s)
}

// expandTag returns the tag of a file: the first '*' of tag becomes the
// path with '/' turned into '.', runs of dots squeezed and a leading dot
// dropped (in_tail's rule).
func expandTag(tag, path string) string {
	if !strings.Contains(tag, "*") {
		return tag
	}
	p := strings.ReplaceAll(filepath.ToSlash(path), "/", ".")
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '.' && (b.Len() == 0 || p[i-1] == '.') {
			continue
		}
		b.WriteByte(p[i])
	}
	return strings.Replace(tag, "*", b.String(), 1)
}
