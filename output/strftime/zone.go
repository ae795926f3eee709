package strftime

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // timezone names work in minimal images too
)

// ParseTimezone parses Fluentd's timezone forms: "+09:00", "-0700", "+09",
// "UTC", or an IANA name such as "Asia/Tokyo".
func ParseTimezone(s string) (*time.Location, error) {
	if s == "" {
		return nil, errors.New("is empty")
	}
	if s[0] == '+' || s[0] == '-' {
		if off, ok := parseOffset(s); ok {
			return time.FixedZone(s, off), nil
		}
		return nil, fmt.Errorf("%q is not an offset like +09:00", s)
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a known time zone", s)
	}
	return loc, nil
}

// parseOffset parses "+09:00", "-0700" or "+09" into seconds east of UTC.
func parseOffset(s string) (int, bool) {
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	digits := strings.ReplaceAll(s[1:], ":", "")
	if (len(digits) != 2 && len(digits) != 4) || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	h := int(digits[0]-'0')*10 + int(digits[1]-'0')
	m := 0
	if len(digits) == 4 {
		m = int(digits[2]-'0')*10 + int(digits[3]-'0')
	}
	if h > 24 || m >= 60 {
		return 0, false
	}
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return off, true
}
