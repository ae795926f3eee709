package buffer

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultConfig(t *testing.T) {
	f, m := DefaultConfig("file"), DefaultConfig("memory")
	if f.ChunkLimitSize != 256<<20 || f.TotalLimitSize != 64<<30 || m.ChunkLimitSize != 8<<20 || m.TotalLimitSize != 512<<20 {
		t.Errorf("size defaults: file %d/%d memory %d/%d", f.ChunkLimitSize, f.TotalLimitSize, m.ChunkLimitSize, m.TotalLimitSize)
	}
	if !f.FlushAtShutdown || !m.FlushAtShutdown || f.TimeKeyWait != 10*time.Minute || f.RetryTimeout != 72*time.Hour ||
		f.RetryWait != time.Second || f.RetryExponentialBackoffBase != 2 || !f.RetryRandomize || f.FlushThreadCount != 1 ||
		f.flushInterval() != time.Minute || f.OverflowAction != "throw_exception" || f.Fsync {
		t.Errorf("defaults %+v", f)
	}
	for _, c := range []Config{f, m} {
		if err := c.Validate(); err != nil {
			t.Error(err)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		set  func(c *Config)
		want string
	}{
		{func(c *Config) { c.Type = "disk" }, "'@type'"},
		{func(c *Config) { c.ChunkKeys = []string{"time"} }, "'timekey' is required"},
		{func(c *Config) { c.ChunkKeys = []string{"$['a']['b']"} }, "'<buffer>' chunk key \"$['a']['b']\": bracket notation is not allowed"},
		{func(c *Config) { c.ChunkKeys = []string{"$.a..b"} }, "'<buffer>' chunk key: record accessor \"$.a..b\": empty field name"},
		{func(c *Config) { c.ChunkKeys = []string{"$.a[x]"} }, "'<buffer>' chunk key: record accessor"},
		{func(c *Config) { c.ChunkKeys = []string{"$a"} }, "'<buffer>' chunk key \"$a\": a record accessor starts with"},
		{func(c *Config) { c.TimeKeyZone = "+99" }, "'timekey_zone'"},
		{func(c *Config) { c.TimeKeyZone = "Mars/Olympus" }, "'timekey_zone'"},
		{func(c *Config) { c.ChunkLimitSize = 0 }, "'chunk_limit_size'"},
		{func(c *Config) { c.TotalLimitSize = 1 }, "'total_limit_size'"},
		{func(c *Config) { c.FlushThreadCount = 0 }, "'flush_thread_count'"},
		{func(c *Config) { c.FlushMode = "sometimes" }, "'flush_mode' must be one of default,interval,immediate,lazy"},
		{func(c *Config) { c.OverflowAction = "explode" }, "'overflow_action'"},
		{func(c *Config) { c.RetryType = "never" }, "'retry_type'"},
		{func(c *Config) { c.RetryWait = 0 }, "'retry_wait'"},
		{func(c *Config) { c.RetryExponentialBackoffBase = 0.5 }, "'retry_exponential_backoff_base'"},
		{func(c *Config) { c.RetryMaxTimes = -1 }, "'retry_max_times'"},
		{func(c *Config) { c.ChunkFullThreshold = 2 }, "'chunk_full_threshold'"},
	}
	for _, tt := range tests {
		c := DefaultConfig("memory")
		tt.set(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("got %v, want prefix %q", err, tt.want)
		}
	}
}

func TestZoneAndWindow(t *testing.T) {
	tests := []struct {
		zone string
		utc  bool
		at   time.Time
		want time.Time
	}{
		{"", true, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"+0900", false, time.Date(2026, 1, 2, 16, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)},
		{"-05:00", false, time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 5, 0, 0, 0, time.UTC)},
		{"Asia/Tokyo", false, time.Date(2026, 1, 2, 14, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 15, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		loc, err := zone(tt.zone, tt.utc)
		if err != nil {
			t.Fatal(err)
		}
		k := keySpec{time: true, timekey: 86400, loc: loc}
		var s scan
		s.reset()
		if got := s.window(tt.at.Unix(), &k); got != tt.want.Unix() {
			t.Errorf("%s: window of %v = %v, want %v", tt.zone, tt.at, time.Unix(got, 0).UTC(), tt.want)
		}
	}
}

// queue_limit_length (deprecated in Fluentd) sets total_limit_size to
// chunk_limit_size × it, unless total_limit_size is given.
func TestQueueLimitLength(t *testing.T) {
	c := DefaultConfig("memory")
	c.ChunkLimitSize = 1 << 20
	c.QueueLimitLength = 64
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.TotalLimitSize != 64<<20 {
		t.Fatalf("total_limit_size %d, want 64 MiB", c.TotalLimitSize)
	}
	c = DefaultConfig("file")
	c.QueueLimitLength = 4
	c.TotalLimitSize = 1 << 30
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.TotalLimitSize != 1<<30 {
		t.Fatalf("total_limit_size %d, want the 1 GiB given", c.TotalLimitSize)
	}
}
