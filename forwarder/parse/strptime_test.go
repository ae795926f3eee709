package parse

import (
	"testing"
	"time"
)

func TestStrptime(t *testing.T) {
	jst := time.FixedZone("JST", 9*3600)
	cases := []struct {
		format, value string
		loc           *time.Location
		want          time.Time // zero: does not parse
	}{
		{"%Y-%m-%dT%H:%M:%S.%L%z", "2024-05-01T10:00:00.123456789Z", time.UTC, utc(2024, 5, 1, 10, 0, 0, 123456789)},
		{"%Y-%m-%dT%H:%M:%S.%N%z", "2024-05-01T10:00:00.5+09:00", time.UTC, utc(2024, 5, 1, 1, 0, 0, 5e8)},
		{"%Y-%m-%dT%H:%M:%S.%3N", "2024-05-01T10:00:00.1234", jst, utc(2024, 5, 1, 1, 0, 0, 123e6)},
		{"%d/%b/%Y:%H:%M:%S %z", "01/MAY/2024:10:00:00 -0700", time.UTC, utc(2024, 5, 1, 17, 0, 0, 0)},
		{"%d/%B/%Y %T %Z", "1/september/2024 10:00:00 EST", time.UTC, utc(2024, 9, 1, 15, 0, 0, 0)},
		{"%Y%m%d%H%M%S", "20240501100000", time.UTC, utc(2024, 5, 1, 10, 0, 0, 0)},
		{"%b %e %H:%M:%S", "May  1 10:00:00", time.UTC, utc(2024, 5, 1, 10, 0, 0, 0)}, // this year
		{"%b %d %H:%M:%S", "Dec 31 23:59:59", jst, time.Date(2024, 12, 31, 23, 59, 59, 0, jst)},
		{"%H:%M", "09:30", time.UTC, utc(2024, 5, 1, 9, 30, 0, 0)}, // today
		{"%Y", "2020", time.UTC, utc(2020, 1, 1, 0, 0, 0, 0)},
		{"%I:%M %p", "12:15 AM", time.UTC, utc(2024, 5, 1, 0, 15, 0, 0)},
		{"%l:%M %P", " 1:15 p.m.", time.UTC, utc(2024, 5, 1, 13, 15, 0, 0)},
		{"%D %R", "05/01/24 10:00", time.UTC, utc(2024, 5, 1, 10, 0, 0, 0)},
		{"%y-%j", "70-032", time.UTC, utc(1970, 2, 1, 0, 0, 0, 0)},
		{"%y-%j", "69-032", time.UTC, time.Time{}}, // 1969: before the epoch, no EventTime
		{"%C%y", "2012", time.UTC, utc(2012, 1, 1, 0, 0, 0, 0)},
		{"%s", "1700000000", jst, time.Unix(1700000000, 0)},
		{"%Q", "1700000000123", jst, time.Unix(1700000000, 123e6)},
		{"%s.%N", "1700000000.25", jst, time.Unix(1700000000, 25e7)},
		{"%F %T %z", "2024-05-01 10:00:00 +05:30:15", time.UTC, utc(2024, 5, 1, 4, 29, 45, 0)},
		{"%F %T %z", "2024-05-01 10:00:00 GMT+2", time.UTC, utc(2024, 5, 1, 8, 0, 0, 0)},
		{"%a %b %e %H:%M:%S %Y", "Wed May  1 10:00:00 2024 trailing", time.UTC, utc(2024, 5, 1, 10, 0, 0, 0)},
		{"%Y-%m-%d  %H", "2024-05-01T10", time.UTC, time.Time{}},
		{"%Y-%m-%d %H", "2024-05-0110", time.UTC, utc(2024, 5, 1, 10, 0, 0, 0)}, // a space matches none, as in Ruby
		{"%Y-%m-%d", "2024-13-01", time.UTC, time.Time{}},
		{"%H:%M:%S", "25:00:00", time.UTC, time.Time{}},
		{"%z", "+0900", time.UTC, time.Time{}}, // no time at all
		{"%b", "Foo", time.UTC, time.Time{}},
		{"%Z", "XYZ", time.UTC, time.Time{}},
		{"%%%Y", "%2024", time.UTC, utc(2024, 1, 1, 0, 0, 0, 0)},
	}
	for _, c := range cases {
		tp, err := newTimeParser("string", c.format, nil)
		if err != nil {
			t.Fatalf("%q: %v", c.format, err)
		}
		sec, nsec, ok := tp.parse(timeValue{b: []byte(c.value)}, c.loc, testNow)
		switch {
		case c.want.IsZero() && ok:
			t.Errorf("%q %q: parsed %v, want an error", c.format, c.value, time.Unix(sec, nsec).UTC())
		case !c.want.IsZero() && !ok:
			t.Errorf("%q %q: does not parse", c.format, c.value)
		case ok && !time.Unix(sec, nsec).Equal(c.want):
			t.Errorf("%q %q: %v, want %v", c.format, c.value, time.Unix(sec, nsec).UTC(), c.want.UTC())
		}
	}
}

func TestTimeCache(t *testing.T) {
	tp, _ := newTimeParser("string", "%Y-%m-%dT%H:%M:%S.%N%z", nil)
	for _, c := range []struct {
		v    string
		want time.Time
	}{
		{"2024-05-01T10:00:00.100Z", utc(2024, 5, 1, 10, 0, 0, 1e8)},
		{"2024-05-01T10:00:00.100Z", utc(2024, 5, 1, 10, 0, 0, 1e8)},
		{"2024-05-01T10:00:00.250Z", utc(2024, 5, 1, 10, 0, 0, 25e7)},
		{"2024-05-01T10:00:01.250Z", utc(2024, 5, 1, 10, 0, 1, 25e7)},
		{"2024-05-01T10:00:01.2x0Z", time.Time{}},
		{"2024-05-01T10:00:01.25Z", utc(2024, 5, 1, 10, 0, 1, 25e7)},
		{"2024-05-01T10:00:01.999Z", utc(2024, 5, 1, 10, 0, 1, 999e6)},
	} {
		sec, nsec, ok := tp.parse(timeValue{b: []byte(c.v)}, time.UTC, testNow)
		if ok != !c.want.IsZero() || ok && !time.Unix(sec, nsec).Equal(c.want) {
			t.Errorf("%s: %v %v, want %v", c.v, time.Unix(sec, nsec).UTC(), ok, c.want)
		}
	}
	iso, _ := newTimeParser("string", "%iso8601", nil)
	for _, c := range []struct {
		v    string
		want time.Time
	}{
		{"2024-05-01T10:00:00.100Z", utc(2024, 5, 1, 10, 0, 0, 1e8)},
		{"2024-05-01T10:00:00.200Z", utc(2024, 5, 1, 10, 0, 0, 2e8)},
		{"2024-05-01T10:00:00Z", utc(2024, 5, 1, 10, 0, 0, 0)},
		{"2024-05-01", utc(2024, 5, 1, 0, 0, 0, 0)},
		{"2024-05-01 10:00:00", time.Time{}},
		{"2024-5-01T10:00:00Z", time.Time{}},
	} {
		sec, nsec, ok := iso.parse(timeValue{b: []byte(c.v)}, time.UTC, testNow)
		if ok != !c.want.IsZero() || ok && !time.Unix(sec, nsec).Equal(c.want) {
			t.Errorf("%%iso8601 %s: %v %v, want %v", c.v, time.Unix(sec, nsec).UTC(), ok, c.want)
		}
	}
}

func TestRubyConversions(t *testing.T) {
	for s, want := range map[string]int64{"42abc": 42, "  -7": -7, "1_000": 1000, "1__0": 1, "abc": 0, "+3.9": 3, "": 0} {
		if n, _, ok := rubyToI([]byte(s)); !ok || n != want {
			t.Errorf("to_i %q = %d, want %d", s, n, want)
		}
	}
	for s, want := range map[string]float64{"1.5e2x": 150, " -2.5": -2.5, "1_0.5": 10.5, "1e": 1, ".5": 0, "abc": 0, "7.": 7, "1e-2": 0.01} {
		if f := rubyToF([]byte(s)); f != want {
			t.Errorf("to_f %q = %v, want %v", s, f, want)
		}
	}
	split := func(s, sep string, limit int) []string {
		var out []string
		for _, p := range rubySplit(nil, []byte(s), sep, limit) {
			out = append(out, string(p))
		}
		return out
	}
	for _, c := range []struct {
		s, sep string
		limit  int
		want   []string
	}{
		{"a,b,,", ",", 0, []string{"a", "b"}},
		{"a,b,,", ",", 3, []string{"a", "b", ","}},
		{",a", ",", 0, []string{"", "a"}},
		{"  a  b c ", " ", 0, []string{"a", "b", "c"}},
		{"  a  b c ", " ", 2, []string{"a", "b c "}},
		{"abé", "", 0, []string{"a", "b", "é"}},
		{"", ",", 0, nil},
		{"a||b", "||", 0, []string{"a", "b"}},
	} {
		if got := split(c.s, c.sep, c.limit); !equalStrings(got, c.want) {
			t.Errorf("%q.split(%q, %d) = %q, want %q", c.s, c.sep, c.limit, got, c.want)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
