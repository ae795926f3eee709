package event

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckTag(t *testing.T) {
	cases := []struct {
		tag string
		ok  bool
	}{
		{"", true},
		{"app.web", true},
		{"app.ünïcode.日本", true},
		{strings.Repeat("t", MaxTagLen), true},
		{strings.Repeat("t", MaxTagLen+1), false},
		{strings.Repeat("é", MaxTagLen/2) + "x", false}, // counted in bytes
		{"app\x00web", false},
		{"app\nweb", false},
		{"app\x1fweb", false},
		{"app\x7fweb", false},
		{"app web", true},
		{"app\xffweb", false},
		{"app\xc3", false}, // truncated rune
	}
	for _, c := range cases {
		err := CheckTag(c.tag)
		if (err == nil) != c.ok || err != nil && !errors.Is(err, ErrTag) {
			t.Errorf("CheckTag(%.40q) = %v, want ok %v", c.tag, err, c.ok)
		}
	}
}
