package bqtest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	bq "google.golang.org/api/bigquery/v2"
)

// Partition ids BigQuery uses for rows outside the time partitions.
const (
	partitionNull          = "__NULL__"
	partitionUnpartitioned = "__UNPARTITIONED__"
)

// maxFraction is how many fractional-second digits TIMESTAMP, DATETIME and
// TIME values may have: BigQuery's documented canonical formats allow "up
// to six fractional digits (microsecond precision)".
const maxFraction = 6

var (
	// YYYY-[M]M-[D]D or YYYY/[M]M/[D]D, then optionally ( |T)[H]H:[M]M[:[S]S[.F]],
	// then optionally a zone: Z, UTC or ±H[H][[:]MM].
	timestampRE = regexp.MustCompile(`^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:(?:[Tt]| +)(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d+))?)?)? *(Z|z|UTC|[+-]\d{1,2}(?::?\d{2})?)?$`)
	datetimeRE  = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt]| +)(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d+))?)?)?$`)
	dateRE      = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2})$`)
	timeRE      = regexp.MustCompile(`^(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d+))?)?$`)
	numericRE   = regexp.MustCompile(`^[+-]?(\d{1,29}(\.\d{0,9})?|\.\d{1,9})$`)
	bignumRE    = regexp.MustCompile(`^[+-]?(\d{1,39}(\.\d{0,38})?|\.\d{1,38})$`)
)

var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// civil builds a UTC time from the submatches of the date and time
// regexps, checking the ranges; frac is the fractional digits.
func civil(y, mo, d, h, mi, sec, frac string) (time.Time, bool) {
	atoi := func(s string) int {
		if s == "" {
			return 0
		}
		n, _ := strconv.Atoi(s)
		return n
	}
	if len(frac) > maxFraction {
		return time.Time{}, false
	}
	ns := 0
	if frac != "" {
		ns = atoi(frac + strings.Repeat("0", 9-len(frac)))
	}
	Y, M, D, H, I, S := atoi(y), atoi(mo), atoi(d), atoi(h), atoi(mi), atoi(sec)
	if Y < 1 || M < 1 || M > 12 || D < 1 || H > 23 || I > 59 || S > 59 {
		return time.Time{}, false
	}
	t := time.Date(Y, time.Month(M), D, H, I, S, ns, time.UTC)
	if t.Day() != D || t.Month() != time.Month(M) {
		return time.Time{}, false
	}
	return t, true
}

// parseTimestamp parses a TIMESTAMP string as BigQuery's JSON loads accept
// it, returning the instant in UTC.
func parseTimestamp(s string) (time.Time, bool) {
	m := timestampRE.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	t, ok := civil(m[1], m[2], m[3], m[4], m[5], m[6], m[7])
	if !ok {
		return time.Time{}, false
	}
	if z := m[8]; z != "" && z != "Z" && z != "z" && z != "UTC" {
		sign := 1
		if z[0] == '-' {
			sign = -1
		}
		z = strings.ReplaceAll(z[1:], ":", "")
		var hh, mm int
		switch len(z) {
		case 1, 2:
			hh, _ = strconv.Atoi(z)
		case 3, 4:
			hh, _ = strconv.Atoi(z[:len(z)-2])
			mm, _ = strconv.Atoi(z[len(z)-2:])
		}
		if hh > 14 || mm > 59 {
			return time.Time{}, false
		}
		t = t.Add(-time.Duration(sign) * (time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute))
	}
	if t.Before(minTime) || t.After(maxTime) {
		return time.Time{}, false
	}
	return t, true
}

func parseDatetime(s string) (time.Time, bool) {
	m := datetimeRE.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	return civil(m[1], m[2], m[3], m[4], m[5], m[6], m[7])
}

func parseDate(s string) (time.Time, bool) {
	m := dateRE.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	return civil(m[1], m[2], m[3], "", "", "", "")
}

func okDate(s string) bool { _, ok := parseDate(s); return ok }

func okTime(s string) bool {
	m := timeRE.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	_, ok := civil("2000", "1", "1", m[1], m[2], m[3], m[4])
	return ok
}

// epochSeconds converts a JSON number of seconds since the epoch.
func epochSeconds(n json.Number) (time.Time, bool) {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, false
	}
	sec := math.Floor(f)
	if sec < float64(minTime.Unix()) || sec > float64(maxTime.Unix()) {
		return time.Time{}, false
	}
	us := math.Round((f - sec) * 1e6)
	return time.Unix(int64(sec), int64(us)*1000).UTC(), true
}

// describe renders a JSON value the way BigQuery's row errors quote it.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string_value: %q", x)
	case json.Number:
		return "double_value: " + string(x)
	case bool:
		return fmt.Sprintf("bool_value: %t", x)
	case map[string]any:
		return "struct_value"
	case []any:
		return "list_value"
	default:
		return "null_value"
	}
}

func plain(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// rowChecker validates NDJSON rows against a schema.
type rowChecker struct {
	fields        []*bq.TableFieldSchema
	ignoreUnknown bool
}

// decodeLine parses one NDJSON line into a JSON object.
func decodeLine(line []byte) (map[string]any, string) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, "Parser terminated before end of string: " + err.Error()
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "Parser terminated before end of string: unexpected data after the JSON value"
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, "JSON row must be an object, found " + describe(v)
	}
	return obj, ""
}

// check validates a decoded row and returns it as stored: keys spelled
// as in the schema, unknown fields dropped (when they are ignored).
func (c *rowChecker) check(obj map[string]any) (map[string]any, string) {
	return c.record(c.fields, obj, "")
}

func (c *rowChecker) record(fields []*bq.TableFieldSchema, obj map[string]any, path string) (map[string]any, string) {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		f := findField(fields, k)
		if f == nil {
			if c.ignoreUnknown {
				continue
			}
			return nil, fmt.Sprintf("No such field: %s%s.", path, k)
		}
		if _, dup := out[f.Name]; dup {
			return nil, fmt.Sprintf("Duplicate field: %s%s.", path, f.Name)
		}
		sv, msg := c.field(f, v, path+f.Name)
		if msg != "" {
			return nil, msg
		}
		out[f.Name] = sv
	}
	for _, f := range fields {
		if f.Mode != "REQUIRED" {
			continue
		}
		if _, ok := out[f.Name]; !ok {
			return nil, fmt.Sprintf("Missing required field: %s%s.", path, f.Name)
		}
	}
	return out, ""
}

func (c *rowChecker) field(f *bq.TableFieldSchema, v any, name string) (any, string) {
	if v == nil {
		if f.Mode == "REQUIRED" {
			return nil, fmt.Sprintf("Only optional fields can be set to NULL. Field: %s; Value: NULL", name)
		}
		return nil, ""
	}
	if f.Type == "JSON" && f.Mode != "REPEATED" {
		return v, ""
	}
	a, isArray := v.([]any)
	if f.Mode == "REPEATED" {
		if !isArray {
			return nil, fmt.Sprintf("Repeated field must be imported as a JSON array. Field: %s.", name)
		}
		out := make([]any, len(a))
		for i, e := range a {
			if e == nil {
				return nil, fmt.Sprintf("Array specified for a repeated field contains a NULL element. Field: %s.", name)
			}
			sv, msg := c.scalar(f, e, name)
			if msg != "" {
				return nil, msg
			}
			out[i] = sv
		}
		return out, ""
	}
	if isArray {
		return nil, fmt.Sprintf("Array specified for non-repeated field: %s.", name)
	}
	return c.scalar(f, v, name)
}

func (c *rowChecker) scalar(f *bq.TableFieldSchema, v any, name string) (any, string) {
	bad := func(to string) (any, string) {
		return nil, fmt.Sprintf("Could not convert value '%s' to %s. Field: %s; Value: %s", describe(v), to, name, plain(v))
	}
	if f.Type == "RECORD" {
		obj, ok := v.(map[string]any)
		if !ok {
			return bad("struct")
		}
		return c.record(f.Fields, obj, name+".")
	}
	if _, ok := v.(map[string]any); ok && f.Type != "JSON" && f.Type != "GEOGRAPHY" {
		return nil, fmt.Sprintf("Cannot convert a JSON object to %s. Field: %s.", strings.ToLower(f.Type), name)
	}
	switch f.Type {
	case "STRING":
		switch v.(type) {
		case string, json.Number, bool:
			return v, ""
		}
		return bad("string")
	case "BYTES":
		s, ok := v.(string)
		if !ok {
			return bad("bytes")
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			return nil, fmt.Sprintf("Could not decode base64 string to bytes. Field: %s; Value: %s", name, s)
		}
		return v, ""
	case "INTEGER":
		var s string
		switch x := v.(type) {
		case json.Number:
			s = string(x)
		case string:
			s = strings.TrimSpace(x)
		default:
			return bad("integer")
		}
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			return bad("integer")
		}
		return v, ""
	case "FLOAT":
		switch x := v.(type) {
		case json.Number:
			if _, err := strconv.ParseFloat(string(x), 64); err != nil {
				return bad("double")
			}
			return v, ""
		case string:
			switch strings.ToLower(x) {
			case "nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity":
				return v, ""
			}
			if _, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
				return bad("double")
			}
			return v, ""
		}
		return bad("double")
	case "NUMERIC", "BIGNUMERIC":
		var s string
		switch x := v.(type) {
		case json.Number:
			s = string(x)
		case string:
			s = strings.TrimSpace(x)
		default:
			return bad(strings.ToLower(f.Type))
		}
		re := numericRE
		if f.Type == "BIGNUMERIC" {
			re = bignumRE
		}
		if !re.MatchString(s) {
			return nil, fmt.Sprintf("Invalid %s value: %s Field: %s; Value: %s", strings.ToLower(f.Type), s, name, s)
		}
		return v, ""
	case "BOOLEAN":
		switch x := v.(type) {
		case bool:
			return v, ""
		case string:
			if strings.EqualFold(x, "true") || strings.EqualFold(x, "false") {
				return v, ""
			}
		}
		return bad("boolean")
	case "TIMESTAMP":
		switch x := v.(type) {
		case string:
			if _, ok := parseTimestamp(x); ok {
				return v, ""
			}
			return nil, fmt.Sprintf("Couldn't convert value to timestamp: Could not parse '%s' as a timestamp. Required format is YYYY-MM-DD HH:MM[:SS[.SSSSSS]] or YYYY/MM/DD HH:MM[:SS[.SSSSSS]] Field: %s; Value: %s", x, name, x)
		case json.Number:
			if _, ok := epochSeconds(x); ok {
				return v, ""
			}
			return nil, fmt.Sprintf("Cannot convert value to timestamp: value %s is out of the valid range. Field: %s; Value: %s", x, name, x)
		}
		return bad("timestamp")
	case "DATE":
		if s, ok := v.(string); ok {
			if okDate(s) {
				return v, ""
			}
			return nil, fmt.Sprintf("Couldn't convert value to date: Could not parse '%s' as a date. Required format is YYYY-MM-DD. Field: %s; Value: %s", s, name, s)
		}
		return bad("date")
	case "DATETIME":
		if s, ok := v.(string); ok {
			if _, ok := parseDatetime(s); ok {
				return v, ""
			}
			return nil, fmt.Sprintf("Couldn't convert value to datetime: Could not parse '%s' as a datetime. Required format is YYYY-MM-DD[( |T)HH:MM:SS[.SSSSSS]]. Field: %s; Value: %s", s, name, s)
		}
		return bad("datetime")
	case "TIME":
		if s, ok := v.(string); ok && okTime(s) {
			return v, ""
		}
		return bad("time")
	case "GEOGRAPHY", "INTERVAL":
		switch v.(type) {
		case string, map[string]any:
			return v, ""
		}
		return bad(strings.ToLower(f.Type))
	default: // JSON inside a REPEATED field, and types not checked
		return v, ""
	}
}

// partitionTime is the time of a row's partitioning column value (as
// checked by rowChecker), or false when it is NULL or absent.
func partitionTime(values map[string]any, f *bq.TableFieldSchema) (time.Time, bool) {
	v, ok := values[f.Name]
	if !ok || v == nil {
		return time.Time{}, false
	}
	switch f.Type {
	case "TIMESTAMP":
		switch x := v.(type) {
		case string:
			return parseTimestamp(x)
		case json.Number:
			return epochSeconds(x)
		}
	case "DATE":
		if s, ok := v.(string); ok {
			return parseDate(s)
		}
	case "DATETIME":
		if s, ok := v.(string); ok {
			return parseDatetime(s)
		}
	}
	return time.Time{}, false
}
