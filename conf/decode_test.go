package conf

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

type tUser struct {
	Username string `conf:"username" required:"true"`
	Password string `conf:"password"`
}

type tSecurity struct {
	SelfHostname string  `conf:"self_hostname" required:"true"`
	SharedKey    string  `conf:"shared_key"`
	UserAuth     bool    `conf:"user_auth"`
	Users        []tUser `conf:"<user>"`
}

type tTransport struct {
	Protocol string `conf:",arg" enum:"tcp,tls"`
	CertPath string `conf:"cert_path"`
	Verify   bool   `conf:"client_cert_auth" default:"true"`
	Version  string `conf:"version" default:"TLSv1_2"`
}

type tBuffer struct {
	Type       string        `conf:"@type" enum:"file,memory"`
	ChunkKeys  []string      `conf:",arg"`
	ChunkLimit int64         `conf:"chunk_limit_size,size"`
	FlushMode  string        `conf:"flush_mode" enum:"default,interval,immediate,lazy"`
	Timekey    time.Duration `conf:"timekey"`
	Threads    int           `conf:"flush_thread_count"`
	validated  bool
}

func (b *tBuffer) Validate() error {
	b.validated = true
	if b.Threads < 1 {
		return errors.New("'flush_thread_count' must be at least 1")
	}
	if b.FlushMode == "interval" && b.Timekey > 0 {
		return errors.Join(errors.New("'timekey' conflicts with 'flush_mode'"), errors.New("no good"))
	}
	return nil
}

type tEmbedded struct {
	Region string `conf:"region"`
}

type tOut struct {
	Type      string            `conf:"@type"`
	ID        string            `conf:"@id"`
	Bucket    string            `conf:"bucket" required:"true"`
	Port      int               `conf:"port"`
	Small     int               `conf:"small,size"`
	Ratio     float64           `conf:"ratio"`
	Gzip      bool              `conf:"gzip"`
	Keys      []string          `conf:"keys" enum:"a,b,c"`
	Tags      map[string]string `conf:"tags"`
	Patterns  string            `conf:",arg"`
	Buffer    tBuffer           `conf:"<buffer>"`
	Security  *tSecurity        `conf:"<security>"`
	Transport *tTransport       `conf:"<transport>"`
	Record    map[string]string `conf:"<record>,rest"`
	Internal  string            `conf:"-"`
	Untagged  string
	tEmbedded
}

func (o *tOut) Validate() error {
	if o.Buffer.ChunkLimit != 0 && !o.Buffer.validated {
		return errors.New("nested Validate did not run first")
	}
	if o.Bucket == "forbidden" {
		return fmt.Errorf("'bucket' %q is not allowed", o.Bucket)
	}
	if o.Port == 1 {
		return errors.New("'nothere' must be set when port is 1")
	}
	return nil
}

func defaultOut() tOut {
	return tOut{Port: 24224, Internal: "keep", Untagged: "keep", Buffer: tBuffer{Type: "file", Threads: 1, FlushMode: "default"},
		Record: map[string]string{"default": "x"}}
}

func decodeString(t *testing.T, in string, dst any) error {
	t.Helper()
	root, err := Parse("t.conf", []byte(in))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return Decode(root.Sections[0], dst)
}

func TestDecode(t *testing.T) {
	in := `<match a.** b.*>
  @type s3
  @id out1
  @log_level debug
  bucket logs
  small 2k
  ratio 0.25
  gzip
  keys ["a", "c"]
  tags a:1, b:2
  region eu
  <buffer tag, time>
    @type memory
    chunk_limit_size 8m
    flush_mode interval
    flush_thread_count 4
  </buffer>
  <security>
    self_hostname me
    shared_key "#{ENV['BARGE_TEST_KEY']}"
    user_auth yes
    <user>
      username u1
      password p1
    </user>
    <user>
      username u2
    </user>
  </security>
  <transport tls>
    cert_path /c.pem
  </transport>
  <record>
    host ${hostname}
    tag ${tag}
  </record>
</match>
`
	t.Setenv("BARGE_TEST_KEY", "k3y")
	got := defaultOut()
	shared := got.Record
	if err := decodeString(t, in, &got); err != nil {
		t.Fatal(err)
	}
	want := tOut{
		Type: "s3", ID: "out1", Bucket: "logs", Port: 24224, Small: 2048, Ratio: 0.25, Gzip: true,
		Keys: []string{"a", "c"}, Tags: map[string]string{"a": "1", "b": "2"}, Patterns: "a.** b.*",
		Buffer: tBuffer{Type: "memory", ChunkKeys: []string{"tag", "time"}, ChunkLimit: 8 << 20, FlushMode: "interval", Threads: 4, validated: true},
		Security: &tSecurity{SelfHostname: "me", SharedKey: "k3y", UserAuth: true,
			Users: []tUser{{Username: "u1", Password: "p1"}, {Username: "u2"}}},
		Transport: &tTransport{Protocol: "tls", CertPath: "/c.pem", Verify: true, Version: "TLSv1_2"},
		Record:    map[string]string{"default": "x", "host": "${hostname}", "tag": "${tag}"},
		Internal:  "keep", Untagged: "keep", tEmbedded: tEmbedded{Region: "eu"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if len(shared) != 1 {
		t.Errorf("the default map was changed: %v", shared)
	}
}

func TestDecodeKeepsDefaults(t *testing.T) {
	got := defaultOut()
	got.Security = &tSecurity{SelfHostname: "default", SharedKey: "dk", UserAuth: true}
	sec := got.Security
	if err := decodeString(t, "<match>\n bucket b\n <security>\n  shared_key new\n  self_hostname h\n </security>\n</match>\n", &got); err != nil {
		t.Fatal(err)
	}
	if got.Port != 24224 || got.Buffer.Threads != 1 || got.Buffer.FlushMode != "default" || got.Record["default"] != "x" {
		t.Errorf("defaults lost: %+v", got)
	}
	if !got.Security.UserAuth || got.Security.SharedKey != "new" || sec.SharedKey != "dk" {
		t.Errorf("pointer section: got %+v, old %+v", got.Security, sec)
	}
	if got.Transport != nil {
		t.Errorf("absent pointer section: %+v", got.Transport)
	}
}

func TestDecodeLegacyType(t *testing.T) {
	got := defaultOut()
	if err := decodeString(t, "<match>\n type file\n bucket b\n</match>\n", &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != "file" {
		t.Errorf("type: %q", got.Type)
	}
}

type tRest struct {
	Type  string            `conf:"@type"`
	Known string            `conf:"known"`
	Extra map[string]string `conf:",rest"`
}

func TestDecodeRest(t *testing.T) {
	var got tRest
	if err := decodeString(t, "<filter>\n @type grep\n @id x\n known 1\n regexp1 message foo\n other\n</filter>\n", &got); err != nil {
		t.Fatal(err)
	}
	want := tRest{Type: "grep", Known: "1", Extra: map[string]string{"regexp1": "message foo", "other": ""}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"unknown parameter with suggestion", "<match foo.**>\n bucket b\n bukcet x\n</match>\n",
			[]string{"t.conf:3: <match foo.**>: unknown parameter 'bukcet', did you mean 'bucket'?"}},
		{"unknown parameter without suggestion", "<match>\n bucket b\n zzzzzz 1\n</match>\n",
			[]string{"t.conf:3: <match>: unknown parameter 'zzzzzz'"}},
		{"reserved not declared", "<match>\n bucket b\n @label @x\n <buffer>\n  @id b\n  @log_level info\n </buffer>\n</match>\n",
			[]string{"t.conf:3: <match>: unknown parameter '@label'"}},
		{"unknown section", "<match>\n bucket b\n <bufer>\n </bufer>\n <zzz>\n </zzz>\n</match>\n",
			[]string{"t.conf:3: <match>: unknown section <bufer>, did you mean <buffer>?", "t.conf:5: <match>: unknown section <zzz>"}},
		{"types", "<match>\n bucket b\n port abc\n ratio x\n gzip maybe\n small 1q\n keys \"[1\"\n tags a\n <buffer>\n  timekey 1w\n  chunk_limit_size -1\n </buffer>\n</match>\n",
			[]string{
				`t.conf:3: 'port' must be an integer, got "abc"`,
				`t.conf:4: 'ratio' must be a number, got "x"`,
				`t.conf:5: 'gzip' must be true or false, got "maybe"`,
				`t.conf:6: 'small' must be a size (like 512k, 8m, 1g or bytes), got "1q"`,
				`t.conf:7: 'keys' must be an array (a,b or ["a","b"]): invalid JSON array: unexpected end of JSON input`,
				`t.conf:8: 'tags' must be a hash (a:b,c:d or {"a":"b"}): "a" is not key:value`,
				`t.conf:10: 'timekey' must be a duration (like 10s, 5m, 1h, 1d or 0.5 seconds), got "1w"`,
				`t.conf:11: 'chunk_limit_size' must be a size (like 512k, 8m, 1g or bytes), got "-1"`,
			}},
		{"int overflow", "<match>\n bucket b\n port 99999999999999999999\n</match>\n",
			[]string{`t.conf:3: 'port' must be an integer, got "99999999999999999999"`}},
		{"enum", "<match>\n bucket b\n keys a,x\n <buffer>\n  flush_mode x\n  @type s3\n </buffer>\n</match>\n",
			[]string{
				`t.conf:3: 'keys' must be one of a, b, c, got "x"`,
				`t.conf:5: 'flush_mode' must be one of default, interval, immediate, lazy, got "x"`,
				`t.conf:6: '@type' must be one of file, memory, got "s3"`,
			}},
		{"enum arg", "<match>\n bucket b\n <transport udp>\n </transport>\n</match>\n",
			[]string{`t.conf:3: <transport udp>: argument must be one of tcp, tls, got "udp"`}},
		{"required", "<match x>\n port 1\n</match>\n", []string{"t.conf:1: <match x>: 'bucket' is required"}},
		{"required nested", "<match x>\n bucket b\n <security>\n  <user>\n   password p\n  </user>\n </security>\n</match>\n",
			[]string{"t.conf:3: <security>: 'self_hostname' is required", "t.conf:4: <user>: 'username' is required"}},
		{"section twice", "<match>\n bucket b\n <buffer>\n </buffer>\n <buffer>\n </buffer>\n <security>\n  self_hostname h\n </security>\n <security>\n </security>\n</match>\n",
			[]string{"t.conf:5: <match>: <buffer> may appear only once (first at line 3)", "t.conf:10: <match>: <security> may appear only once (first at line 7)"}},
		{"section inside rest section", "<match>\n bucket b\n <record>\n  a 1\n  <x>\n  </x>\n </record>\n</match>\n",
			[]string{"t.conf:5: <record>: unknown section <x>: <record> holds parameters only"}},
		{"validate at key line", "<match>\n bucket b\n <buffer>\n  @type file\n  flush_thread_count 0\n </buffer>\n</match>\n",
			[]string{"t.conf:5: <buffer>: 'flush_thread_count' must be at least 1"}},
		{"validate at section line", "<match>\n bucket b\n port 1\n</match>\n",
			[]string{"t.conf:1: <match>: 'nothere' must be set when port is 1"}},
		{"validate quoted key with value", "<match>\n\n bucket forbidden\n</match>\n",
			[]string{`t.conf:3: <match>: 'bucket' "forbidden" is not allowed`}},
		{"validate joined", "<match>\n bucket b\n <buffer>\n  flush_mode interval\n  timekey 1h\n </buffer>\n</match>\n",
			[]string{"t.conf:5: <buffer>: 'timekey' conflicts with 'flush_mode'", "t.conf:3: <buffer>: no good"}},
		{"no validate after errors", "<match>\n bucket b\n <buffer>\n  flush_thread_count 0\n  flush_mode x\n </buffer>\n</match>\n",
			[]string{`t.conf:5: 'flush_mode' must be one of default, interval, immediate, lazy, got "x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := defaultOut()
			err := decodeString(t, tt.in, &got)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %v (%T) is not Errors", err, err)
			}
			var msgs []string
			for _, e := range errs {
				if _, ok := e.(*Error); !ok {
					t.Errorf("%T is not *Error", e)
				}
				msgs = append(msgs, e.Error())
			}
			if !reflect.DeepEqual(msgs, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(msgs, "\n"), strings.Join(tt.want, "\n"))
			}
			if err.Error() != strings.Join(tt.want, "\n") {
				t.Errorf("Error(): %q", err.Error())
			}
		})
	}
}

type tRequiredSection struct {
	Sec  *tUser   `conf:"<sec>" required:"true"`
	Arg  []string `conf:",arg" required:"true"`
	Many []tUser  `conf:"<many>"`
}

type tBadTag struct {
	X string `conf:"x,bogus"`
}

type tBadType struct {
	X uint `conf:"x"`
}

type tBadDefault struct {
	Items []struct {
		N int `conf:"n" default:"abc"`
	} `conf:"<item>"`
}

func TestDecodeMisuse(t *testing.T) {
	tests := []struct {
		name, in string
		dst      any
		want     string
	}{
		{"required section and arg", "<s>\n</s>\n", &tRequiredSection{},
			"t.conf:1: <s>: an argument is required (<s ARG>)\nt.conf:1: <s>: a <sec> section is required"},
		{"bad tag option", "<s>\n</s>\n", &tBadTag{}, `t.conf:1: <s>: conf: conf.tBadTag.X: unknown option "bogus"`},
		{"bad field type", "<s>\n</s>\n", &tBadType{}, "t.conf:1: <s>: conf: conf.tBadType.X: unsupported field type uint for 'x'"},
		{"bad default", "<s>\n<item>\n</item>\n</s>\n", &tBadDefault{}, `t.conf:2: <item>: conf: struct { N int "conf:\"n\" default:\"abc\"" }: bad default: 'n' must be an integer, got "abc"`},
		{"not a pointer", "<s>\n</s>\n", tUser{}, "conf: Decode needs a section and a non-nil pointer to a struct, got conf.tUser"},
		{"nil pointer", "<s>\n</s>\n", (*tUser)(nil), "conf: Decode needs a section and a non-nil pointer to a struct, got *conf.tUser"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeString(t, tt.in, tt.dst)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"bucket", "port", "path", "flush_interval", "chunk_limit_size"}
	tests := []struct{ in, want string }{
		{"bukcet", ", did you mean 'bucket'?"},
		{"buckets", ", did you mean 'bucket'?"},
		{"prot", ", did you mean 'port'?"},
		{"flush_intreval", ", did you mean 'flush_interval'?"},
		{"chunk_size_limit", ""},
		{"xy", ""},
		{"completely_other", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := suggest(tt.in, keys, "'", "'"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeLastWins(t *testing.T) {
	got := defaultOut()
	if err := decodeString(t, "<match>\n bucket b\n port abc\n port 5\n @type x\n type y\n</match>\n", &got); err != nil {
		t.Fatal(err)
	}
	if got.Port != 5 || got.Type != "y" {
		t.Errorf("port %d, type %q", got.Port, got.Type)
	}
}

// TestDecodeSizeOrMinusOne: a ,size-1 parameter takes a size or -1
// (Fluentd's "unlimited"); a ,size one still refuses -1.
func TestDecodeSizeOrMinusOne(t *testing.T) {
	type limits struct {
		Rate  int64 `conf:"rate,size-1"`
		Chunk int64 `conf:"chunk,size"`
	}
	for _, tt := range []struct {
		in      string
		want    limits
		wantErr string
	}{
		{"rate -1\n", limits{Rate: -1}, ""},
		{"rate 8m\n", limits{Rate: 8 << 20}, ""},
		{"rate -2\n", limits{}, "'rate' must be a size"},
		{"chunk -1\n", limits{}, "'chunk' must be a size"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			var got limits
			err := decodeString(t, "<source>\n"+tt.in+"</source>\n", &got)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case got != tt.want:
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
