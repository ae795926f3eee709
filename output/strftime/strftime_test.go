package strftime

import (
	"testing"
	"time"
)

func TestStrftime(t *testing.T) {
	utc := time.Date(2026, 11, 22, 10, 4, 5, 123456789, time.UTC)
	tokyo := time.Date(2026, 11, 22, 19, 4, 5, 7000, time.FixedZone("JST", 9*3600))
	newYear := time.Date(2027, 1, 3, 15, 0, 0, 0, time.UTC)
	neg := time.Date(2026, 3, 1, 0, 0, 0, 0, time.FixedZone("", -(5*3600+30*60)))
	tests := []struct {
		format string
		t      time.Time
		want   string
	}{
		{"%Y-%m-%dT%H:%M:%S%z", utc, "2026-11-22T10:04:05+0000"},
		{"%Y%m%d%H", utc, "2026112210"},
		{"%Y-%m-%d %H:%M:%S.%N %z", utc, "2026-11-22 10:04:05.123456789 +0000"},
		{"%L %3N %6N %9N %N %12N", utc, "123 123 123456 123456789 123456789 123456789000"},
		{"%s %Q", utc, "1795341845 1795341845123"},
		{"%:z %::z %z %Z", tokyo, "+09:00 +09:00:00 +0900 JST"},
		{"%z %:z", neg, "-0530 -05:30"},
		{"%N", tokyo, "000007000"},
		{"%a %A %b %B %h", utc, "Sun Sunday Nov November Nov"},
		{"%^a %^B %#b %#Z %#p %^p %P %p", utc, "SUN NOVEMBER NOV utc am AM am AM"},
		{"%j %U %W %G %g %V %u %w", utc, "326 47 46 2026 26 47 7 0"},
		{"%j %U %W %G %g %V %u %w", newYear, "003 01 00 2026 26 53 7 0"},
		{"%I %l %k %H %p", newYear, "03  3 15 15 PM"},
		{"%e|%-d|%_m|%-m|%3d|%05Y|%-H", time.Date(2026, 2, 3, 4, 0, 0, 0, time.UTC), " 3|3| 2|2|003|02026|4"},
		{"%C %y", time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), "19 99"},
		{"%10A|%-10A|%010d", utc, "    Sunday|Sunday|0000000022"},
		{"%F %T", utc, "2026-11-22 10:04:05"},
		{"%D %x %X %R %r", utc, "11/22/26 11/22/26 10:04:05 10:04 10:04:05 AM"},
		{"%c", utc, "Sun Nov 22 10:04:05 2026"},
		{"%v", utc, "22-NOV-2026"},
		{"%+", utc, "Sun Nov 22 10:04:05 UTC 2026"},
		{"100%% %n%t", utc, "100% \n\t"},
		{"%K %E %:H %", utc, "%K %E %:H %"},
		{"plain text", utc, "plain text"},
		{"", utc, ""},
		{"%Y", time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), "-0005"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			if got := Compile(tt.format).Format(tt.t); got != tt.want {
				t.Errorf("strftime(%q) = %q, want %q", tt.format, got, tt.want)
			}
		})
	}
}

func TestStrftimeFlags(t *testing.T) {
	tests := []struct {
		format         string
		subsec, clock  bool
		conv, timeUsed bool
	}{
		{"%Y%m%d", false, false, true, true},
		{"%Y-%m-%dT%H:%M:%S", false, true, true, true},
		{"%s.%L", true, true, true, true},
		{"%%", false, false, true, false},
		{"logs/", false, false, false, false},
	}
	for _, tt := range tests {
		s := Compile(tt.format)
		if s.Subsecond() != tt.subsec || s.Clock() != tt.clock || s.UsesConversion() != tt.conv || s.UsesTime() != tt.timeUsed {
			t.Errorf("%q: subsec %v clock %v conv %v time %v, want %v %v %v %v", tt.format,
				s.Subsecond(), s.Clock(), s.UsesConversion(), s.UsesTime(), tt.subsec, tt.clock, tt.conv, tt.timeUsed)
		}
	}
}

func FuzzStrftime(f *testing.F) {
	for _, s := range []string{"%Y-%m-%dT%H:%M:%S.%N%z", "%-d %_5m %^#B", "%::z%:::z%", "%1000000N", "%c%v%+", "%%%"} {
		f.Add(s, int64(1795341845), int64(123456789))
	}
	f.Fuzz(func(t *testing.T, format string, sec, nsec int64) {
		if len(format) > 256 {
			return
		}
		tm := time.Unix(sec%(1<<40), nsec%1e9).UTC()
		s := Compile(format)
		out := s.Format(tm)
		if len(out) > 256*1100 {
			t.Fatalf("output of %d bytes for a %d-byte format", len(out), len(format))
		}
		if !s.UsesConversion() && out != format {
			t.Fatalf("format without conversions %q gave %q", format, out)
		}
	})
}

func TestStrftimeCached(t *testing.T) {
	loc := time.FixedZone("X", 5*3600+1800)
	formats := []string{"%Y-%m-%dT%H:%M:%S.%N%z", "%s.%L|%3N|%6N|%N%%", "%N", "%Y", "%L%L"}
	for _, f := range formats {
		s := Compile(f)
		var c Cache
		for i := range 200 {
			sec := int64(1795341845 + i/7)
			nsec := int64(i * 4999999 % 1e9)
			want := s.Append(nil, time.Unix(sec, nsec).In(loc))
			if got := s.AppendCached(nil, sec, nsec, loc, &c); string(got) != string(want) {
				t.Fatalf("%q at %d.%09d: cached %q, want %q", f, sec, nsec, got, want)
			}
		}
	}
}
