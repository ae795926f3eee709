package parse

import "time"

// tm holds the components read from a value.
type tm struct {
	year, mon, mday, yday, hour, min, sec, nsec int
	century, yy, pm                             int
	off                                         int
	epoch                                       int64
	set                                         uint16
	// fracLo and fracHi are where the fraction's digits are in the value
	// (both 0 when it has none).
	fracLo, fracHi int
}

// unix turns the components into a time, taking the missing leading ones
// from now (in loc, or at the value's offset). ok is false when the value
// held no time at all.
func (t *tm) unix(loc *time.Location, now time.Time) (sec, nsec int64, ok bool) {
	if t.set&hasEpoch != 0 {
		return t.epoch, int64(t.nsec), true
	}
	if t.set&(hasYear|hasCentury|hasYY|hasMon|hasMday|hasYday|hasHour|hasMin|hasSec|hasFrac) == 0 {
		return 0, 0, false
	}
	switch {
	case t.set&hasYY != 0:
		t.year = t.yy + 2000
		if t.set&hasCentury != 0 {
			t.year = t.century*100 + t.yy
		} else if t.yy >= 69 {
			t.year = t.yy + 1900
		}
		t.set |= hasYear
	case t.set&hasCentury != 0 && t.set&hasYear == 0:
		t.year, t.set = t.century*100, t.set|hasYear
	}
	if t.set&hasPM != 0 && t.set&hasHour != 0 {
		t.hour %= 12
		if t.pm == 2 {
			t.hour += 12
		}
	}
	if t.set&hasYday != 0 && t.set&(hasMon|hasMday) == 0 {
		t.mon, t.mday, t.set = 1, t.yday, t.set|hasMon|hasMday
	}
	if t.set&hasYear == 0 { // fill the leading missing components from now
		if t.set&hasOff != 0 {
			now = now.In(time.FixedZone("", t.off))
		} else {
			now = now.In(loc)
		}
		fill := [...]struct {
			bit uint16
			dst *int
			val int
		}{{hasYear, &t.year, now.Year()}, {hasMon, &t.mon, int(now.Month())}, {hasMday, &t.mday, now.Day()},
			{hasHour, &t.hour, now.Hour()}, {hasMin, &t.min, now.Minute()}, {hasSec, &t.sec, now.Second()}}
		for _, f := range fill {
			if t.set&f.bit != 0 {
				break
			}
			*f.dst = f.val
			t.set |= f.bit
		}
	}
	if t.set&hasMon == 0 {
		t.mon = 1
	}
	if t.set&hasMday == 0 {
		t.mday = 1
	}
	if t.year < -1e6 || t.year > 1e6 {
		return 0, 0, false
	}
	if t.set&hasOff != 0 || loc == time.UTC {
		days := daysFromCivil(int64(t.year), t.mon, 1) + int64(t.mday-1)
		sec = days*86400 + int64(t.hour*3600+t.min*60+t.sec) - int64(t.off)
		return sec, int64(t.nsec), true
	}
	return time.Date(t.year, time.Month(t.mon), t.mday, t.hour, t.min, t.sec, 0, loc).Unix(), int64(t.nsec), true
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

const (
	hasYear = 1 << iota
	hasMon
	hasMday
	hasYday
	hasHour
	hasMin
	hasSec
	hasFrac
	hasOff
	hasEpoch
	hasCentury
	hasYY
	hasPM
)
