package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/conf"
	"github.com/barge-dev/barge/forwarder/tail"
	"github.com/barge-dev/barge/output/file"
	"github.com/barge-dev/barge/output/forward"
	"github.com/barge-dev/barge/output/gcs"
	"github.com/barge-dev/barge/output/s3"
	"github.com/barge-dev/barge/output/stdout"
)

// renderCompat writes a section as "key value :LINE" lines, so that a
// case shows where every parameter and section points.
func renderCompat(sec *conf.Section) string {
	var b strings.Builder
	var write func(s *conf.Section, ind string)
	write = func(s *conf.Section, ind string) {
		fmt.Fprintf(&b, "%s<%s %s> :%d\n", ind, s.Name, s.Arg, s.Line)
		for _, p := range s.Params {
			fmt.Fprintf(&b, "%s  %s %s :%d\n", ind, p.Key, p.Value, p.Line)
		}
		for _, c := range s.Sections {
			write(c, ind+"  ")
		}
	}
	write(sec, "")
	return b.String()
}

// compatFirst parses src and rewrites its first directive.
func compatFirst(t *testing.T, src string) (*conf.Section, []string) {
	t.Helper()
	root, err := conf.Parse("v012.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	sec := root.Sections[0]
	var notes []string
	for _, w := range compatParams(sec, sec.Name, sec.Type()) {
		notes = append(notes, w.String())
	}
	return sec, notes
}

func TestCompatParams(t *testing.T) {
	cases := []struct {
		name, src, want string
		notes           []string
	}{
		{"in_tail nginx", `<source>
  @type tail
  path /var/log/nginx/access.log
  pos_file /var/log/td-agent/nginx-access.log.pos
  tag nginx.access
  format nginx
  time_format %d/%b/%Y:%H:%M:%S %z
  keep_time_key true
</source>
`, `<source > :1
  @type tail :2
  path /var/log/nginx/access.log :3
  pos_file /var/log/td-agent/nginx-access.log.pos :4
  tag nginx.access :5
  <parse > :6
    @type nginx :6
    time_format %d/%b/%Y:%H:%M:%S %z :7
    keep_time_key true :8
`, []string{
			"v012.conf:6: warning: 'format' is a Fluentd v0.12 parameter: use <parse> @type nginx",
			"v012.conf:7: warning: 'time_format' is a Fluentd v0.12 parameter: use <parse> time_format",
			"v012.conf:8: warning: 'keep_time_key' is a Fluentd v0.12 parameter: use <parse> keep_time_key",
		}},
		{"in_tail regexp, types with their own delimiters, utc", `<source>
  @type tail
  path /var/log/app.log
  tag app
  format /^(?<time>[^ ]+) (?<level>[^ ]+) (?<code>\d+) (?<msg>.*)$/
  types code:integer|level:string
  types_delimiter |
  utc
</source>
`, `<source > :1
  @type tail :2
  path /var/log/app.log :3
  tag app :4
  <parse > :5
    @type regexp :5
    expression ^(?<time>[^ ]+) (?<level>[^ ]+) (?<code>\d+) (?<msg>.*)$ :5
    types {"code":"integer","level":"string"} :6
    localtime false :8
`, []string{
			"v012.conf:5: warning: 'format' is a Fluentd v0.12 parameter: use <parse> @type regexp with expression",
			"v012.conf:6: warning: 'types' is a Fluentd v0.12 parameter: use <parse> types",
			"v012.conf:7: warning: 'types_delimiter' is a Fluentd v0.12 parameter: use <parse> types as JSON",
			"v012.conf:8: warning: 'utc' is a Fluentd v0.12 parameter: use <parse> localtime false",
		}},
		{"in_tail multiline", `<source>
  @type tail
  path /var/log/java.log
  tag java
  multiline_flush_interval 5s
  format multiline
  format_firstline /^\d{4}-\d{2}-\d{2}/
  format1 /^(?<time>\d{4}-\d{2}-\d{2} [^ ]+) (?<level>\w+)/
  format2 / (?<message>.*)/
</source>
`, `<source > :1
  @type tail :2
  path /var/log/java.log :3
  tag java :4
  multiline_flush_interval 5s :5
  <parse > :6
    @type multiline :6
    format_firstline /^\d{4}-\d{2}-\d{2}/ :7
    format1 /^(?<time>\d{4}-\d{2}-\d{2} [^ ]+) (?<level>\w+)/ :8
    format2 / (?<message>.*)/ :9
`, []string{
			"v012.conf:6: warning: 'format' is a Fluentd v0.12 parameter: use <parse> @type multiline",
			"v012.conf:7: warning: 'format_firstline' is a Fluentd v0.12 parameter: use <parse> format_firstline",
			"v012.conf:8: warning: 'format1' is a Fluentd v0.12 parameter: use <parse> format1",
			"v012.conf:9: warning: 'format2' is a Fluentd v0.12 parameter: use <parse> format2",
		}},
		{"in_tail with <parse>: flat parser keys ignored, formatN still copied", `<source>
  @type tail
  path /var/log/java.log
  tag java
  time_format %Y
  format1 /(?<message>.*)/
  <parse>
    @type multiline
    format_firstline /^\d/
  </parse>
</source>
`, `<source > :1
  @type tail :2
  path /var/log/java.log :3
  tag java :4
  <parse > :7
    @type multiline :8
    format_firstline /^\d/ :9
    format1 /(?<message>.*)/ :6
`, []string{
			"v012.conf:5: warning: 'time_format' is ignored, as Fluentd ignores it: this <source> has a <parse> (line 7), and Fluentd then ignores the v0.12 parser parameters: set time_format in <parse>",
			"v012.conf:6: warning: 'format1' is a Fluentd v0.12 parameter: use <parse> format1",
		}},
		{"out_s3 of the v0.12 docs", `<match s3.**>
  @type s3
  s3_bucket logs
  s3_region ap-northeast-1
  path logs/
  buffer_path /var/log/fluent/s3
  time_slice_format %Y%m%d%H
  time_slice_wait 10m
  utc
  buffer_chunk_limit 256m
  buffer_queue_limit 64
  format json
  include_time_key true
  format_json true
</match>
`, `<match s3.**> :1
  @type s3 :2
  s3_bucket logs :3
  s3_region ap-northeast-1 :4
  path logs/ :5
  time_slice_format %Y%m%d%H :7
  <format > :12
    @type json :12
  <inject > :9
    localtime false :9
    time_key time :13
    time_type string :13
  <buffer time> :6
    path /var/log/fluent/s3 :6
    timekey_wait 10m :8
    chunk_limit_size 256m :10
    total_limit_size 16g :11
    timekey 1h :7
    timekey_use_utc true :9
`, []string{
			"v012.conf:6: warning: 'buffer_path' is a Fluentd v0.12 parameter: use <buffer> path",
			"v012.conf:7: warning: 'time_slice_format' without a <buffer> slices time as Fluentd v0.12 did: taken as <buffer time> timekey 1h (it still formats %{time_slice}); write that <buffer>",
			"v012.conf:8: warning: 'time_slice_wait' is a Fluentd v0.12 parameter: use <buffer> timekey_wait",
			"v012.conf:9: warning: 'utc' is a Fluentd v0.12 parameter: use <inject> localtime false and <buffer> timekey_use_utc true",
			"v012.conf:10: warning: 'buffer_chunk_limit' is a Fluentd v0.12 parameter: use <buffer> chunk_limit_size",
			"v012.conf:11: warning: 'buffer_queue_limit' is a Fluentd v0.12 parameter: use <buffer> total_limit_size 16g (chunk_limit_size × 64)",
			"v012.conf:12: warning: 'format' is a Fluentd v0.12 parameter: use <format> @type json",
			"v012.conf:13: warning: 'include_time_key' is a Fluentd v0.12 parameter: use <inject> time_key time, time_type string",
			"v012.conf:14: warning: 'format_json' is ignored, as Fluentd ignores it: a removed v0.12 parameter; for JSON lines use <format> @type json",
		}},
		{"out_file: time chunks of a day by default, tag injected", `<match app.**>
  @type file
  path /var/log/fluent/app
  buffer_type file
  flush_interval 30s
  num_threads 2
  include_tag_key true
  tag_key fluent_tag
  time_format %Y-%m-%d
  retry_wait 2s
</match>
`, `<match app.**> :1
  @type file :2
  path /var/log/fluent/app :3
  <inject > :8
    tag_key fluent_tag :8
  <buffer time> :4
    @type file :4
    flush_interval 30s :5
    flush_thread_count 2 :6
    timekey 1d :4
`, []string{
			"v012.conf:4: warning: 'buffer_type' is a Fluentd v0.12 parameter: use <buffer> @type",
			"v012.conf:5: warning: 'flush_interval' is a Fluentd v0.12 parameter: use <buffer> flush_interval",
			"v012.conf:6: warning: 'num_threads' is a Fluentd v0.12 parameter: use <buffer> flush_thread_count",
			"v012.conf:7: warning: 'include_tag_key' is a Fluentd v0.12 parameter: use <inject> tag_key",
			"v012.conf:8: warning: 'tag_key' is a Fluentd v0.12 parameter: use <inject> tag_key",
			"v012.conf:9: warning: 'time_format' is ignored, as Fluentd ignores it: without include_time_key Fluentd's <inject> writes no time string (use <inject> time_type string)",
			"v012.conf:10: warning: 'retry_wait' is ignored, as Fluentd ignores it: compat_parameters does not carry it into <buffer>: set retry_wait in <buffer>",
		}},
		{"out_forward: tag chunks, every buffer parameter", `<match **>
  @type forward
  buffer_type memory
  buffer_chunk_limit 8m
  buffer_queue_limit 32
  buffer_queue_full_action exception
  flush_interval 5s
  try_flush_interval 1
  queued_chunk_flush_interval 1
  num_threads 4
  retry_limit 5
  max_retry_wait 30s
  disable_retry_limit false
  flush_at_shutdown true
  <server>
    host 192.168.1.3
  </server>
</match>
`, `<match **> :1
  @type forward :2
  <server > :15
    host 192.168.1.3 :16
  <buffer tag> :3
    @type memory :3
    chunk_limit_size 8m :4
    total_limit_size 256m :5
    overflow_action throw_exception :6
    flush_interval 5s :7
    flush_thread_interval 1 :8
    flush_thread_burst_interval 1 :9
    flush_thread_count 4 :10
    retry_max_times 5 :11
    retry_max_interval 30s :12
    retry_forever false :13
    flush_at_shutdown true :14
`, []string{
			"v012.conf:3: warning: 'buffer_type' is a Fluentd v0.12 parameter: use <buffer> @type",
			"v012.conf:4: warning: 'buffer_chunk_limit' is a Fluentd v0.12 parameter: use <buffer> chunk_limit_size",
			"v012.conf:5: warning: 'buffer_queue_limit' is a Fluentd v0.12 parameter: use <buffer> total_limit_size 256m (chunk_limit_size × 32)",
			"v012.conf:6: warning: 'buffer_queue_full_action' is a Fluentd v0.12 parameter: use <buffer> overflow_action throw_exception",
			"v012.conf:7: warning: 'flush_interval' is a Fluentd v0.12 parameter: use <buffer> flush_interval",
			"v012.conf:8: warning: 'try_flush_interval' is a Fluentd v0.12 parameter: use <buffer> flush_thread_interval",
			"v012.conf:9: warning: 'queued_chunk_flush_interval' is a Fluentd v0.12 parameter: use <buffer> flush_thread_burst_interval",
			"v012.conf:10: warning: 'num_threads' is a Fluentd v0.12 parameter: use <buffer> flush_thread_count",
			"v012.conf:11: warning: 'retry_limit' is a Fluentd v0.12 parameter: use <buffer> retry_max_times",
			"v012.conf:12: warning: 'max_retry_wait' is a Fluentd v0.12 parameter: use <buffer> retry_max_interval",
			"v012.conf:13: warning: 'disable_retry_limit' is a Fluentd v0.12 parameter: use <buffer> retry_forever",
			"v012.conf:14: warning: 'flush_at_shutdown' is a Fluentd v0.12 parameter: use <buffer> flush_at_shutdown",
		}},
		{"a <buffer> given: flat buffer parameters ignored, the section wins", `<match **>
  @type gcs
  bucket logs
  flush_interval 10s
  buffer_chunk_limit 1m
  <buffer time>
    timekey 1h
    flush_interval 60s
  </buffer>
</match>
`, `<match **> :1
  @type gcs :2
  bucket logs :3
  <buffer time> :6
    timekey 1h :7
    flush_interval 60s :8
`, []string{
			"v012.conf:4: warning: 'flush_interval' is ignored, as Fluentd ignores it: this <match> has a <buffer> (line 6), and Fluentd then ignores the v0.12 buffer parameters: set flush_interval in <buffer>",
			"v012.conf:5: warning: 'buffer_chunk_limit' is ignored, as Fluentd ignores it: this <match> has a <buffer> (line 6), and Fluentd then ignores the v0.12 buffer parameters: set chunk_limit_size in <buffer>",
		}},
		{"gcs timezone: the time chunks' zone and the injected time's", `<match **>
  @type gcs
  bucket logs
  timezone +0900
  include_time_key true
  time_format %Y-%m-%dT%H:%M:%S%z
</match>
`, `<match **> :1
  @type gcs :2
  bucket logs :3
  <inject > :4
    timezone +0900 :4
    time_key time :5
    time_type string :5
    time_format %Y-%m-%dT%H:%M:%S%z :6
  <buffer > :4
    timekey_zone +0900 :4
`, []string{
			"v012.conf:4: warning: 'timezone' is a Fluentd v0.12 parameter: use <inject> timezone and <buffer> timekey_zone",
			"v012.conf:5: warning: 'include_time_key' is a Fluentd v0.12 parameter: use <inject> time_key time, time_type string",
			"v012.conf:6: warning: 'time_format' is a Fluentd v0.12 parameter: use <inject> time_format",
		}},
		{"both utc and localtime: left for the decoder, as Fluentd refuses them", `<match **>
  @type s3
  s3_bucket logs
  localtime
  utc
  flush_interval 1m
</match>
`, `<match **> :1
  @type s3 :2
  s3_bucket logs :3
  localtime  :4
  utc  :5
  <buffer > :6
    flush_interval 1m :6
`, []string{
			"v012.conf:5: warning: both 'utc' and 'localtime' are given: Fluentd refuses this, keep one of them",
			"v012.conf:6: warning: 'flush_interval' is a Fluentd v0.12 parameter: use <buffer> flush_interval",
		}},
		{"stdout: output_type json has no effect, utc is left (the line prints local time)", `<match debug.**>
  @type stdout
  output_type json
  utc
  include_tag_key true
</match>
`, `<match debug.**> :1
  @type stdout :2
  utc  :4
  <inject > :5
    tag_key tag :5
`, []string{
			"v012.conf:3: warning: 'output_type' is ignored, as Fluentd ignores it: json is what the stdout line writes",
			"v012.conf:5: warning: 'include_tag_key' is a Fluentd v0.12 parameter: use <inject> tag_key tag",
		}},
		{"time_slice_format without %d: Fluentd refuses it as a time slice", `<match **>
  @type file
  path /var/log/monthly
  time_slice_format %Y%m
</match>
`, `<match **> :1
  @type file :2
  path /var/log/monthly :3
  time_slice_format %Y%m :4
`, []string{
			`v012.conf:4: warning: 'time_slice_format' "%Y%m" has no %d, %H, %M or %S: Fluentd refuses a time slice that long, so it gives no time chunk key`,
		}},
		{"out_forward's time_slice_format, repeated flush_interval", `<match **>
  @type forward
  flush_interval 1s
  time_slice_format %Y%m%d
  flush_interval 3s
  <server>
    host a
  </server>
</match>
`, `<match **> :1
  @type forward :2
  <server > :6
    host a :7
  <buffer time> :5
    flush_interval 3s :5
    timekey 1d :4
`, []string{
			"v012.conf:4: warning: 'time_slice_format' is a Fluentd v0.12 parameter: use <buffer time> timekey 1d",
			"v012.conf:5: warning: 'flush_interval' is a Fluentd v0.12 parameter: use <buffer> flush_interval",
		}},
		{"a bad queue length and typos are left alone", `<match **>
  @type s3
  s3_bucket logs
  buffer_queue_limit lots
  bufer_chunk_limit 8m
  s3_buckt other
</match>
`, `<match **> :1
  @type s3 :2
  s3_bucket logs :3
  buffer_queue_limit lots :4
  bufer_chunk_limit 8m :5
  s3_buckt other :6
`, nil},
		{"a <secondary> file output converts its format", `<match **>
  @type forward
  <server>
    host a
  </server>
  <secondary>
    type file
    path /var/log/fluent/forward-failed
    format json
  </secondary>
</match>
`, `<match **> :1
  @type forward :2
  <server > :3
    host a :4
  <secondary > :6
    type file :7
    path /var/log/fluent/forward-failed :8
    <format > :9
      @type json :9
`, []string{
			"v012.conf:9: warning: 'format' is a Fluentd v0.12 parameter: use <format> @type json",
		}},
		{"time_as_epoch alone", `<match **>
  @type stdout
  time_as_epoch true
</match>
`, `<match **> :1
  @type stdout :2
`, []string{
			"v012.conf:3: warning: 'time_as_epoch' is ignored, as Fluentd ignores it: Fluentd reads it only beside include_time_key or time_key",
		}},
		{"time_as_epoch with time_key", `<match **>
  @type stdout
  time_as_epoch true
  time_key ts
</match>
`, `<match **> :1
  @type stdout :2
  <inject > :4
    time_key ts :4
    time_type unixtime :3
`, []string{
			"v012.conf:3: warning: 'time_as_epoch' is a Fluentd v0.12 parameter: use <inject> time_type unixtime",
			"v012.conf:4: warning: 'time_key' is a Fluentd v0.12 parameter: use <inject> time_key",
		}},
		{"@types without compat_parameters are left alone", `<match **>
  @type null
  flush_interval 1s
</match>
`, `<match **> :1
  @type null :2
  flush_interval 1s :3
`, nil},
		{"in_forward is left alone", `<source>
  @type forward
  format json
</source>
`, `<source > :1
  @type forward :2
  format json :3
`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sec, notes := compatFirst(t, tc.src)
			if got := renderCompat(sec); got != tc.want {
				t.Errorf("section:\n%s\nwant:\n%s", got, tc.want)
			}
			if !reflect.DeepEqual(notes, tc.notes) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(notes, "\n"), strings.Join(tc.notes, "\n"))
			}
		})
	}
}

// decodeCompat parses src, rewrites each <source> and <match> with
// compatParams (as loadPlan does before decoding) and decodes it as
// addSource and addOutput do: the row's config, and a <match>'s <buffer>
// into the buffer config of its type.
func decodeCompat(t *testing.T, src string) (cfgs []any, bufs []buffer.Config, err error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "td-agent.conf")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := conf.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var errs conf.Errors
	for _, sec := range root.Sections {
		compatParams(sec, sec.Name, sec.Type())
		k := lookupKind(sec.Name, sec.Type())
		if k == nil {
			t.Fatalf("no row for <%s> @type %s", sec.Name, sec.Type())
		}
		cfg := k.config()
		if sec.Name == "source" {
			errs = append(errs, asErrorsOrNil(conf.Decode(sec, cfg))...)
			cfgs = append(cfgs, cfg)
			continue
		}
		own := *sec
		own.Sections = nil
		buf := buffer.DefaultConfig(k.buffer)
		var bufSec *conf.Section
		for _, c := range sec.Sections {
			switch c.Name {
			case "buffer":
				bufSec = c
			case "secondary":
			default:
				own.Sections = append(own.Sections, c)
			}
		}
		errs = append(errs, asErrorsOrNil(conf.Decode(&own, cfg))...)
		if bufSec != nil {
			if typ := bufSec.Type(); typ != "" && typ != buf.Type {
				buf = buffer.DefaultConfig(typ)
			}
			errs = append(errs, asErrorsOrNil(conf.Decode(bufSec, &buf))...)
		}
		cfgs, bufs = append(cfgs, cfg), append(bufs, buf)
	}
	if len(errs) > 0 {
		return cfgs, bufs, errs
	}
	return cfgs, bufs, nil
}

func asErrorsOrNil(err error) conf.Errors {
	if err == nil {
		return nil
	}
	return asErrors(err)
}

// The rewritten sections are what barge's decoder takes, with the values
// Fluentd's conversion gives.
func TestCompatDecodes(t *testing.T) {
	t.Run("out_s3 of the v0.12 docs", func(t *testing.T) {
		cfgs, bufs, err := decodeCompat(t, `<match s3.**>
  @type s3
  s3_bucket logs
  path logs/
  buffer_type file
  buffer_path /var/log/fluent/s3
  time_slice_format %Y%m%d%H
  time_slice_wait 10m
  utc
  buffer_chunk_limit 256m
  buffer_queue_limit 64
  format json
  include_time_key true
</match>
`)
		if err != nil {
			t.Fatal(err)
		}
		b, c := bufs[0], cfgs[0].(*s3.Config)
		if b.Type != "file" || b.Path != "/var/log/fluent/s3" || !reflect.DeepEqual(b.ChunkKeys, []string{"time"}) ||
			b.TimeKey != time.Hour || b.TimeKeyWait != 10*time.Minute || !b.TimeKeyUseUTC ||
			b.ChunkLimitSize != 256<<20 || b.TotalLimitSize != 16<<30 {
			t.Errorf("buffer = %+v", b)
		}
		if c.TimeSliceFormat != "%Y%m%d%H" || c.Format.Type != "json" || c.Inject.TimeKey != "time" ||
			c.Inject.TimeType != "string" || c.Inject.Localtime {
			t.Errorf("s3 = %+v", c)
		}
	})
	t.Run("out_file: buffer_chunk_limit 8m, hourly slices", func(t *testing.T) {
		cfgs, bufs, err := decodeCompat(t, `<match app.**>
  @type file
  path /var/log/fluent/app
  buffer_chunk_limit 8m
  time_slice_format %Y%m%d%H
  format single_value
  message_key log
</match>
`)
		if err != nil {
			t.Fatal(err)
		}
		b, c := bufs[0], cfgs[0].(*file.Config)
		if b.ChunkLimitSize != 8<<20 || b.TimeKey != time.Hour || !reflect.DeepEqual(b.ChunkKeys, []string{"time"}) {
			t.Errorf("buffer = %+v", b)
		}
		if c.Format.Type != "single_value" || c.Format.MessageKey != "log" {
			t.Errorf("format = %+v", c.Format)
		}
	})
	t.Run("out_forward: tag chunks, retries, overflow", func(t *testing.T) {
		cfgs, bufs, err := decodeCompat(t, `<match **>
  @type forward
  buffer_type memory
  buffer_chunk_limit 8m
  buffer_queue_limit 16
  buffer_queue_full_action exception
  flush_interval 5s
  num_threads 2
  retry_limit 5
  max_retry_wait 30s
  <server>
    host 127.0.0.1
  </server>
</match>
`)
		if err != nil {
			t.Fatal(err)
		}
		b := bufs[0]
		want := buffer.DefaultConfig("memory")
		want.ChunkKeys = []string{"tag"}
		want.ChunkLimitSize, want.TotalLimitSize = 8<<20, 128<<20
		want.OverflowAction = "throw_exception"
		want.FlushInterval, want.FlushThreadCount = 5*time.Second, 2
		want.RetryMaxTimes, want.RetryMaxInterval = 5, 30*time.Second
		if !reflect.DeepEqual(b, want) {
			t.Errorf("buffer = %+v\nwant     %+v", b, want)
		}
		if c := cfgs[0].(*forward.Config); len(c.Servers) != 1 {
			t.Errorf("servers = %+v", c.Servers)
		}
	})
	t.Run("in_tail nginx and multiline", func(t *testing.T) {
		cfgs, _, err := decodeCompat(t, `<source>
  @type tail
  path /var/log/nginx/access.log
  tag nginx.access
  format nginx
  time_format %d/%b/%Y:%H:%M:%S %z
  keep_time_key true
</source>
<source>
  @type tail
  path /var/log/app.log
  tag app
  format multiline
  format_firstline /^\d{4}/
  format1 /^(?<time>\d{4}-\d{2}-\d{2}) (?<code>\d+) (?<message>.*)/
  types code:integer
  localtime false
</source>
`)
		if err != nil {
			t.Fatal(err)
		}
		ng, ml := cfgs[0].(*tail.Config).Parse, cfgs[1].(*tail.Config).Parse
		if ng.Type != "nginx" || ng.TimeFormat != "%d/%b/%Y:%H:%M:%S %z" || ng.KeepTimeKey != "true" {
			t.Errorf("nginx parse = %+v", ng)
		}
		if ml.Type != "multiline" || ml.FormatFirstline != `/^\d{4}/` || ml.Format1 == "" ||
			!reflect.DeepEqual(ml.Types, map[string]string{"code": "integer"}) || ml.Localtime {
			t.Errorf("multiline parse = %+v", ml)
		}
	})
	t.Run("gcs and stdout", func(t *testing.T) {
		cfgs, bufs, err := decodeCompat(t, `<match archive.**>
  @type gcs
  bucket logs
  timezone +0900
  include_tag_key true
  format_json true
</match>
<match debug.**>
  @type stdout
  format json
  include_time_key true
</match>
`)
		if err != nil {
			t.Fatal(err)
		}
		g, st := cfgs[0].(*gcs.Config), cfgs[1].(*stdout.Config)
		if bufs[0].TimeKeyZone != "+0900" || g.Inject.Timezone != "+0900" || g.Inject.TagKey != "tag" {
			t.Errorf("gcs = %+v, buffer %+v", g.Inject, bufs[0])
		}
		if st.Format.Type != "json" || st.Inject.TimeKey != "time" || st.Inject.TimeType != "string" {
			t.Errorf("stdout = %+v", st)
		}
	})
}

// What barge does not have stays an error at the user's line, and a
// typo keeps its "did you mean".
func TestCompatRefusals(t *testing.T) {
	cases := []struct{ name, src, err string }{
		{"a format barge does not have", `<match **>
  @type file
  path /tmp/out
  format csv
</match>
`, "td-agent.conf:4: '@type' must be one of json, ltsv, msgpack, single_value, stdout, out_file, got \"csv\""},
		{"a buffer type barge does not have", `<match **>
  @type s3
  s3_bucket b
  buffer_type redis
</match>
`, "td-agent.conf:4: '@type' must be one of file, memory, got \"redis\""},
		{"a formatter parameter barge does not have", `<match **>
  @type stdout
  output_type hash
</match>
`, "td-agent.conf:3: <match **>: unknown parameter 'output_type'"},
		{"both utc and localtime", `<match **>
  @type file
  path /tmp/out
  utc
  localtime
</match>
`, "td-agent.conf:4: <match **>: unknown parameter 'utc'"},
		{"a typo", `<match **>
  @type s3
  s3_buckt b
  buffer_chunk_limit 1m
</match>
`, "td-agent.conf:3: <match **>: unknown parameter 's3_buckt', did you mean 's3_bucket'?"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decodeCompat(t, tc.src)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tc.err)
			}
		})
	}
}
