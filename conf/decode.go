package conf

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
)

// Decode decodes sec into the struct dst points to, per the conf, enum,
// required and default struct tags (see the package doc). Fields whose
// parameter or section is absent keep their values: set defaults first.
// After a struct is decoded without problems, its Validate() error method,
// if any, is called (nested sections first). The error lists every problem
// as Errors of *Error; a dst that is not a pointer to a struct is a plain
// error.
func Decode(sec *Section, dst any) error {
	rv := reflect.ValueOf(dst)
	if sec == nil || rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("conf: Decode needs a section and a non-nil pointer to a struct, got %T", dst)
	}
	d := &decoder{}
	d.section(sec, rv.Elem())
	if len(d.errs) > 0 {
		return d.errs
	}
	return nil
}

type decoder struct {
	errs Errors
}

func (d *decoder) add(at Positioner, label, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if label != "" {
		msg = label + ": " + msg
	}
	d.errs = append(d.errs, Errorf(at, "%s", msg))
}

// reserved are the Fluentd system parameters accepted even when the
// struct does not declare them.
func reserved(key string) bool {
	return key == "@type" || key == "@id" || key == "@log_level"
}

// section decodes sec into v (a struct) and reports whether it had no
// problems.
func (d *decoder) section(sec *Section, v reflect.Value) bool {
	before := len(d.errs)
	label := sec.Label()
	fields, err := structFields(v.Type())
	if err != nil {
		d.add(sec, label, "%v", err)
		return false
	}
	params := map[string]*field{}
	sections := map[string]*field{}
	var rest *field
	for i := range fields {
		f := &fields[i]
		switch f.kind {
		case kindParam:
			params[f.key] = f
		case kindSection, kindSectionRest:
			sections[f.key] = f
		case kindRest:
			rest = f
		case kindArg:
			d.arg(sec, f, v.FieldByIndex(f.index))
		}
	}
	seen := map[string]bool{}
	restCopied := false
	last := map[string]int{} // a repeated parameter: the last one wins
	keys := make([]string, len(sec.Params))
	for i, p := range sec.Params {
		keys[i] = p.Key
		if keys[i] == "type" && params["type"] == nil && params["@type"] != nil {
			keys[i] = "@type" // Fluentd still takes the pre-v1 name
		}
		last[keys[i]] = i
	}
	for i, p := range sec.Params {
		key := keys[i]
		f := params[key]
		switch {
		case f != nil && last[key] != i:
		case f != nil && p.Absent():
			// use_default, use_nil: as if not given; the field keeps its value.
		case f != nil && f.required && emptyUnset(p):
			seen[key] = true
			d.add(p, "", "'%s' is required: %s", key, explain(p))
		case f != nil:
			seen[key] = true
			if msg := assign(f, v.FieldByIndex(f.index), p.Value); msg != "" {
				if len(p.Unset) > 0 {
					msg += ": " + explain(p)
				}
				d.add(p, "", "%s", msg)
			}
		case reserved(key):
		case rest != nil:
			if !p.Absent() {
				assignRest(v.FieldByIndex(rest.index), &restCopied, p.Key, p.Value)
			}
		default:
			d.add(p, label, "unknown parameter '%s'%s", p.Key, suggest(p.Key, keysOf(params), "'", "'"))
		}
	}
	for i := range fields {
		f := &fields[i]
		if f.kind != kindParam || !f.required || seen[f.key] {
			continue
		}
		if j, ok := last[f.key]; ok {
			d.add(sec.Params[j], "", "'%s' is required: %s", f.key, explain(sec.Params[j]))
			continue
		}
		d.add(sec, label, "'%s' is required", f.key)
	}
	d.children(sec, v, fields, sections)
	if len(d.errs) > before {
		return false
	}
	return d.validate(sec, v)
}

func (d *decoder) arg(sec *Section, f *field, fv reflect.Value) {
	arg := strings.TrimSpace(sec.Arg)
	if arg == "" {
		if f.required {
			d.add(sec, sec.Label(), "an argument is required (<%s ARG>)", sec.Name)
		}
		return
	}
	parts := SplitArg(arg)
	if fv.Kind() == reflect.String {
		parts = []string{arg}
	}
	for _, s := range parts {
		if !f.allowed(s) {
			d.add(sec, sec.Label(), "argument must be one of %s, got %q", strings.Join(f.enum, ", "), s)
			return
		}
	}
	if fv.Kind() == reflect.String {
		fv.SetString(arg)
		return
	}
	fv.Set(reflect.ValueOf(parts))
}

// children decodes the nested sections of sec into the fields of v.
func (d *decoder) children(sec *Section, v reflect.Value, all []field, fields map[string]*field) {
	label := sec.Label()
	byName := map[string][]*Section{}
	for _, c := range sec.Sections {
		if fields[c.Name] == nil {
			d.add(c, label, "unknown section <%s>%s", c.Name, suggest(c.Name, keysOf(fields), "<", ">"))
			continue
		}
		byName[c.Name] = append(byName[c.Name], c)
	}
	for i := range all {
		f := &all[i]
		if f.kind != kindSection && f.kind != kindSectionRest {
			continue
		}
		name := f.key
		subs := byName[name]
		if len(subs) == 0 {
			if f.required {
				d.add(sec, label, "a <%s> section is required", name)
			}
			continue
		}
		fv := v.FieldByIndex(f.index)
		if f.kind == kindSectionRest {
			d.restSections(subs, fv)
			continue
		}
		d.structSections(sec, subs, f, fv)
	}
}

// restSections puts the params of <name>,rest sections into a map.
func (d *decoder) restSections(subs []*Section, fv reflect.Value) {
	ownMap(fv)
	copied := true
	for _, s := range subs {
		for _, p := range s.Params {
			if !p.Absent() {
				assignRest(fv, &copied, p.Key, p.Value)
			}
		}
		for _, c := range s.Sections {
			d.add(c, s.Label(), "unknown section <%s>: <%s> holds parameters only", c.Name, s.Name)
		}
	}
}

func (d *decoder) structSections(parent *Section, subs []*Section, f *field, fv reflect.Value) {
	elem := sectionElem(f.typ)
	switch f.typ.Kind() {
	case reflect.Struct:
		for _, extra := range subs[1:] {
			d.add(extra, parent.Label(), "<%s> may appear only once (first at line %d)", f.key, subs[0].Line)
		}
		d.section(subs[0], fv)
	case reflect.Pointer:
		for _, extra := range subs[1:] {
			d.add(extra, parent.Label(), "<%s> may appear only once (first at line %d)", f.key, subs[0].Line)
		}
		n := reflect.New(elem)
		if fv.IsNil() {
			d.fresh(subs[0], n.Elem())
		} else {
			n.Elem().Set(fv.Elem())
		}
		d.section(subs[0], n.Elem())
		fv.Set(n)
	case reflect.Slice:
		out := reflect.MakeSlice(f.typ, len(subs), len(subs))
		for i, s := range subs {
			d.fresh(s, out.Index(i))
			d.section(s, out.Index(i))
		}
		fv.Set(out)
	}
}

// fresh applies default tags to a struct conf allocated.
func (d *decoder) fresh(sec *Section, v reflect.Value) {
	fields, err := structFields(v.Type())
	if err == nil {
		err = setDefaults(v, fields)
	}
	if err != nil {
		d.add(sec, sec.Label(), "%v", err)
	}
}

// quotedKey finds the 'key' a Validate message starts with.
var quotedKey = regexp.MustCompile(`^'([^']+)'`)

// validate calls v's Validate method, if any, and places each problem at
// the line of the key its message starts with, or at the section.
func (d *decoder) validate(sec *Section, v reflect.Value) bool {
	val, ok := v.Addr().Interface().(interface{ Validate() error })
	if !ok {
		return true
	}
	err := val.Validate()
	if err == nil {
		return true
	}
	errs := []error{err}
	if m, ok := err.(interface{ Unwrap() []error }); ok {
		errs = m.Unwrap()
	}
	for _, e := range errs {
		if e == nil {
			continue
		}
		var at Positioner = sec
		msg := e.Error()
		if m := quotedKey.FindStringSubmatch(msg); m != nil {
			if p := sec.lastParam(m[1]); p != nil {
				at = p
				if p.Absent() || len(p.Unset) > 0 {
					msg += ": " + explain(p)
				}
			}
		}
		d.add(at, sec.Label(), "%s", msg)
	}
	return false
}

func keysOf(m map[string]*field) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
