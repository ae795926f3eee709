package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A file buffer needs no path: the file output keeps it beside its own
// path, other outputs under root_dir (default /var/lib/barge), named
// after @id or the pattern; two buffers in one directory are refused.
func TestDefaultBufferPath(t *testing.T) {
	const src = "<source>\n  @type forward\n  port 0\n</source>\n"
	cases := []struct {
		name, config string
		want         []string // each match's buffer path
		err          string
	}{
		{"file output beside its path", src + `<match app.**>
  @type file
  path /var/log/fluent/app/${tag}/%Y%m%d
  <buffer tag,time>
    timekey 1d
  </buffer>
</match>
<match other.**>
  @type file
  @id other
  path /var/log/fluent/other
</match>
`, []string{"/var/log/fluent/app.buffer/app.", "/var/log/fluent/other.buffer/other"}, ""},
		{"s3 under the default root_dir", src + `<match **>
  @type s3
  s3_bucket b
</match>
`, []string{"/var/lib/barge/buffer/default"}, ""},
		{"root_dir and @id", "<system>\n  root_dir /data/barge\n</system>\n" + src + `<match app.**>
  @type gcs
  @id archive
  bucket b
</match>
<match **>
  @type file
  path ${tag}/
  <buffer tag>
  </buffer>
</match>
`, []string{"/data/barge/buffer/archive", "/data/barge/buffer/default"}, ""},
		{"an explicit path is kept", src + `<match **>
  @type file
  path out/
  <buffer>
    path /tmp/buf
  </buffer>
</match>
`, []string{"/tmp/buf"}, ""},
		{"two buffers in one directory", src + `<match a.**>
  @type s3
  @id same
  s3_bucket b
</match>
<match b.**>
  @type s3
  @id same
  s3_bucket c
</match>
`, nil, ":10: <match b.**>: its file buffer /var/lib/barge/buffer/same is also the buffer of <match a.**> at "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "barge.conf")
			if err := os.WriteFile(path, []byte(tc.config), 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := loadPlan(path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), path+tc.err) {
					t.Fatalf("err %v, want %q", err, path+tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range p.matches {
				got = append(got, m.buffer.Path)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("buffer paths %q, want %q", got, tc.want)
			}
		})
	}
}

// A config without <source> (a fragment others @include) is checked with
// a warning, not refused.
func TestNoSourceIsAWarning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fragment.conf")
	if err := os.WriteFile(path, []byte("<match **>\n  @type stdout\n</match>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := loadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	ws := p.warnings()
	if len(ws) != 1 || ws[0].String() != path+":1: warning: no <source> or <loader> directive: nothing will be read (fine for a file that others @include)" {
		t.Fatalf("warnings %v", ws)
	}
}

// workers N is accepted with a warning (barge is one multithreaded
// process); a <worker N> section is refused, saying why.
func TestWorkers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "barge.conf")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("<system>\n  workers 3\n</system>\n<source>\n  @type forward\n  port 0\n</source>\n")
	p, err := loadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	if ws := p.warnings(); len(ws) != 1 || !strings.HasPrefix(ws[0].String(), path+":2: warning: 'workers 3': barge runs one process") {
		t.Fatalf("warnings %v", ws)
	}
	write("<worker 0>\n  <source>\n    @type forward\n  </source>\n</worker>\n<source>\n  @type forward\n  port 0\n</source>\n")
	if _, err := loadPlan(path); err == nil || !strings.Contains(err.Error(), path+":1: <worker 0> is not supported: barge runs one process") {
		t.Fatalf("err %v", err)
	}
}

// <inject> time_format without time_type string is accepted with an info
// line, as Fluentd ignores it there.
func TestTimeFormatWithoutString(t *testing.T) {
	path := filepath.Join(t.TempDir(), "barge.conf")
	conf := "<source>\n  @type forward\n  port 0\n</source>\n<match **>\n  @type file\n  path out/\n  <inject>\n    time_key t\n    time_format %Y\n  </inject>\n</match>\n"
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := loadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	ws := p.warnings()
	if len(ws) != 1 || !ws[0].info || ws[0].String() != path+":10: info: <inject> 'time_format' has no effect without 'time_type string' (time_type is float): ignored, as Fluentd ignores it" {
		t.Fatalf("notes %v", ws)
	}
}

// A loader following an s3 output takes the output's credential sources
// it has no parameters for (here <web_identity_credentials>), unless it
// sets its own keys.
func TestLoaderFollowsS3Credentials(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "barge.conf")
	conf := `<source>
  @type forward
  port 0
</source>
<match e.**>
  @type s3
  @id s3_out
  s3_bucket logs
  path e/
  <web_identity_credentials>
    role_arn arn:aws:iam::123456789012:role/barge
    role_session_name barge
    web_identity_token_file /var/run/secrets/token
  </web_identity_credentials>
  <buffer time>
    path ./buf-e
    timekey 1h
    timekey_use_utc true
  </buffer>
</match>
<loader e>
  @type bigquery
  dataset d
  table t
  staging gs://stage/e/
  source_output s3_out
LOADER_KEYS
</loader>
`
	for _, tc := range []struct {
		keys string
		want bool
	}{{"", true}, {"  aws_key_id AKIA\n  aws_sec_key secret", false}} {
		if err := os.WriteFile(path, []byte(strings.Replace(conf, "LOADER_KEYS\n", tc.keys+"\n", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := loadPlan(path)
		if err != nil {
			t.Fatal(err)
		}
		f := p.loaders[0].cfg.FollowedCredentials
		if got := f != nil && f.WebIdentity != nil && f.WebIdentity.RoleARN == "arn:aws:iam::123456789012:role/barge"; got != tc.want {
			t.Errorf("loader keys %q: followed web identity %v, want %v", tc.keys, got, tc.want)
		}
	}
}
