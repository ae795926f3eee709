package bigquery

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// partitioning maps times to BigQuery partition ids, in UTC: HOUR
// "2026112213", DAY "20261122", MONTH "202611".
type partitioning string

const (
	partHour  partitioning = "HOUR"
	partDay   partitioning = "DAY"
	partMonth partitioning = "MONTH"
)

func (p partitioning) layout() string {
	switch p {
	case partHour:
		return "2006010215"
	case partMonth:
		return "200601"
	default:
		return "20060102"
	}
}

// id is the partition holding t.
func (p partitioning) id(t time.Time) string { return t.UTC().Format(p.layout()) }

// start parses a partition id.
func (p partitioning) start(id string) (time.Time, error) {
	t, err := time.ParseInLocation(p.layout(), id, time.UTC)
	if err != nil || len(id) != len(p.layout()) {
		return time.Time{}, fmt.Errorf("partition %q is not a %s partition id: write %s", id, p, p.idHelp())
	}
	return t, nil
}

// idHelp describes the partition id as a person writes it.
func (p partitioning) idHelp() string {
	switch p {
	case partHour:
		return "YYYYMMDDHH, e.g. 2026120213 (or 2026-12-02T13)"
	case partMonth:
		return "YYYYMM, e.g. 202612 (or 2026-12)"
	default:
		return "YYYYMMDD, e.g. 20261202 (or 2026-12-02)"
	}
}

// dashed is the layout of the partition id in the form with dashes.
func (p partitioning) dashed() string {
	switch p {
	case partHour:
		return "2006-01-02T15"
	case partMonth:
		return "2006-01"
	default:
		return "2006-01-02"
	}
}

// parseID takes a partition id as BigQuery writes it (20261202) or with
// dashes (2026-12-02; 2026-12-02T13 for HOUR; 2026-12 for MONTH), and
// returns BigQuery's form.
func (p partitioning) parseID(s string) (string, error) {
	if t, err := time.ParseInLocation(p.dashed(), s, time.UTC); err == nil && len(s) == len(p.dashed()) {
		return p.id(t), nil
	}
	if _, err := p.start(s); err != nil {
		return "", err
	}
	return s, nil
}

// end is the end of the partition starting at t.
func (p partitioning) end(t time.Time) time.Time {
	switch p {
	case partHour:
		return t.Add(time.Hour)
	case partMonth:
		return t.AddDate(0, 1, 0)
	default:
		return t.AddDate(0, 0, 1)
	}
}

// sliceMatcher finds a time slice, written with a strftime format, in an
// object key: how objects that carry no barge metadata are placed.
type sliceMatcher struct {
	re     *regexp.Regexp
	layout string // Go layout of the matched text
}

func newSliceMatcher(format string) (*sliceMatcher, error) {
	var re, layout strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			re.WriteString(regexp.QuoteMeta(string(c)))
			layout.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 'Y':
			re.WriteString(`(\d{4})`)
			layout.WriteString("2006")
		case 'm':
			re.WriteString(`(\d{2})`)
			layout.WriteString("01")
		case 'd':
			re.WriteString(`(\d{2})`)
			layout.WriteString("02")
		case 'H':
			re.WriteString(`(\d{2})`)
			layout.WriteString("15")
		case 'M':
			re.WriteString(`(\d{2})`)
			layout.WriteString("04")
		case 'S':
			re.WriteString(`(\d{2})`)
			layout.WriteString("05")
		case '%':
			re.WriteString("%")
			layout.WriteByte('%')
		default:
			return nil, fmt.Errorf("%q: only %%Y %%m %%d %%H %%M %%S can place an object in a partition, not %%%c", format, format[i])
		}
	}
	if !strings.Contains(layout.String(), "2006") {
		return nil, fmt.Errorf("%q has no %%Y", format)
	}
	r, err := regexp.Compile(re.String())
	if err != nil {
		return nil, fmt.Errorf("%q: %w", format, err)
	}
	return &sliceMatcher{re: r, layout: layout.String()}, nil
}

// find returns the time of the last slice in key that parses.
func (m *sliceMatcher) find(key string) (time.Time, bool) {
	locs := m.re.FindAllStringIndex(key, -1)
	for i := len(locs) - 1; i >= 0; i-- {
		t, err := time.ParseInLocation(m.layout, key[locs[i][0]:locs[i][1]], time.UTC)
		if err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
