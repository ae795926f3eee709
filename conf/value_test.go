package conf

import (
	"reflect"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1024", 1024, true},
		{"0", 0, true},
		{"512k", 512 << 10, true},
		{"512K", 512 << 10, true},
		{"8m", 8 << 20, true},
		{"8MB", 8 << 20, true},
		{"1g", 1 << 30, true},
		{"2t", 2 << 40, true},
		{" 64g ", 64 << 30, true},
		{"1b", 1, true},
		{"", 0, false},
		{"m", 0, false},
		{"1.5m", 0, false},
		{"-1", 0, false},
		{"8x", 0, false},
		{"99999999999t", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"10s", 10 * time.Second, true},
		{"5m", 5 * time.Minute, true},
		{"1h", time.Hour, true},
		{"1d", 24 * time.Hour, true},
		{"30", 30 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{"1.5h", 90 * time.Minute, true},
		{"500ms", 500 * time.Millisecond, true},
		{"0", 0, true},
		{"", 0, false},
		{"s", 0, false},
		{"-1s", 0, false},
		{"1w", 0, false},
		{"1e3", 0, false},
		{"inf", 0, false},
		{"NaN", 0, false},
		{"1h30m", 0, false},
		{"99999999999999d", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestParseBool(t *testing.T) {
	tests := []struct {
		in       string
		want, ok bool
	}{
		{"true", true, true}, {"yes", true, true}, {"", true, true},
		{"false", false, true}, {"no", false, true},
		{"True", false, false}, {"1", false, false}, {"on", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseBool(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("ParseBool(%q) = %v, %v", tt.in, got, err)
			}
		})
	}
}

func TestParseArray(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"a,b", []string{"a", "b"}, true},
		{" a , b ,c ", []string{"a", "b", "c"}, true},
		{"a", []string{"a"}, true},
		{"", []string{}, true},
		{`["a","b,c"]`, []string{"a", "b,c"}, true},
		{`[1, true, null, {"x": 1}]`, []string{"1", "true", "", `{"x":1}`}, true},
		{`[]`, []string{}, true},
		{`["a"`, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseArray(tt.in)
			if (err == nil) != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseArray(%q) = %#v, %v", tt.in, got, err)
			}
		})
	}
}

func TestParseHash(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
		ok   bool
	}{
		{"a:b,c:d", map[string]string{"a": "b", "c": "d"}, true},
		{" a : b , c:d:e ", map[string]string{"a": "b", "c": "d:e"}, true},
		{"", map[string]string{}, true},
		{`{"a":"b","n":1,"o":{"x":[1]}}`, map[string]string{"a": "b", "n": "1", "o": `{"x":[1]}`}, true},
		{"a", nil, false},
		{`{"a"`, nil, false},
		{`null`, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseHash(tt.in)
			if (err == nil) != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseHash(%q) = %#v, %v", tt.in, got, err)
			}
		})
	}
}

func TestSplitArg(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"tag,time", []string{"tag", "time"}},
		{" tag , time  key ", []string{"tag", "time", "key"}},
		{"a.** b.*", []string{"a.**", "b.*"}},
		{"app.{a,b}.** c", []string{"app.{a,b}.**", "c"}},
		{"", nil},
		{",,", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := SplitArg(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SplitArg(%q) = %#v", tt.in, got)
			}
		})
	}
}
