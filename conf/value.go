package conf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseSize parses a byte size as Fluentd: an integer with an optional
// k, m, g or t suffix (powers of 1024, case-insensitive), optionally
// followed by "b" ("8m", "8MB", "1g", "512k", "1024").
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "b")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n * mult, nil
}

// ParseDuration parses a duration as Fluentd: a number of seconds ("0.5",
// "30") or a number with an s, m, h or d suffix ("10s", "5m", "1h", "1d").
// barge also takes "ms" and fractions with a suffix ("1.5h").
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	unit := time.Second
	switch {
	case strings.HasSuffix(t, "ms"):
		unit, t = time.Millisecond, t[:len(t)-2]
	case strings.HasSuffix(t, "s"):
		t = t[:len(t)-1]
	case strings.HasSuffix(t, "m"):
		unit, t = time.Minute, t[:len(t)-1]
	case strings.HasSuffix(t, "h"):
		unit, t = time.Hour, t[:len(t)-1]
	case strings.HasSuffix(t, "d"):
		unit, t = 24*time.Hour, t[:len(t)-1]
	}
	if t == "" || strings.Trim(t, "0123456789.") != "" {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || f*float64(unit) > math.MaxInt64 {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return time.Duration(math.Round(f * float64(unit))), nil
}

// ParseBool parses a boolean as Fluentd: "true", "yes" and "" (a key
// given without a value) are true; "false" and "no" are false.
func ParseBool(s string) (bool, error) {
	switch s {
	case "true", "yes", "":
		return true, nil
	case "false", "no":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q", s)
}

// ParseArray parses an array as Fluentd: a JSON array (`["a","b"]`) or a
// comma-separated list ("a, b"); "" is the empty array. JSON elements that
// are not strings keep their JSON text.
func ParseArray(s string) ([]string, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return []string{}, nil
	}
	if !strings.HasPrefix(t, "[") {
		parts := strings.Split(t, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts, nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(t), &raw); err != nil {
		return nil, fmt.Errorf("invalid JSON array: %w", err)
	}
	out := make([]string, len(raw))
	for i, r := range raw {
		out[i] = jsonString(r)
	}
	return out, nil
}

// ParseHash parses a hash as Fluentd: a JSON object (`{"a":"b"}`) or
// comma-separated key:value pairs ("a:b, c:d"). JSON values that are not
// strings keep their JSON text.
func ParseHash(s string) (map[string]string, error) {
	t := strings.TrimSpace(s)
	out := map[string]string{}
	if t == "" {
		return out, nil
	}
	if !strings.HasPrefix(t, "{") {
		for _, kv := range strings.Split(t, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), ":")
			if !ok {
				return nil, fmt.Errorf("%q is not key:value", strings.TrimSpace(kv))
			}
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		return out, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(t), &raw); err != nil {
		return nil, fmt.Errorf("invalid JSON hash: %w", err)
	}
	if raw == nil {
		return nil, errors.New("invalid JSON hash: null")
	}
	for k, r := range raw {
		out[k] = jsonString(r)
	}
	return out, nil
}

// jsonString returns a JSON string's value, "" for null, or the compact
// JSON text of any other value.
func jsonString(r json.RawMessage) string {
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s
	}
	if string(r) == "null" {
		return ""
	}
	var b bytes.Buffer
	if json.Compact(&b, r) != nil {
		return string(r)
	}
	return b.String()
}

// SplitArg splits a section argument on commas and whitespace
// ("tag, time" -> [tag time]); a comma inside {...} does not split, so tag
// patterns like "app.{a,b}" stay whole. Empty pieces are dropped.
func SplitArg(arg string) []string {
	var out []string
	depth, start := 0, -1
	flush := func(i int) {
		if start >= 0 {
			out = append(out, arg[start:i])
			start = -1
		}
	}
	for i := 0; i < len(arg); i++ {
		c := arg[i]
		switch {
		case c == '{':
			depth++
		case c == '}' && depth > 0:
			depth--
		case depth == 0 && (c == ',' || isBlank(c) || c == '\n' || c == '\r'):
			flush(i)
			continue
		}
		if start < 0 {
			start = i
		}
	}
	flush(len(arg))
	return out
}
