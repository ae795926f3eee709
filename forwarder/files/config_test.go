package files

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/conf"
)

func validConfig() Config {
	c := DefaultConfig()
	c.Path = []string{"/data/export/*.json"}
	c.Tag = "onprem.*"
	c.PosFile = "/var/lib/barge/files.pos"
	return c
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
		{"path", func(c *Config) { c.Path = nil }, "'path'"},
		{"path glob", func(c *Config) { c.Path = []string{"/data/[x"} }, "'path'"},
		{"path **", func(c *Config) { c.Path = []string{"/data/**/x"} }, "'path'"},
		{"exclude_path", func(c *Config) { c.ExcludePath = []string{"[x"} }, "'exclude_path'"},
		{"tag", func(c *Config) { c.Tag = "" }, "'tag'"},
		{"tag stars", func(c *Config) { c.Tag = "a.*.*" }, "'tag'"},
		{"tag control", func(c *Config) { c.Tag = "a\n" }, "'tag'"},
		{"pos_file", func(c *Config) { c.PosFile = "" }, "'pos_file'"},
		{"settle_time", func(c *Config) { c.SettleTime = -1 }, "'settle_time'"},
		{"refresh_interval", func(c *Config) { c.RefreshInterval = 0 }, "'refresh_interval'"},
		{"schedule", func(c *Config) { c.Schedule = "0 2 * *" }, "'schedule'"},
		{"schedule ok", func(c *Config) { c.Schedule = "CRON_TZ=Asia/Tokyo 0 2 * * 1-5" }, ""},
		{"schedule descriptor", func(c *Config) { c.Schedule = "@daily" }, ""},
		{"after_transfer", func(c *Config) { c.AfterTransfer = "archive" }, "'after_transfer'"},
		{"after_transfer move_to", func(c *Config) { c.AfterTransfer = "move_to" }, "'after_transfer'"},
		{"after_transfer move_to ok", func(c *Config) { c.AfterTransfer = "move_to /data/done" }, ""},
		{"parse type", func(c *Config) { c.Parse.Type = "xml" }, "'@type'"},
		{"json_path", func(c *Config) { c.Parse.JSONPath = "$[" }, "'json_path'"},
		{"json_path csv", func(c *Config) { c.Parse.Type, c.Parse.JSONPath = "csv", "$.a" }, "'json_path'"},
		{"columns json", func(c *Config) { c.Parse.Columns = []string{"a"} }, "'columns'"},
		{"columns required", func(c *Config) { c.Parse.Type, c.Parse.Header = "csv", false }, "'columns'"},
		{"columns twice", func(c *Config) { c.Parse.Type, c.Parse.Columns = "csv", []string{"a", "a"} }, "'columns'"},
		{"delimiter", func(c *Config) { c.Parse.Type, c.Parse.Delimiter = "csv", ";;" }, "'delimiter'"},
		{"delimiter tab", func(c *Config) { c.Parse.Type, c.Parse.Delimiter = "csv", `\t` }, ""},
		{"types", func(c *Config) { c.Parse.Types = map[string]string{"a": "date"} }, "'types'"},
		{"types time", func(c *Config) { c.Parse.Types = map[string]string{"a": "time:%d/%m/%Y"} }, ""},
		{"time_format alone", func(c *Config) { c.Parse.TimeFormat = "%Y" }, "'time_format'"},
		{"time_format", func(c *Config) { c.Parse.TimeKey, c.Parse.TimeFormat = "t", "%E" }, "'time_format'"},
		{"time_format %Q", func(c *Config) { c.Parse.TimeKey, c.Parse.TimeFormat = "t", "%Q" }, ""},
		{"time_type", func(c *Config) { c.Parse.TimeKey, c.Parse.TimeType = "t", "epoch" }, "'time_type'"},
		{"time_type alone", func(c *Config) { c.Parse.TimeType = "float" }, "'time_type'"},
		{"mixed", func(c *Config) { c.Parse.TimeKey, c.Parse.TimeType = "t", "mixed" }, "'time_format_fallbacks'"},
		{"fallbacks", func(c *Config) { c.Parse.TimeKey, c.Parse.TimeFormatFallbacks = "t", []string{"float"} }, "'time_format_fallbacks'"},
		{"timezone", func(c *Config) { c.Parse.Timezone = "Mars/Base" }, "'timezone'"},
		{"max_line_size", func(c *Config) { c.Parse.MaxLineSize = 10 }, "'max_line_size'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Fatalf("error %v, want prefix %s", err, tc.want)
			}
		})
	}
}

// TestConfigDecodes decodes the documented <source> with barge's conf
// package, as cmd/barge does.
func TestConfigDecodes(t *testing.T) {
	src := `<source>
  @type files
  path /data/export/*.json,/data/export/*.csv.gz
  exclude_path /data/export/tmp-*
  tag onprem.top
  pos_file /var/lib/barge/files.pos
  settle_time 5s
  schedule "0 2 * * *"
  path_key file
  after_transfer move_to /data/done
  error_dir /data/export/failed
  <parse>
    @type json
    json_path $.task
    types PID:integer,CPU:float
  </parse>
</source>
`
	root, err := conf.Parse("t.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	if err := conf.Decode(root.Sections[0], &c); err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Path = []string{"/data/export/*.json", "/data/export/*.csv.gz"}
	want.ExcludePath = []string{"/data/export/tmp-*"}
	want.Tag, want.PosFile, want.Schedule, want.PathKey = "onprem.top", "/var/lib/barge/files.pos", "0 2 * * *", "file"
	want.SettleTime, want.AfterTransfer, want.ErrorDir = 5*time.Second, "move_to /data/done", "/data/export/failed"
	want.Parse.JSONPath = "$.task"
	want.Parse.Types = map[string]string{"PID": "integer", "CPU": "float"}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("decoded %+v\nwant %+v", c, want)
	}
	bad := strings.Replace(src, "after_transfer move_to /data/done", "after_transfer archive", 1)
	root, _ = conf.Parse("t.conf", []byte(bad))
	c = DefaultConfig()
	if err := conf.Decode(root.Sections[0], &c); err == nil || !strings.Contains(err.Error(), "t.conf:10: <source>: 'after_transfer'") {
		t.Fatalf("error %v", err)
	}
}

func TestExpandTag(t *testing.T) {
	cases := []struct{ tag, path, want string }{
		{"onprem.*", "/data/a.json", "onprem.data.a.json"},
		{"onprem.top", "/data/a.json", "onprem.top"},
		{"*.in", "data//x..y.csv", "data.x.y.csv.in"},
		{"a.*", "/", "a."},
	}
	for _, c := range cases {
		if got := expandTag(c.tag, c.path); got != c.want {
			t.Errorf("expandTag(%q, %q) = %q, want %q", c.tag, c.path, got, c.want)
		}
	}
}

func TestStrptime(t *testing.T) {
	cases := []struct{ format, value, want string }{
		{"%Y-%m-%dT%H:%M:%S%z", "2024-05-01T14:00:00+0200", "2024-05-01T12:00:00Z"},
		{"%Y-%m-%d %H:%M:%S.%L %:z", "2024-05-01 12:00:00.250 +00:00", "2024-05-01T12:00:00.25Z"},
		{"%d/%b/%Y:%T %z", "01/May/2024:12:00:00 +0000", "2024-05-01T12:00:00Z"},
		{"%s", "1714564800", "2024-05-01T12:00:00Z"},
	}
	for _, c := range cases {
		p := parseConfig("csv")
		p.TimeKey, p.TimeFormat = "t", c.format
		tp, err := p.timeParser(time.UTC)
		if err != nil {
			t.Fatalf("%s: %v", c.format, err)
		}
		sec, nsec, ok := tp.ParseString(c.value, t0)
		if !ok {
			t.Fatalf("%s %s: does not parse", c.format, c.value)
		}
		if got := time.Unix(sec, nsec).UTC().Format(time.RFC3339Nano); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.format, c.value, got, c.want)
		}
	}
	for _, f := range []string{"%E", "%Y-%m-%d %q", "%5"} {
		p := parseConfig("csv")
		p.TimeKey, p.TimeFormat = "t", f
		if err := p.validate(); err == nil || !strings.HasPrefix(err.Error(), "'time_format'") {
			t.Errorf("%q: %v", f, err)
		}
	}
}
