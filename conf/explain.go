package conf

import (
	"fmt"
	"strings"
)

// emptyUnset reports whether p's value is "" because the environment
// variables its embedded Ruby looked up are unset: a required parameter
// is then missing, not given as "".
func emptyUnset(p *Param) bool { return p.Value == "" && len(p.Unset) > 0 }

// explain says why p's value is what it is, for a message that follows
// "'key' is required: " or a value error: the embedded Ruby asked for the
// default or for nil, or gave "" or a fallback because variables are
// unset. It is "" when p's value is as written.
func explain(p *Param) string {
	because := ""
	if len(p.Unset) > 0 {
		because = " because " + unsetVars(p.Unset)
	}
	switch {
	case p.UseDefault:
		return fmt.Sprintf("its value %s asks for the default (use_default)%s, and there is none", p.Raw, because)
	case p.UseNil:
		return fmt.Sprintf("its value %s is nil (use_nil)%s", p.Raw, because)
	case p.Value == "" && len(p.Unset) > 0:
		return fmt.Sprintf("its value %s is empty%s", p.Raw, because)
	case len(p.Unset) > 0:
		return fmt.Sprintf("its value %s fell back to %q%s", p.Raw, p.Value, because)
	}
	return ""
}

// unsetVars is "the environment variable A is unset" or "the environment
// variables A, B and C are unset".
func unsetVars(names []string) string {
	if len(names) == 1 {
		return "the environment variable " + names[0] + " is unset"
	}
	list := strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	return "the environment variables " + list + " are unset"
}
