package conf

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

type fieldKind int

const (
	kindParam       fieldKind = iota // conf:"key" or conf:"key,size"
	kindArg                          // conf:",arg"
	kindRest                         // conf:",rest"
	kindSection                      // conf:"<name>"
	kindSectionRest                  // conf:"<name>,rest"
)

// field is one tagged struct field.
type field struct {
	key      string // parameter key, or section name for the section kinds
	kind     fieldKind
	size     bool
	minusOne bool // ,size-1: -1 is taken too
	required bool
	enum     []string
	def      string // default:"..." for structs conf allocates
	hasDef   bool
	index    []int
	typ      reflect.Type
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	stringsType  = reflect.TypeFor[[]string]()
	mapType      = reflect.TypeFor[map[string]string]()
)

// structFields lists the tagged fields of struct type t, flattening
// untagged embedded structs. An error is a programming mistake in the tags.
func structFields(t reflect.Type) ([]field, error) {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, tagged := sf.Tag.Lookup("conf")
		if tag == "-" {
			continue
		}
		if !tagged {
			if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
				inner, err := structFields(sf.Type)
				if err != nil {
					return nil, err
				}
				for _, f := range inner {
					f.index = append([]int{i}, f.index...)
					out = append(out, f)
				}
			}
			continue
		}
		if !sf.IsExported() {
			return nil, fmt.Errorf("conf: %s.%s: tagged field is not exported", t, sf.Name)
		}
		f, err := parseTag(tag, sf)
		if err != nil {
			return nil, fmt.Errorf("conf: %s.%s: %w", t, sf.Name, err)
		}
		f.index = []int{i}
		out = append(out, f)
	}
	return out, nil
}

func parseTag(tag string, sf reflect.StructField) (field, error) {
	name, opt, _ := strings.Cut(tag, ",")
	f := field{key: name, typ: sf.Type, required: sf.Tag.Get("required") == "true"}
	f.def, f.hasDef = sf.Tag.Lookup("default")
	if e := sf.Tag.Get("enum"); e != "" {
		f.enum = strings.Split(e, ",")
	}
	switch {
	case strings.HasPrefix(name, "<") && strings.HasSuffix(name, ">") && len(name) > 2:
		f.key = name[1 : len(name)-1]
		switch opt {
		case "":
			f.kind = kindSection
			if sectionElem(sf.Type) == nil {
				return f, fmt.Errorf("section %s needs a struct, *struct or []struct field, not %s", name, sf.Type)
			}
		case "rest":
			f.kind = kindSectionRest
			if sf.Type != mapType {
				return f, fmt.Errorf("%s,rest needs a map[string]string field", name)
			}
		default:
			return f, fmt.Errorf("unknown option %q", opt)
		}
	case name == "" && opt == "arg":
		f.kind = kindArg
		if sf.Type.Kind() != reflect.String && sf.Type != stringsType {
			return f, fmt.Errorf(",arg needs a string or []string field")
		}
	case name == "" && opt == "rest":
		f.kind = kindRest
		if sf.Type != mapType {
			return f, fmt.Errorf(",rest needs a map[string]string field")
		}
	case name == "":
		return f, fmt.Errorf("empty key in conf tag %q", tag)
	default:
		f.kind = kindParam
		switch opt {
		case "":
		case "size", "size-1":
			// size-1: a size, or -1 for "unlimited" (Fluentd's default of
			// such parameters, often written out in configs).
			f.size, f.minusOne = true, opt == "size-1"
			if k := sf.Type.Kind(); k != reflect.Int && k != reflect.Int64 || sf.Type == durationType {
				return f, fmt.Errorf("',size' needs an int or int64 field")
			}
		default:
			return f, fmt.Errorf("unknown option %q", opt)
		}
		if !paramType(sf.Type) {
			return f, fmt.Errorf("unsupported field type %s for '%s'", sf.Type, name)
		}
	}
	return f, nil
}

// paramType reports whether a parameter can be decoded into type t.
func paramType(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		return true
	}
	return t == stringsType || t == mapType
}

// sectionElem returns the struct type of a section field (Struct, *Struct,
// []Struct), or nil.
func sectionElem(t reflect.Type) reflect.Type {
	switch {
	case t.Kind() == reflect.Struct:
		return t
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		return t.Elem()
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return t.Elem()
	}
	return nil
}

func (f *field) allowed(v string) bool { return f.enum == nil || slices.Contains(f.enum, v) }
