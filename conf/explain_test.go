package conf

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestDecodeAbsent: a value that evaluates use_default or use_nil is not
// given: the field keeps its default, a ,rest map does not get the key,
// and the last parameter of a key still wins.
func TestDecodeAbsent(t *testing.T) {
	t.Setenv("BARGE_T_PORT", "7000")
	tests := []struct {
		name, in string
		check    func(tOut) bool
	}{
		{"use_default keeps the default", `port "#{ENV['BARGE_T_UNSET'] || use_default}"`, func(o tOut) bool { return o.Port == 24224 }},
		{"use_nil keeps the default", `port "#{ENV['BARGE_T_UNSET'] || use_nil}"`, func(o tOut) bool { return o.Port == 24224 }},
		{"a set variable is used", `port "#{ENV['BARGE_T_PORT'] || use_default}"`, func(o tOut) bool { return o.Port == 7000 }},
		{"the last one wins", "port 1\n port \"#{use_default}\"", func(o tOut) bool { return o.Port == 24224 }},
		{"a later value wins", "port \"#{use_default}\"\n port 5", func(o tOut) bool { return o.Port == 5 }},
		{"fallback integer", `port "#{ENV['BARGE_T_UNSET'] || 9000}"`, func(o tOut) bool { return o.Port == 9000 }},
		{"rest map", "<record>\n  a \"#{use_nil}\"\n  b \"#{use_default}\"\n  c x\n </record>",
			func(o tOut) bool { return reflect.DeepEqual(o.Record, map[string]string{"default": "x", "c": "x"}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := defaultOut()
			if err := decodeString(t, "<match>\n bucket b\n "+tt.in+"\n</match>\n", &got); err != nil {
				t.Fatal(err)
			}
			if !tt.check(got) {
				t.Errorf("got %+v", got)
			}
		})
	}
}

func TestSectionAbsentParam(t *testing.T) {
	root, err := Parse("t.conf", []byte("a 1\na \"#{use_default}\"\nb \"#{use_nil}\"\nb 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if root.Has("a") || root.Get("a") != "" || root.Param("a") != nil {
		t.Errorf("a: the last is use_default, so a is not given")
	}
	if !root.Has("b") || root.Get("b") != "2" {
		t.Errorf("b: the last is 2")
	}
	if p := root.Params[1]; !p.Absent() || !p.UseDefault || p.UseNil || p.Value != "" {
		t.Errorf("a: %+v", p)
	}
	if got := root.String(); got != "a 1\na \"#{use_default}\"\nb \"#{use_nil}\"\nb 2\n" {
		t.Errorf("String: %q", got)
	}
}

// tS3 checks its required key in Validate, as barge's outputs do.
type tS3 struct {
	Bucket string `conf:"s3_bucket"`
	Region string `conf:"s3_region"`
}

func (c *tS3) Validate() error {
	if c.Bucket == "" {
		return errors.New("'s3_bucket' is required")
	}
	if c.Region == "x" {
		return errors.New("'s3_region' must not be x")
	}
	return nil
}

// TestDecodeUnset: a value emptied, defaulted or niled by an unset
// variable says so, naming the variable, in the required check, in value
// errors and in Validate's messages; every problem of a section is
// reported together.
func TestDecodeUnset(t *testing.T) {
	t.Setenv("BARGE_T_EMPTY", "")
	tests := []struct {
		name, in string
		dst      func() any
		want     []string
	}{
		{"required, empty", "<match>\n bucket \"#{ENV['BARGE_T_BUCKET']}\"\n</match>\n", out,
			[]string{`t.conf:2: 'bucket' is required: its value "#{ENV['BARGE_T_BUCKET']}" is empty because the environment variable BARGE_T_BUCKET is unset`}},
		{"required, two variables", "<match>\n bucket \"#{ENV['BARGE_T_A'] || ENV['BARGE_T_B']}\"\n</match>\n", out,
			[]string{`t.conf:2: 'bucket' is required: its value "#{ENV['BARGE_T_A'] || ENV['BARGE_T_B']}" is empty because the environment variables BARGE_T_A and BARGE_T_B are unset`}},
		{"required, use_default", "<match>\n bucket \"#{ENV['BARGE_T_BUCKET'] || use_default}\"\n</match>\n", out,
			[]string{`t.conf:2: 'bucket' is required: its value "#{ENV['BARGE_T_BUCKET'] || use_default}" asks for the default (use_default) because the environment variable BARGE_T_BUCKET is unset, and there is none`}},
		{"required, use_nil", "<match>\n bucket \"#{ENV['BARGE_T_BUCKET'] || use_nil}\"\n</match>\n", out,
			[]string{`t.conf:2: 'bucket' is required: its value "#{ENV['BARGE_T_BUCKET'] || use_nil}" is nil (use_nil) because the environment variable BARGE_T_BUCKET is unset`}},
		{"required, use_default alone", "<match>\n bucket \"#{use_default}\"\n</match>\n", out,
			[]string{`t.conf:2: 'bucket' is required: its value "#{use_default}" asks for the default (use_default), and there is none`}},
		{"integer, empty", "<match>\n bucket b\n port \"#{ENV['BARGE_T_PORT']}\"\n</match>\n", out,
			[]string{`t.conf:3: 'port' must be an integer, got "": its value "#{ENV['BARGE_T_PORT']}" is empty because the environment variable BARGE_T_PORT is unset`}},
		{"integer, fallback", "<match>\n bucket b\n port \"#{ENV['BARGE_T_PORT'] || 'http'}\"\n</match>\n", out,
			[]string{`t.conf:3: 'port' must be an integer, got "http": its value "#{ENV['BARGE_T_PORT'] || 'http'}" fell back to "http" because the environment variable BARGE_T_PORT is unset`}},
		{"enum, empty", "<match>\n bucket b\n <buffer>\n  flush_mode \"#{ENV['BARGE_T_MODE']}\"\n </buffer>\n</match>\n", out,
			[]string{`t.conf:4: 'flush_mode' must be one of default, interval, immediate, lazy, got "": its value "#{ENV['BARGE_T_MODE']}" is empty because the environment variable BARGE_T_MODE is unset`}},
		{"set to empty is given", "<match>\n bucket \"#{ENV['BARGE_T_EMPTY']}\"\n port \"#{ENV['BARGE_T_EMPTY']}\"\n</match>\n", out,
			[]string{`t.conf:3: 'port' must be an integer, got ""`}},
		{"every problem of a section together", "<match>\n port abc\n bukcet x\n ratio \"#{ENV['BARGE_T_RATIO']}\"\n <buffer>\n  flush_mode x\n </buffer>\n</match>\n", out,
			[]string{
				`t.conf:2: 'port' must be an integer, got "abc"`,
				`t.conf:3: <match>: unknown parameter 'bukcet', did you mean 'bucket'?`,
				`t.conf:4: 'ratio' must be a number, got "": its value "#{ENV['BARGE_T_RATIO']}" is empty because the environment variable BARGE_T_RATIO is unset`,
				`t.conf:1: <match>: 'bucket' is required`,
				`t.conf:6: 'flush_mode' must be one of default, interval, immediate, lazy, got "x"`,
			}},
		{"required by Validate, empty", "<match>\n s3_bucket \"#{ENV['BARGE_T_BUCKET']}\"\n</match>\n", s3,
			[]string{`t.conf:2: <match>: 's3_bucket' is required: its value "#{ENV['BARGE_T_BUCKET']}" is empty because the environment variable BARGE_T_BUCKET is unset`}},
		{"required by Validate, use_default", "<match>\n s3_bucket \"#{ENV['BARGE_T_BUCKET'] || use_default}\"\n</match>\n", s3,
			[]string{`t.conf:2: <match>: 's3_bucket' is required: its value "#{ENV['BARGE_T_BUCKET'] || use_default}" asks for the default (use_default) because the environment variable BARGE_T_BUCKET is unset, and there is none`}},
		{"Validate, fallback", "<match>\n s3_bucket b\n s3_region \"#{ENV['BARGE_T_REGION'] || 'x'}\"\n</match>\n", s3,
			[]string{`t.conf:3: <match>: 's3_region' must not be x: its value "#{ENV['BARGE_T_REGION'] || 'x'}" fell back to "x" because the environment variable BARGE_T_REGION is unset`}},
		{"Validate, plain", "<match>\n s3_bucket \"\"\n</match>\n", s3,
			[]string{`t.conf:2: <match>: 's3_bucket' is required`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := decodeString(t, tt.in, tt.dst())
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %v (%T) is not Errors", err, err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func out() any { o := defaultOut(); return &o }
func s3() any  { return &tS3{} }
