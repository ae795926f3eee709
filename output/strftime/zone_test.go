package strftime

import (
	"testing"
	"time"
)

func TestParseTimezone(t *testing.T) {
	for s, off := range map[string]int{"+09:00": 9 * 3600, "-0730": -(7*3600 + 1800), "+09": 9 * 3600, "UTC": 0} {
		loc, err := ParseTimezone(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if _, o := time.Date(2024, 1, 1, 0, 0, 0, 0, loc).Zone(); o != off {
			t.Errorf("%s: offset %d, want %d", s, o, off)
		}
	}
	for _, s := range []string{"", "+9", "+25:00", "+09:60", "Nowhere/City"} {
		if _, err := ParseTimezone(s); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
}
