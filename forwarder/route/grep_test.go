package route

import (
	"strings"
	"testing"
)

func TestGrep(t *testing.T) {
	recs := []kv{
		{"level", "error", "msg", "disk full", "host", "web1", "code", 500, "req", map[string]any{"path": "/api/x", "ids": []any{"a", "b"}}},
		{"level", "info", "msg", "ok", "host", "web2", "code", 200, "req", map[string]any{"path": "/health"}},
		{"level", "warn", "msg", "slow\nquery", "host", "db1", "ratio", 1.5},
		{"msg", "no level", "ok", true, "nothing", nil},
	}
	in := stream(recs...)
	tests := []struct {
		name string
		cfg  GrepConfig
		want []int // indexes of recs kept
	}{
		{"none", GrepConfig{}, []int{0, 1, 2, 3}},
		{"regexp slashes", GrepConfig{Regexps: []GrepExpr{{"level", "/^(error|warn)$/"}}}, []int{0, 2}},
		{"regexp plain", GrepConfig{Regexps: []GrepExpr{{"level", "error"}}}, []int{0}},
		{"regexps are and", GrepConfig{Regexps: []GrepExpr{{"level", "/e/"}, {"host", "/^web/"}}}, []int{0}},
		{"excludes are or", GrepConfig{Excludes: []GrepExpr{{"level", "/info/"}, {"host", "/^db/"}}}, []int{0, 3}},
		{"missing is empty", GrepConfig{Regexps: []GrepExpr{{"level", "/^$/"}}}, []int{3}},
		{"nil is empty", GrepConfig{Regexps: []GrepExpr{{"nothing", "/^$/"}}}, []int{0, 1, 2, 3}},
		{"int to_s", GrepConfig{Regexps: []GrepExpr{{"code", "/^5\\d\\d$/"}}}, []int{0}},
		{"float to_s", GrepConfig{Regexps: []GrepExpr{{"ratio", "/^1\\.5$/"}}}, []int{2}},
		{"bool to_s", GrepConfig{Regexps: []GrepExpr{{"ok", "/^true$/"}}}, []int{3}},
		{"accessor dot", GrepConfig{Regexps: []GrepExpr{{"$.req.path", "/^\\/api/"}}}, []int{0}},
		{"accessor brackets", GrepConfig{Excludes: []GrepExpr{{"$['req']['path']", "/health/"}}}, []int{0, 2, 3}},
		{"accessor index", GrepConfig{Regexps: []GrepExpr{{"$.req.ids[-1]", "/^b$/"}}}, []int{0}},
		{"case flag", GrepConfig{Regexps: []GrepExpr{{"level", "/ERROR/i"}}}, []int{0}},
		{"ruby ^ is per line", GrepConfig{Regexps: []GrepExpr{{"msg", "/^query$/"}}}, []int{2}},
		{"ruby m flag", GrepConfig{Regexps: []GrepExpr{{"msg", "/slow.query/m"}}}, []int{2}},
		{"and of excludes", GrepConfig{And: []GrepCondition{{Excludes: []GrepExpr{{"level", "/info/"}, {"host", "/web2/"}}}}}, []int{0, 2, 3}},
		{"or of regexps", GrepConfig{Or: []GrepCondition{{Regexps: []GrepExpr{{"level", "/warn/"}, {"host", "/web2/"}}}}}, []int{1, 2}},
		{"legacy", GrepConfig{Legacy: map[string]string{"regexp1": "level r", "exclude1": "host web1"}}, []int{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := NewGrep(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			out, err := g.Filter("tag", in, nil)
			if err != nil {
				t.Fatal(err)
			}
			var want []decoded
			all := decode(t, in)
			for _, i := range tt.want {
				want = append(want, all[i])
			}
			equal(t, decode(t, out), want)
		})
	}
}

func TestGrepValidate(t *testing.T) {
	tests := []struct {
		cfg  GrepConfig
		want string
	}{
		{GrepConfig{Regexps: []GrepExpr{{"a", "/(/"}}}, "'pattern'"},
		{GrepConfig{Regexps: []GrepExpr{{"a", "/(?=x)/"}}}, "'pattern'"},
		{GrepConfig{Regexps: []GrepExpr{{"a", "/x/x"}}}, "'pattern'"},
		{GrepConfig{Regexps: []GrepExpr{{"a", "x"}, {"a", "y"}}}, "'key' \"a\" is given twice"},
		{GrepConfig{Regexps: []GrepExpr{{"$.a[", "x"}}}, "'key'"},
		{GrepConfig{And: []GrepCondition{{Regexps: []GrepExpr{{"a", "x"}}, Excludes: []GrepExpr{{"b", "y"}}}}}, "'<and>'"},
		{GrepConfig{Legacy: map[string]string{"regexp1": "nospace"}}, "'regexp1'"},
		{GrepConfig{Legacy: map[string]string{"regexp21": "a b"}}, "'regexp21' is not a parameter"},
		{GrepConfig{Legacy: map[string]string{"colour": "a b"}}, "'colour' is not a parameter"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want prefix %q", tt.cfg, err, tt.want)
		}
	}
	cfg := DefaultGrepConfig()
	if err := cfg.Validate(); err != nil {
		t.Errorf("default: %v", err)
	}
}

func TestGrepExprValidate(t *testing.T) {
	for _, e := range []GrepExpr{{"", "x"}, {"a", "/[/"}, {"$.", "x"}} {
		if err := e.Validate(); err == nil || err.Error()[0] != '\'' {
			t.Errorf("%+v: Validate = %v, want a quoted key first", e, err)
		}
	}
	if err := (&GrepExpr{"$.a.b", "/x/i"}).Validate(); err != nil {
		t.Error(err)
	}
}

// TestGrepAccessors: grep's key takes every record accessor form; a path
// that is not there is matched as "".
func TestGrepAccessors(t *testing.T) {
	recs := []kv{
		{"kubernetes", map[string]any{"namespace_name": "prod", "labels": map[string]any{"app": "web", "app.kubernetes.io/name": "shop"}}, "a.b", "dotted"},
		{"kubernetes", map[string]any{"namespace_name": "dev", "labels": map[string]any{"app": "db"}}, "list", []any{"x", map[string]any{"y": "z"}}},
		{"kubernetes", "not a map", "a", map[string]any{"b": "nested"}},
	}
	in := stream(recs...)
	tests := []struct {
		name string
		cfg  GrepConfig
		want []int
	}{
		{"dot", GrepConfig{Regexps: []GrepExpr{{"$.kubernetes.labels.app", "/^web$/"}}}, []int{0}},
		{"brackets", GrepConfig{Regexps: []GrepExpr{{"$['kubernetes']['namespace_name']", "/^dev$/"}}}, []int{1}},
		{"quoted name with dots", GrepConfig{Regexps: []GrepExpr{{"$['kubernetes']['labels']['app.kubernetes.io/name']", "shop"}}}, []int{0}},
		{"quoted after dots", GrepConfig{Regexps: []GrepExpr{{"$.kubernetes.labels['app.kubernetes.io/name']", "shop"}}}, []int{0}},
		{"plain key keeps its dots", GrepConfig{Regexps: []GrepExpr{{"a.b", "dotted"}}}, []int{0}},
		{"dot path is not the dotted key", GrepConfig{Regexps: []GrepExpr{{"$.a.b", "."}}}, []int{2}},
		{"index then name", GrepConfig{Regexps: []GrepExpr{{"$.list[1].y", "^z$"}}}, []int{1}},
		{"missing path is empty", GrepConfig{Regexps: []GrepExpr{{"$.kubernetes.labels.app", "/^$/"}}}, []int{2}},
		{"exclude missing", GrepConfig{Excludes: []GrepExpr{{"$.kubernetes.nope", "/^$/"}}}, nil},
		{"or", GrepConfig{Or: []GrepCondition{{Regexps: []GrepExpr{{"$.kubernetes.labels.app", "db"}, {"$.a.b", "nested"}}}}}, []int{1, 2}},
		{"legacy", GrepConfig{Legacy: map[string]string{"regexp1": "$.kubernetes.namespace_name ^prod$"}}, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := NewGrep(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			out, err := g.Filter("tag", in, nil)
			if err != nil {
				t.Fatal(err)
			}
			var want []decoded
			all := decode(t, in)
			for _, i := range tt.want {
				want = append(want, all[i])
			}
			equal(t, decode(t, out), want)
		})
	}
	for key, want := range map[string]string{
		"$.a..b":     "empty field name",
		"$['a'].b":   "bracket notation",
		"$.a[x]":     "neither an index",
		"$.a b":      "white space",
		"$.a[0]junk": "after ']'",
	} {
		err := (&GrepConfig{Regexps: []GrepExpr{{key, "x"}}}).Validate()
		if err == nil || !strings.HasPrefix(err.Error(), "'key': record accessor") || !strings.Contains(err.Error(), want) {
			t.Errorf("key %q: %v, want %q", key, err, want)
		}
	}
}
