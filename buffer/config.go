package buffer

import (
	"fmt"
	"strings"
	"time"

	"github.com/barge-dev/barge/buffer/event"
)

// Config is the <buffer CHUNK_KEYS> section. Parameter names and defaults
// follow Fluentd's buffer plugins, except flush_at_shutdown (true for both
// types) and fsync (a barge extension).
type Config struct {
	Type string `conf:"@type" enum:"file,memory"`
	// ChunkKeys are tag, time and record keys: top-level field names or
	// record accessors in dot notation ($.kubernetes.namespace_name,
	// $.a[0]), named in Chunk.Keys and in ${...} placeholders as written.
	ChunkKeys []string `conf:",arg"`
	Path      string   `conf:"path"`

	TimeKey       time.Duration `conf:"timekey"`
	TimeKeyWait   time.Duration `conf:"timekey_wait"`
	TimeKeyZone   string        `conf:"timekey_zone"`
	TimeKeyUseUTC bool          `conf:"timekey_use_utc"`

	ChunkLimitSize     int64   `conf:"chunk_limit_size,size"`
	ChunkLimitRecords  int     `conf:"chunk_limit_records"`
	ChunkFullThreshold float64 `conf:"chunk_full_threshold"`
	TotalLimitSize     int64   `conf:"total_limit_size,size"`
	// QueuedChunksLimitSize 0 means flush_thread_count, as in Fluentd.
	QueuedChunksLimitSize int `conf:"queued_chunks_limit_size"`
	// QueueLimitLength is Fluentd's deprecated queue_limit_length: when
	// total_limit_size keeps its default, Validate sets it to
	// chunk_limit_size × queue_limit_length, as Fluentd's buffer does.
	QueueLimitLength int `conf:"queue_limit_length"`
	// Compress is text (chunks hold the entries as appended) or gzip:
	// each appended frame's entries are stored as a gzip member, and
	// readers get them back as they were (compress.go).
	Compress string `conf:"compress" enum:"text,gzip"`

	FlushMode string `conf:"flush_mode" enum:"default,interval,immediate,lazy"`
	// FlushInterval is 0 when not given; the interval mode then uses 60s.
	// (Fluentd's default flush_mode picks lazy only when it is not given.)
	FlushInterval    time.Duration `conf:"flush_interval"`
	FlushThreadCount int           `conf:"flush_thread_count"`
	// FlushThreadInterval and FlushThreadBurstInterval are accepted for
	// Fluentd compatibility and have no effect: barge's workers are woken
	// by events and timers instead of polling.
	FlushThreadInterval      time.Duration `conf:"flush_thread_interval"`
	FlushThreadBurstInterval time.Duration `conf:"flush_thread_burst_interval"`
	FlushAtShutdown          bool          `conf:"flush_at_shutdown"`
	OverflowAction           string        `conf:"overflow_action" enum:"throw_exception,block,drop_oldest_chunk"`

	RetryType                   string        `conf:"retry_type" enum:"exponential_backoff,periodic"`
	RetryWait                   time.Duration `conf:"retry_wait"`
	RetryExponentialBackoffBase float64       `conf:"retry_exponential_backoff_base"`
	RetryRandomize              bool          `conf:"retry_randomize"`
	RetryMaxInterval            time.Duration `conf:"retry_max_interval"` // 0: no cap
	RetryTimeout                time.Duration `conf:"retry_timeout"`
	RetryMaxTimes               int           `conf:"retry_max_times"` // 0: no limit (only retry_timeout)
	RetryForever                bool          `conf:"retry_forever"`
	// RetrySecondaryThreshold is accepted for Fluentd compatibility and has
	// no effect: barge hands a chunk to <secondary> once its own retries are
	// exhausted.
	RetrySecondaryThreshold float64 `conf:"retry_secondary_threshold"`

	// Fsync (barge extension) makes Append wait for an fsync covering the
	// entries (group commit) before it returns nil.
	Fsync bool `conf:"fsync"`
}

// Default flush interval when flush_interval is not given.
const defaultFlushInterval = 60 * time.Second

// DefaultConfig returns Fluentd's defaults for a buffer of the given type
// ("file" or "memory").
func DefaultConfig(typ string) Config {
	c := Config{
		Type:                        typ,
		TimeKeyWait:                 600 * time.Second,
		ChunkLimitSize:              8 << 20,
		ChunkFullThreshold:          0.95,
		TotalLimitSize:              512 << 20,
		Compress:                    "text",
		FlushMode:                   "default",
		FlushThreadCount:            1,
		FlushThreadInterval:         time.Second,
		FlushThreadBurstInterval:    time.Second,
		FlushAtShutdown:             true,
		OverflowAction:              "throw_exception",
		RetryType:                   "exponential_backoff",
		RetryWait:                   time.Second,
		RetryExponentialBackoffBase: 2,
		RetryRandomize:              true,
		RetryTimeout:                72 * time.Hour,
		RetrySecondaryThreshold:     0.8,
	}
	if typ == "file" {
		c.ChunkLimitSize = 256 << 20
		c.TotalLimitSize = 64 << 30
	}
	return c
}

// Validate checks cross-field rules. Messages start with the quoted key.
func (c *Config) Validate() error {
	if c.Type != "file" && c.Type != "memory" {
		return fmt.Errorf("'@type' must be file or memory, not %q", c.Type)
	}
	var hasTime bool
	for _, k := range c.ChunkKeys {
		switch {
		case k == "":
			return fmt.Errorf("'<buffer>' has an empty chunk key")
		case strings.HasPrefix(k, "$["):
			return fmt.Errorf("'<buffer>' chunk key %q: bracket notation is not allowed in chunk keys, as in Fluentd: write $.a.b (a quoted name after a dot, $.a['b.c'], is allowed)", k)
		case strings.HasPrefix(k, "$."):
			if _, err := event.ParseAccessor(k); err != nil {
				return fmt.Errorf("'<buffer>' chunk key: %w", err)
			}
		case strings.HasPrefix(k, "$"):
			return fmt.Errorf("'<buffer>' chunk key %q: a record accessor starts with \"$.\"", k)
		case k == "time":
			hasTime = true
		}
	}
	if hasTime && c.TimeKey <= 0 {
		return fmt.Errorf("'timekey' is required when 'time' is a chunk key")
	}
	if c.TimeKey < 0 || (hasTime && c.TimeKey < time.Second) {
		return fmt.Errorf("'timekey' must be at least 1s")
	}
	if c.TimeKeyWait < 0 {
		return fmt.Errorf("'timekey_wait' must not be negative")
	}
	if c.QueueLimitLength < 0 {
		return fmt.Errorf("'queue_limit_length' must not be negative")
	}
	if c.QueueLimitLength > 0 && c.TotalLimitSize == DefaultConfig(c.Type).TotalLimitSize {
		c.TotalLimitSize = c.ChunkLimitSize * int64(c.QueueLimitLength)
	}
	if _, err := zone(c.TimeKeyZone, c.TimeKeyUseUTC); err != nil {
		return fmt.Errorf("'timekey_zone' %w", err)
	}
	switch {
	case c.ChunkLimitSize <= 0:
		return fmt.Errorf("'chunk_limit_size' must be positive")
	case c.ChunkLimitRecords < 0:
		return fmt.Errorf("'chunk_limit_records' must not be negative")
	case c.ChunkFullThreshold <= 0 || c.ChunkFullThreshold > 1:
		return fmt.Errorf("'chunk_full_threshold' must be in (0, 1]")
	case c.TotalLimitSize <= 0:
		return fmt.Errorf("'total_limit_size' must be positive")
	case c.TotalLimitSize < c.ChunkLimitSize:
		return fmt.Errorf("'total_limit_size' (%d) must not be smaller than 'chunk_limit_size' (%d)", c.TotalLimitSize, c.ChunkLimitSize)
	case c.QueuedChunksLimitSize < 0:
		return fmt.Errorf("'queued_chunks_limit_size' must not be negative")
	case c.FlushInterval < 0:
		return fmt.Errorf("'flush_interval' must not be negative")
	case c.FlushThreadCount < 1:
		return fmt.Errorf("'flush_thread_count' must be at least 1")
	case c.RetryWait <= 0:
		return fmt.Errorf("'retry_wait' must be positive")
	case c.RetryExponentialBackoffBase < 1:
		return fmt.Errorf("'retry_exponential_backoff_base' must be at least 1")
	case c.RetryMaxInterval < 0:
		return fmt.Errorf("'retry_max_interval' must not be negative")
	case c.RetryTimeout <= 0:
		return fmt.Errorf("'retry_timeout' must be positive")
	case c.RetryMaxTimes < 0:
		return fmt.Errorf("'retry_max_times' must not be negative")
	}
	for key, v := range map[string]string{
		"flush_mode":      c.FlushMode + ":default,interval,immediate,lazy",
		"overflow_action": c.OverflowAction + ":throw_exception,block,drop_oldest_chunk",
		"retry_type":      c.RetryType + ":exponential_backoff,periodic",
		"compress":        c.Compress + ":text,gzip",
	} {
		val, allowed, _ := strings.Cut(v, ":")
		if !contains(strings.Split(allowed, ","), val) {
			return fmt.Errorf("'%s' must be one of %s, not %q", key, allowed, val)
		}
	}
	return nil
}

// flushMode resolves "default" as Fluentd does: lazy when time is a chunk
// key and flush_interval is not given, interval otherwise.
func (c *Config) flushMode() string {
	if c.FlushMode != "default" {
		return c.FlushMode
	}
	if contains(c.ChunkKeys, "time") && c.FlushInterval == 0 {
		return "lazy"
	}
	return "interval"
}

func (c *Config) flushInterval() time.Duration {
	if c.FlushInterval == 0 {
		return defaultFlushInterval
	}
	return c.FlushInterval
}

// queueLimit is queued_chunks_limit_size, defaulting to flush_thread_count.
func (c *Config) queueLimit() int {
	if c.QueuedChunksLimitSize == 0 {
		return c.FlushThreadCount
	}
	return c.QueuedChunksLimitSize
}

// TimeKeyLocation is the zone that time chunks are cut in: timekey_zone,
// UTC with timekey_use_utc, else local time.
func (c Config) TimeKeyLocation() (*time.Location, error) {
	return zone(c.TimeKeyZone, c.TimeKeyUseUTC)
}

// zone resolves timekey_zone / timekey_use_utc. An empty zone is local time,
// as in Fluentd; "+0900", "-05:00" and IANA names are accepted.
func zone(name string, utc bool) (*time.Location, error) {
	switch {
	case utc:
		return time.UTC, nil
	case name == "":
		return time.Local, nil
	case name == "UTC" || name == "Z":
		return time.UTC, nil
	case name[0] == '+' || name[0] == '-':
		s := strings.ReplaceAll(name[1:], ":", "")
		var h, m int
		if len(s) == 2 {
			s += "00"
		}
		if len(s) != 4 {
			return nil, fmt.Errorf("%q is not an offset like +0900", name)
		}
		if _, err := fmt.Sscanf(s, "%2d%2d", &h, &m); err != nil || h > 14 || m > 59 {
			return nil, fmt.Errorf("%q is not an offset like +0900", name)
		}
		off := h*3600 + m*60
		if name[0] == '-' {
			off = -off
		}
		return time.FixedZone(name, off), nil
	default:
		loc, err := time.LoadLocation(name)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", name, err)
		}
		return loc, nil
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
