package conf

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// Structs shaped like barge's components, to decode testdata/fluentd.conf.

type sForward struct {
	Type           string        `conf:"@type"`
	ID             string        `conf:"@id"`
	Port           int           `conf:"port"`
	Bind           string        `conf:"bind"`
	ChunkSizeLimit int64         `conf:"chunk_size_limit,size"`
	ChunkSizeWarn  int64         `conf:"chunk_size_warn_limit,size"`
	SkipInvalid    bool          `conf:"skip_invalid_event"`
	HostnameKey    string        `conf:"source_hostname_key"`
	Linger         time.Duration `conf:"linger_timeout"`
	Security       *tSecurity    `conf:"<security>"`
	Transport      *sTransport   `conf:"<transport>"`
}

type sTransport struct {
	Protocol   string `conf:",arg" enum:"tcp,tls"`
	CertPath   string `conf:"cert_path"`
	KeyPath    string `conf:"private_key_path"`
	ClientAuth bool   `conf:"client_cert_auth"`
}

type sSample struct {
	Type        string            `conf:"@type"`
	ID          string            `conf:"@id"`
	Path        string            `conf:"path"`
	Compress    string            `conf:"compress" enum:"gzip,zstd,none"`
	Buffer      sBuffer           `conf:"<buffer>"`
	Format      map[string]string `conf:"<format>,rest"`
	Inject      map[string]string `conf:"<inject>,rest"`
	Secondary   *sSecondary       `conf:"<secondary>"`
	RemoveKeys  []string          `conf:"remove_keys"`
	Record      map[string]string `conf:"<record>,rest"`
	Regexps     []tUser           `conf:"-"`
	SystemLevel string            `conf:"log_level"`
}

type sBuffer struct {
	Type      string            `conf:"@type" enum:"file,memory"`
	ChunkKeys []string          `conf:",arg"`
	Timekey   time.Duration     `conf:"timekey"`
	Wait      time.Duration     `conf:"timekey_wait"`
	Limit     int64             `conf:"chunk_limit_size,size"`
	Total     int64             `conf:"total_limit_size,size"`
	Shutdown  bool              `conf:"flush_at_shutdown"`
	Other     map[string]string `conf:",rest"`
}

type sSecondary struct {
	Type      string `conf:"@type"`
	Directory string `conf:"directory" required:"true"`
	Basename  string `conf:"basename"`
}

func TestDecodeSample(t *testing.T) {
	t.Setenv("BARGE_TEST_HOSTNAME", "host-1")
	root, err := ParseFile(filepath.Join("testdata", "fluentd.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var fwd sForward
	if err := Decode(root.Children("source")[0], &fwd); err != nil {
		t.Fatal(err)
	}
	wantFwd := sForward{Type: "forward", ID: "in_forward", Port: 24224, Bind: "0.0.0.0", ChunkSizeLimit: 8 << 20, ChunkSizeWarn: 4 << 20,
		SkipInvalid: true, HostnameKey: "source_host", Linger: 500 * time.Millisecond,
		Security: &tSecurity{SelfHostname: "host-1", SharedKey: "s3cr3t#not-a-comment", UserAuth: true,
			Users: []tUser{{"alice", `pa"ss#word`}, {"bob", `b"ob\`}}},
		Transport: &sTransport{Protocol: "tls", CertPath: "/etc/barge/cert.pem", KeyPath: "/etc/barge/key.pem", ClientAuth: true},
	}
	if !reflect.DeepEqual(fwd, wantFwd) {
		t.Errorf("got  %+v\nwant %+v", fwd, wantFwd)
	}

	var m sSample
	if err := Decode(root.Children("match")[0], &m); err != nil {
		t.Fatal(err)
	}
	want := sSample{Type: "file", ID: "out_file", Path: "/var/log/barge/${tag}/%Y/%m/%d", Compress: "gzip",
		Buffer: sBuffer{Type: "file", ChunkKeys: []string{"tag", "time"}, Timekey: time.Hour, Wait: 10 * time.Minute,
			Limit: 256 << 20, Total: 64 << 30, Shutdown: true, Other: map[string]string{
				"path": "/var/lib/barge/buffer/app", "timekey_use_utc": "true", "flush_mode": "interval", "flush_interval": "60s",
				"flush_thread_count": "2", "overflow_action": "block", "retry_type": "exponential_backoff",
				"retry_max_interval": "5m", "retry_timeout": "72h"}},
		Format:    map[string]string{"@type": "json"},
		Inject:    map[string]string{"tag_key": "tag", "time_key": "time", "time_type": "string", "time_format": "%Y-%m-%dT%H:%M:%S.%NZ"},
		Secondary: &sSecondary{Type: "secondary_file", Directory: "/var/log/barge/failed", Basename: "dump.${chunk_id}"},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}
}

type sExpr struct {
	Key     string `conf:"key" required:"true"`
	Pattern string `conf:"pattern" required:"true"`
}

type sGrep struct {
	Regexps  []sExpr `conf:"<regexp>"`
	Excludes []sExpr `conf:"<exclude>"`
}

type sTransformer struct {
	Record     map[string]string `conf:"<record>,rest"`
	RemoveKeys []string          `conf:"remove_keys"`
}

func TestDecodeSampleFilters(t *testing.T) {
	root, err := ParseFile(filepath.Join("testdata", "fluentd.conf"))
	if err != nil {
		t.Fatal(err)
	}
	filters := root.Children("filter")
	var tr sTransformer
	if err := Decode(filters[0], &tr); err != nil {
		t.Fatal(err)
	}
	wantTr := sTransformer{
		Record:     map[string]string{"hostname": "${hostname}", "tag": "${tag}", "message": `prefix: ${record["message"]}`},
		RemoveKeys: []string{"secret", "password"},
	}
	if !reflect.DeepEqual(tr, wantTr) {
		t.Errorf("got %+v", tr)
	}
	var g sGrep
	if err := Decode(filters[1], &g); err != nil {
		t.Fatal(err)
	}
	wantG := sGrep{Regexps: []sExpr{{"level", "/^(ERROR|WARN)$/"}}, Excludes: []sExpr{{"path", "/health/"}}}
	if !reflect.DeepEqual(g, wantG) {
		t.Errorf("got %+v", g)
	}
	if got := SplitArg(filters[1].Arg); !reflect.DeepEqual(got, []string{"app.{web,api}.**"}) {
		t.Errorf("SplitArg: %q", got)
	}
}
