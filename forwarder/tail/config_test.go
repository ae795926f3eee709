package tail

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/conf"
)

func validConfig() Config {
	c := DefaultConfig()
	c.Path = "/var/log/app/*.log"
	c.Tag = "app.*"
	c.PosFile = "/var/lib/barge/app.pos"
	c.Parse.Type = "json"
	return c
}

// TestDefaultConfig pins Fluentd in_tail's defaults (and barge's limits).
func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	want := map[string]any{
		"path_delimiter":               ",",
		"glob_policy":                  "backward_compatible",
		"read_from_head":               false,
		"refresh_interval":             60 * time.Second,
		"rotate_wait":                  5 * time.Second,
		"follow_inodes":                false,
		"limit_recently_modified":      time.Duration(0),
		"max_line_size":                int64(1 << 20),
		"read_lines_limit":             1000,
		"read_bytes_limit_per_second":  int64(-1),
		"enable_watch_timer":           true,
		"enable_stat_watcher":          true,
		"emit_unmatched_lines":         false,
		"pos_file_compaction_interval": time.Duration(0),
	}
	got := map[string]any{}
	v := reflect.ValueOf(c)
	for i := range v.NumField() {
		key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("conf"), ",")
		got[key] = v.Field(i).Interface()
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	if !c.Parse.EstimateCurrentEvent || c.Parse.MessageKey != "message" {
		t.Errorf("<parse> defaults not set: %+v", c.Parse)
	}
}

func TestConfigValidate(t *testing.T) {
	if c := validConfig(); c.Validate() != nil {
		t.Fatalf("valid: %v", c.Validate())
	}
	cases := []struct {
		name string
		edit func(*Config)
		want string // prefix of the error; "" for valid
	}{
		{"path", func(c *Config) { c.Path = " , " }, "'path' is required"},
		{"path glob", func(c *Config) { c.Path = "/a/[x" }, "'path'"},
		{"path strftime and **", func(c *Config) { c.Path = "/a/%Y/**/*.log,/b/c.log" }, ""},
		{"path_delimiter", func(c *Config) { c.PathDelimiter = "" }, "'path_delimiter'"},
		{"path_delimiter reserved", func(c *Config) { c.PathDelimiter = "%" }, "'path_delimiter'"},
		{"path_delimiter other", func(c *Config) { c.PathDelimiter, c.Path = "|", "/a/*,x.log|/b" }, ""},
		{"glob_policy always", func(c *Config) { c.GlobPolicy = "always" }, "'glob_policy' must be one of backward_compatible, extended"},
		{"path_timezone", func(c *Config) { c.PathTimezone = "Mars/Olympus" }, "'path_timezone'"},
		{"path_timezone ok", func(c *Config) { c.PathTimezone = "+09:00" }, ""},
		{"exclude_path", func(c *Config) { c.ExcludePath = []string{"[x"} }, "'exclude_path'"},
		{"tag", func(c *Config) { c.Tag = "" }, "'tag' is required"},
		{"tag stars", func(c *Config) { c.Tag = "a.*.*" }, "'tag'"},
		{"tag control", func(c *Config) { c.Tag = "a\n" }, "'tag'"},
		{"refresh_interval", func(c *Config) { c.RefreshInterval = 0 }, "'refresh_interval'"},
		{"rotate_wait", func(c *Config) { c.RotateWait = -1 }, "'rotate_wait'"},
		{"ignore_older", func(c *Config) { c.IgnoreOlder = -1 }, "'ignore_older'"},
		{"max_line_size small", func(c *Config) { c.MaxLineSize = 100 }, "'max_line_size'"},
		{"max_line_size big", func(c *Config) { c.MaxLineSize = 2 << 30 }, "'max_line_size'"},
		{"read_lines_limit", func(c *Config) { c.ReadLinesLimit = 0 }, "'read_lines_limit'"},
		{"read_bytes_limit_per_second", func(c *Config) { c.ReadBytesLimitPerSecond = -2 }, "'read_bytes_limit_per_second'"},
		{"read_bytes_limit_per_second timer", func(c *Config) {
			c.ReadBytesLimitPerSecond, c.EnableWatchTimer = 8192, false
		}, "'read_bytes_limit_per_second'"},
		{"from_encoding alone", func(c *Config) { c.FromEncoding = "ISO-8859-1" }, "'from_encoding' needs 'encoding'"},
		{"encoding", func(c *Config) { c.Encoding = "Shift_JIS" }, "'encoding' must be one of UTF-8"},
		{"from_encoding", func(c *Config) { c.Encoding, c.FromEncoding = "utf-8", "EUC-JP" }, "'from_encoding' must be one of"},
		{"encodings ok", func(c *Config) { c.Encoding, c.FromEncoding = "utf-8", "iso-8859-1" }, ""},
		{"follow_inodes", func(c *Config) { c.FollowInodes, c.PosFile = true, "" }, "'follow_inodes' needs 'pos_file'"},
		{"no pos_file", func(c *Config) { c.PosFile = "" }, ""},
		{"watchers", func(c *Config) { c.EnableWatchTimer, c.EnableStatWatcher = false, false }, "'enable_watch_timer'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Fatalf("want %q..., got %v", tc.want, err)
			}
		})
	}
}

// TestConfigDecode decodes a Fluentd <source> with every parameter.
func TestConfigDecode(t *testing.T) {
	in := `<source>
  @type tail
  @id app
  path /var/log/%Y%m%d/*.log, /var/log/app.log
  path_delimiter ,
  glob_policy extended
  path_timezone +09:00
  exclude_path ["/var/log/*.gz", "*.zip"]
  tag app.*
  read_from_head true
  refresh_interval 10s
  rotate_wait 1m
  follow_inodes true
  limit_recently_modified 1d
  ignore_older 2h
  skip_refresh_on_startup true
  path_key path
  offset_key offset
  max_line_size 64k
  read_lines_limit 200
  read_bytes_limit_per_second 16k
  encoding UTF-8
  from_encoding ISO-8859-1
  pos_file /var/lib/barge/app.pos
  pos_file_compaction_interval 72h
  pos_file_fsync true
  emit_unmatched_lines true
  ignore_repeated_permission_error true
  multiline_flush_interval 5s
  enable_watch_timer true
  enable_stat_watcher false
  open_on_every_update true
  <parse>
    @type json
  </parse>
</source>`
	root, err := conf.Parse("t.conf", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	if err := conf.Decode(root.Sections[0], &c); err != nil {
		t.Fatal(err)
	}
	if got := c.Paths(); !reflect.DeepEqual(got, []string{"/var/log/%Y%m%d/*.log", "/var/log/app.log"}) {
		t.Errorf("Paths() = %q", got)
	}
	if c.ExcludePath[1] != "*.zip" || !c.FollowInodes || c.RotateWait != time.Minute || c.IgnoreOlder != 2*time.Hour ||
		c.MaxLineSize != 64<<10 || c.BytesPerSecond() != 16<<10 || c.OffsetKey != "offset" || c.EnableStatWatcher ||
		c.Parse.Type != "json" || c.PosFileCompactionInterval != 72*time.Hour || !c.PosFileFsync {
		t.Errorf("decoded: %+v", c)
	}
	bad, err := conf.Parse("t.conf", []byte("<source>\n@type tail\npath /a\ntag t\n</source>"))
	if err != nil {
		t.Fatal(err)
	}
	c = DefaultConfig()
	if err := conf.Decode(bad.Sections[0], &c); err == nil || !strings.Contains(err.Error(), "<parse>") {
		t.Errorf("without <parse>: %v", err)
	}
}

func TestPathsAndTag(t *testing.T) {
	c := validConfig()
	c.Path = " /a/*.log ,, /b.log,/a/*.log "
	if got := c.Paths(); !reflect.DeepEqual(got, []string{"/a/*.log", "/b.log"}) {
		t.Errorf("Paths() = %q", got)
	}
	cases := []struct{ tag, path, want string }{
		{"app.*", "/var/log/app.log", "app.var.log.app.log"},
		{"*.in", "/var//log/x.log", "var.log.x.log.in"},
		{"pre.*.suf", "rel/a..b", "pre.rel.a.b.suf"},
		{"fixed", "/var/log/x", "fixed"},
	}
	for _, tc := range cases {
		t.Run(tc.tag+" "+tc.path, func(t *testing.T) {
			c.Tag = tc.tag
			if got := c.TagFor(tc.path); got != tc.want {
				t.Errorf("TagFor = %q, want %q", got, tc.want)
			}
		})
	}
	for _, tc := range []struct{ in, want int64 }{{-1, -1}, {0, -1}, {1, 8192}, {1 << 20, 1 << 20}} {
		c.ReadBytesLimitPerSecond = tc.in
		if got := c.BytesPerSecond(); got != tc.want {
			t.Errorf("BytesPerSecond(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
