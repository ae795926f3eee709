package bigquery

import (
	"fmt"
	"strings"
	"time"

	"github.com/barge-dev/barge/output/strftime"
)

// A source prefix may hold the time: gs://BUCKET/logs/%Y%m%d/ (as an
// output whose path starts with a date writes). Then a load cycle lists
// only the prefixes of the open partitions instead of the whole archive,
// which grows without end; the whole archive is listed once an hour, to
// find late objects, and by status, replay and ledger rebuild.

// prefixTemplate is a source prefix with %Y, %m, %d or %H in it,
// expanded in UTC.
type prefixTemplate struct {
	format string
	static string // up to the last '/' before the first '%'
	sf     *strftime.Layout
	unit   byte // the finest conversion: 'H', 'd', 'm' or 'Y'
}

// fullListEvery is how often a cycle lists the whole archive when the
// source is a template, to find late objects.
const fullListEvery = time.Hour

// CheckPrefixTemplate reports whether a source prefix with the time in it
// can be listed by time: only %Y (required), %m, %d and %H, read in UTC.
func CheckPrefixTemplate(prefix string) error {
	_, err := parsePrefixTemplate(prefix)
	return err
}

// parsePrefixTemplate returns nil for a prefix without '%'.
func parsePrefixTemplate(prefix string) (*prefixTemplate, error) {
	i := strings.IndexByte(prefix, '%')
	if i < 0 {
		return nil, nil
	}
	t := &prefixTemplate{format: prefix, static: prefix[:strings.LastIndexByte(prefix[:i], '/')+1], sf: strftime.Compile(prefix)}
	rank := map[byte]int{'Y': 1, 'm': 2, 'd': 3, 'H': 4}
	hasYear := false
	for j := i; j < len(prefix); j++ {
		if prefix[j] != '%' {
			continue
		}
		if j+1 == len(prefix) {
			return nil, fmt.Errorf("%q ends with a lone %%", prefix)
		}
		j++
		c := prefix[j]
		switch {
		case c == '%':
		case rank[c] > 0:
			hasYear = hasYear || c == 'Y'
			if rank[c] > rank[t.unit] {
				t.unit = c
			}
		default:
			return nil, fmt.Errorf("%q: only %%Y, %%m, %%d and %%H may stand in a source prefix, not %%%c", prefix, c)
		}
	}
	if !hasYear {
		return nil, fmt.Errorf("%q: a source prefix with the time needs %%Y", prefix)
	}
	return t, nil
}

// prefixes returns the distinct expansions for the times from from to to,
// in order.
func (t *prefixTemplate) prefixes(from, to time.Time) []string {
	from, to = from.UTC(), to.UTC()
	var cur time.Time
	switch t.unit {
	case 'H':
		cur = from.Truncate(time.Hour)
	case 'd':
		cur = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	case 'm':
		cur = time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
	default:
		cur = time.Date(from.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var out []string
	seen := map[string]bool{}
	for ; !cur.After(to); cur = t.next(cur) {
		p := t.sf.Format(cur)
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func (t *prefixTemplate) next(cur time.Time) time.Time {
	switch t.unit {
	case 'H':
		return cur.Add(time.Hour)
	case 'd':
		return cur.AddDate(0, 0, 1)
	case 'm':
		return cur.AddDate(0, 1, 0)
	}
	return cur.AddDate(1, 0, 0)
}
