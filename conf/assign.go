package conf

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// assign parses value into fv per f. The returned message is without
// position; callers place it at the parameter.
func assign(f *field, fv reflect.Value, value string) string {
	key := f.key
	switch {
	case fv.Type() == durationType:
		d, err := ParseDuration(value)
		if err != nil {
			return fmt.Sprintf("'%s' must be a duration (like 10s, 5m, 1h, 1d or 0.5 seconds), got %q", key, value)
		}
		fv.SetInt(int64(d))
	case fv.Kind() == reflect.String:
		if !f.allowed(value) {
			return enumMsg(f, value)
		}
		fv.SetString(value)
	case fv.Kind() == reflect.Bool:
		b, err := ParseBool(value)
		if err != nil {
			return fmt.Sprintf("'%s' must be true or false, got %q", key, value)
		}
		fv.SetBool(b)
	case fv.Kind() == reflect.Int || fv.Kind() == reflect.Int64:
		return assignInt(f, fv, value)
	case fv.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprintf("'%s' must be a number, got %q", key, value)
		}
		fv.SetFloat(x)
	case fv.Type() == stringsType:
		a, err := ParseArray(value)
		if err != nil {
			return fmt.Sprintf("'%s' must be an array (a,b or [\"a\",\"b\"]): %v", key, err)
		}
		for _, s := range a {
			if !f.allowed(s) {
				return enumMsg(f, s)
			}
		}
		fv.Set(reflect.ValueOf(a))
	case fv.Type() == mapType:
		h, err := ParseHash(value)
		if err != nil {
			return fmt.Sprintf("'%s' must be a hash (a:b,c:d or {\"a\":\"b\"}): %v", key, err)
		}
		fv.Set(reflect.ValueOf(h))
	default:
		return fmt.Sprintf("'%s': conf cannot decode into %s", key, fv.Type())
	}
	return ""
}

func assignInt(f *field, fv reflect.Value, value string) string {
	if f.size {
		if f.minusOne && strings.TrimSpace(value) == "-1" {
			fv.SetInt(-1)
			return ""
		}
		n, err := ParseSize(value)
		if err != nil || fv.OverflowInt(n) {
			return fmt.Sprintf("'%s' must be a size (like 512k, 8m, 1g or bytes), got %q", f.key, value)
		}
		fv.SetInt(n)
		return ""
	}
	n, err := strconv.ParseInt(strings.TrimSpace(value), 10, fv.Type().Bits())
	if err != nil {
		return fmt.Sprintf("'%s' must be an integer, got %q", f.key, value)
	}
	fv.SetInt(n)
	return ""
}

func enumMsg(f *field, got string) string {
	return fmt.Sprintf("'%s' must be one of %s, got %q", f.key, strings.Join(f.enum, ", "), got)
}

// assignRest stores key=value in the map field fv, copying the map first
// the first time so a default map shared with other configs is not changed.
func assignRest(fv reflect.Value, copied *bool, key, value string) {
	if !*copied {
		ownMap(fv)
		*copied = true
	}
	fv.SetMapIndex(reflect.ValueOf(key), reflect.ValueOf(value))
}

// ownMap replaces the map in fv by a copy (an empty map for nil).
func ownMap(fv reflect.Value) {
	m := make(map[string]string, fv.Len())
	for _, k := range fv.MapKeys() {
		m[k.String()] = fv.MapIndex(k).String()
	}
	fv.Set(reflect.ValueOf(m))
}

// setDefaults applies the default:"..." tags of a struct conf allocated
// (a *Struct or []Struct section). A bad default is a programming error.
func setDefaults(v reflect.Value, fields []field) error {
	for i := range fields {
		f := &fields[i]
		if f.kind != kindParam || !f.hasDef {
			continue
		}
		if msg := assign(f, v.FieldByIndex(f.index), f.def); msg != "" {
			return fmt.Errorf("conf: %s: bad default: %s", v.Type(), msg)
		}
	}
	return nil
}
