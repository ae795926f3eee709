package tail

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/forwarder/parse"
	"github.com/barge-dev/barge/output/strftime"
)

// Config is the <source> section of @type tail. Names and defaults are
// Fluentd's in_tail ones (offset_key and ignore_older are Fluent Bit's),
// except where a field says otherwise.
type Config struct {
	Type string `conf:"@type"`
	ID   string `conf:"@id"`
	// Path holds the globs of the files to follow, separated by
	// PathDelimiter. strftime conversions (%Y%m%d) are expanded with the
	// time of each refresh in PathTimezone. See Resolver for the globs.
	Path string `conf:"path" required:"true"`
	// PathDelimiter separates the globs of Path (default ",").
	PathDelimiter string `conf:"path_delimiter"`
	// GlobPolicy is backward_compatible (the default: only a path holding
	// "*" is a glob) or extended ("?" and "[...]" make one too). Fluentd's
	// always (braces) is not supported.
	GlobPolicy string `conf:"glob_policy" enum:"backward_compatible,extended"`
	// PathTimezone is the zone of Path's strftime conversions (default:
	// the local zone).
	PathTimezone string `conf:"path_timezone"`
	// ExcludePath lists globs (with strftime conversions) of files never
	// followed. A glob without "/" matches the file's base name (barge
	// extension, as Fluent Bit's Exclude_Path "*.gz").
	ExcludePath []string `conf:"exclude_path"`
	// Tag is the tag of every record; its "*" becomes the file's path with
	// "/" turned into "." (runs of dots squeezed, a leading dot dropped).
	Tag string `conf:"tag" required:"true"`
	// ReadFromHead reads files found at startup without a position from
	// their start; else from their end. Files found later are always read
	// from their start (Fluentd >= 1.14.3).
	ReadFromHead bool `conf:"read_from_head"`
	// RefreshInterval is how often Path is resolved again; it is also the
	// backstop that finds what the watcher missed.
	RefreshInterval time.Duration `conf:"refresh_interval"`
	// RotateWait is how long a file rotated away is still read.
	RotateWait time.Duration `conf:"rotate_wait"`
	// FollowInodes follows a file, not a path: a file renamed to another
	// path that Path matches is not read again from its start.
	FollowInodes bool `conf:"follow_inodes"`
	// LimitRecentlyModified, when not 0, drops the files a glob matched
	// whose mtime is older than this (followed files included).
	LimitRecentlyModified time.Duration `conf:"limit_recently_modified"`
	// IgnoreOlder (Fluent Bit), when not 0, ignores files, globbed or not,
	// whose mtime is older than this when they are found; a file already
	// followed is kept.
	IgnoreOlder time.Duration `conf:"ignore_older"`
	// SkipRefreshOnStartup waits refresh_interval before the first refresh.
	SkipRefreshOnStartup bool `conf:"skip_refresh_on_startup"`
	// PathKey, when set, adds the file's path to every record.
	PathKey string `conf:"path_key"`
	// OffsetKey (Fluent Bit), when set, adds the byte offset of the line's
	// start in its file to every record.
	OffsetKey string `conf:"offset_key"`
	// MaxLineSize bounds one line, so that a file's memory is bounded: a
	// longer line is skipped (as in Fluentd), logged and counted. Fluentd's
	// default is unlimited; barge's is 1m (1 KiB to 1 GiB).
	MaxLineSize int64 `conf:"max_line_size,size"`
	// ReadLinesLimit is how many lines are read from a file at a time.
	ReadLinesLimit int `conf:"read_lines_limit"`
	// ReadBytesLimitPerSecond throttles the reading of each file; -1 (the
	// default) and 0 mean unlimited; a value under 8192 counts as 8192
	// (Fluentd warns and does the same).
	ReadBytesLimitPerSecond int64 `conf:"read_bytes_limit_per_second,size-1"`
	// Encoding is the encoding of the strings of records: UTF-8, US-ASCII
	// or ASCII-8BIT (BINARY). FromEncoding, which needs Encoding, is the
	// files' encoding, converted: those, or ISO-8859-1. Names are
	// case-insensitive; other Ruby encodings are not supported yet.
	Encoding     string `conf:"encoding"`
	FromEncoding string `conf:"from_encoding"`
	// PosFile records the position of every file (see FileStore). Without
	// it positions are kept in memory only, and a restart reads files
	// found at startup per read_from_head (Fluentd warns; so does barge).
	PosFile string `conf:"pos_file"`
	// PosFileCompactionInterval, when not 0, drops the positions of files
	// no longer followed this often (they are also dropped at startup).
	PosFileCompactionInterval time.Duration `conf:"pos_file_compaction_interval"`
	// PosFileFsync (barge extension) fsyncs the pos_file and its directory
	// at every write, so that it survives a power loss, not only a crash.
	PosFileFsync bool `conf:"pos_file_fsync"`
	// EmitUnmatchedLines keeps lines <parse> does not match, as records
	// {"unmatched_line": line}. barge never drops them: without it they
	// are kept under the parser's default key (see package parse).
	EmitUnmatchedLines bool `conf:"emit_unmatched_lines"`
	// IgnoreRepeatedPermissionError logs an unreadable file once, not at
	// every refresh.
	IgnoreRepeatedPermissionError bool `conf:"ignore_repeated_permission_error"`
	// MultilineFlushInterval is given to <parse> when its own is 0.
	MultilineFlushInterval time.Duration `conf:"multiline_flush_interval"`
	// EnableStatWatcher wakes the reader on file events (fsnotify); the
	// periodic reconcile runs regardless. EnableWatchTimer is accepted for
	// Fluentd's configs: barge always stats followed files every second.
	// Fluentd refuses both false; so does barge.
	EnableWatchTimer  bool `conf:"enable_watch_timer"`
	EnableStatWatcher bool `conf:"enable_stat_watcher"`
	// OpenOnEveryUpdate closes a file between reads.
	OpenOnEveryUpdate bool `conf:"open_on_every_update"`

	Parse parse.Config `conf:"<parse>" required:"true"`
}

// Default sizes and limits of Config.
const (
	DefaultMaxLineSize = 1 << 20
	minMaxLineSize     = 1 << 10
	maxMaxLineSize     = 1 << 30
	// MinBytesPerSecond is the smallest throttle (Fluentd's
	// IOHandler::BYTES_TO_READ).
	MinBytesPerSecond = 8192
)

// DefaultConfig returns in_tail's defaults and barge's limits.
func DefaultConfig() Config {
	return Config{
		Type:                    "tail",
		PathDelimiter:           ",",
		GlobPolicy:              "backward_compatible",
		RefreshInterval:         60 * time.Second,
		RotateWait:              5 * time.Second,
		MaxLineSize:             DefaultMaxLineSize,
		ReadLinesLimit:          1000,
		ReadBytesLimitPerSecond: -1,
		EnableWatchTimer:        true,
		EnableStatWatcher:       true,
		Parse:                   parse.DefaultConfig(),
	}
}

// encodings are the names Encoding and FromEncoding take (upper case).
var (
	encodings     = []string{"UTF-8", "US-ASCII", "ASCII-8BIT", "BINARY"}
	fromEncodings = append(slices.Clone(encodings), "ISO-8859-1")
)

// Validate checks cross-field rules; <parse> validates itself (conf calls
// its Validate first). Messages start with the quoted key.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch d := c.PathDelimiter; {
	case d == "":
		add("'path_delimiter' must not be empty")
	case strings.ContainsAny(d, "/*%"):
		add("'path_delimiter' %q must not hold '/', '*' or '%%'", d)
	}
	paths := c.Paths()
	if len(paths) == 0 {
		add("'path' is required")
	}
	for _, p := range paths {
		if err := checkPattern(p); err != nil {
			add("'path' %q: %w", p, err)
		}
	}
	for _, p := range c.ExcludePath {
		if err := checkPattern(p); err != nil {
			add("'exclude_path' %q: %w", p, err)
		}
	}
	switch c.GlobPolicy {
	case "backward_compatible", "extended":
	default:
		add("'glob_policy' must be one of backward_compatible, extended, got %q", c.GlobPolicy)
	}
	if c.PathTimezone != "" {
		if _, err := strftime.ParseTimezone(c.PathTimezone); err != nil {
			add("'path_timezone' %w", err)
		}
	}
	switch {
	case c.Tag == "":
		add("'tag' is required")
	case strings.Count(c.Tag, "*") > 1:
		add("'tag' %q may hold one '*' at most", c.Tag)
	default:
		if err := event.CheckTag(strings.Replace(c.Tag, "*", "x", 1)); err != nil {
			add("'tag' %q: %w", c.Tag, err)
		}
	}
	if c.RefreshInterval <= 0 {
		add("'refresh_interval' must be positive")
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"rotate_wait", c.RotateWait}, {"limit_recently_modified", c.LimitRecentlyModified},
		{"ignore_older", c.IgnoreOlder}, {"pos_file_compaction_interval", c.PosFileCompactionInterval},
		{"multiline_flush_interval", c.MultilineFlushInterval},
	} {
		if d.v < 0 {
			add("'%s' must not be negative", d.key)
		}
	}
	if c.MaxLineSize < minMaxLineSize || c.MaxLineSize > maxMaxLineSize {
		add("'max_line_size' %d must be within 1k..1g", c.MaxLineSize)
	}
	if c.ReadLinesLimit < 1 {
		add("'read_lines_limit' %d must be at least 1", c.ReadLinesLimit)
	}
	if c.ReadBytesLimitPerSecond < -1 {
		add("'read_bytes_limit_per_second' %d must be -1 (unlimited) or a size", c.ReadBytesLimitPerSecond)
	}
	if c.ReadBytesLimitPerSecond > 0 && !c.EnableWatchTimer {
		add("'read_bytes_limit_per_second' needs enable_watch_timer true")
	}
	if c.FromEncoding != "" && c.Encoding == "" {
		add("'from_encoding' needs 'encoding'")
	}
	if c.Encoding != "" && !slices.Contains(encodings, strings.ToUpper(c.Encoding)) {
		add("'encoding' must be one of %s, got %q", strings.Join(encodings, ", "), c.Encoding)
	}
	if c.FromEncoding != "" && !slices.Contains(fromEncodings, strings.ToUpper(c.FromEncoding)) {
		add("'from_encoding' must be one of %s, got %q", strings.Join(fromEncodings, ", "), c.FromEncoding)
	}
	if c.FollowInodes && c.PosFile == "" {
		add("'follow_inodes' needs 'pos_file'")
	}
	if !c.EnableWatchTimer && !c.EnableStatWatcher {
		add("'enable_watch_timer' and 'enable_stat_watcher' must not both be false")
	}
	return errors.Join(errs...)
}

// Paths returns the globs of Path: split on PathDelimiter, trimmed,
// without empty or repeated ones.
func (c *Config) Paths() []string {
	if c.PathDelimiter == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(c.Path, c.PathDelimiter) {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// BytesPerSecond is read_bytes_limit_per_second in effect: -1 when
// unlimited, else at least MinBytesPerSecond.
func (c *Config) BytesPerSecond() int64 {
	if c.ReadBytesLimitPerSecond <= 0 {
		return -1
	}
	return max(c.ReadBytesLimitPerSecond, MinBytesPerSecond)
}

// TagFor returns the tag of the records of the file at path: Tag's "*"
// becomes the path with "/" turned into ".", runs of dots squeezed and a
// leading dot dropped (in_tail's rule).
func (c *Config) TagFor(path string) string {
	if !strings.Contains(c.Tag, "*") {
		return c.Tag
	}
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		ch := path[i]
		if ch == '/' {
			ch = '.'
		}
		if ch == '.' && (b.Len() == 0 || b.String()[b.Len()-1] == '.') {
			continue
		}
		b.WriteByte(ch)
	}
	return strings.Replace(c.Tag, "*", b.String(), 1)
}
