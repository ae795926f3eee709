package main

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/forwarder/parse"
	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/objkey"
)

// TestREADMEDocumentsEveryParameter keeps the README's configuration
// reference in step with the parameters the config structs declare: every
// key of every struct must appear, as `key`, under the README heading that
// documents it.
func TestREADMEDocumentsEveryParameter(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// The object metadata the BigQuery loader depends on.
	t.Run("object metadata", func(t *testing.T) {
		section := readmeSection(string(readme), "### Object names and metadata")
		for _, key := range []string{objkey.MetaChunkID, objkey.MetaRecords, objkey.MetaFirst, objkey.MetaLast,
			objkey.MetaTimeKey, objkey.MetaTag, objkey.MetaKeys, objkey.MetaHost, objkey.MetaVersion,
			objkey.MetaFormat, objkey.MetaCompress} {
			if !strings.Contains(section, "`"+key+"`") {
				t.Errorf("README section on object metadata does not document `%s`", key)
			}
		}
	})
	type documented struct {
		heading string
		cfg     any
	}
	// Every row of the table of components, and the sections that are
	// not components.
	var all []documented
	for _, k := range components {
		all = append(all, documented{k.heading, k.config()})
	}
	all = append(all,
		documented{"### `<system>`", systemConfig{}},
		documented{"### `<format>`", format.Config{}},
		documented{"### `<inject>`", format.InjectConfig{}},
		documented{"### `<parse>`", parse.Config{}},
		documented{"### `<buffer>`", buffer.Config{}},
		documented{"### `<secondary>`", secondaryFileConfig{}},
	)
	for _, c := range all {
		t.Run(c.heading, func(t *testing.T) {
			section := readmeSection(string(readme), c.heading)
			if section == "" {
				t.Fatalf("README has no heading %q", c.heading)
			}
			for _, key := range confKeys(reflect.TypeOf(c.cfg), true) {
				// @type, @id and @log_level of a plugin are documented
				// once for all, in the reference's introduction.
				if strings.HasPrefix(key, "@") && strings.Contains(c.heading, "@type") {
					continue
				}
				if !strings.Contains(section, "`"+key+"`") {
					t.Errorf("README section %s does not document `%s`", c.heading, key)
				}
			}
		})
	}
}

// readmeSection returns the text from heading to the next heading of the
// same level.
func readmeSection(readme, heading string) string {
	i := strings.Index(readme, "\n"+heading+"\n")
	if i < 0 {
		return ""
	}
	rest := readme[i+len(heading)+2:]
	if j := strings.Index(rest, "\n### "); j >= 0 {
		rest = rest[:j]
	}
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// confKeys lists the parameter keys and nested section names (as <name>)
// of a config struct. Sections documented under their own heading
// (<format>, <inject>) are listed by name only.
func confKeys(t reflect.Type, top bool) []string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("conf")
		if !ok && f.Anonymous {
			keys = append(keys, confKeys(f.Type, top)...)
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		switch {
		case !ok || name == "" || name == "-":
		case strings.HasPrefix(name, "<"):
			keys = append(keys, name)
			ft := f.Type
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			// <format>, <inject> and the tailer's <parse> (which nests
			// itself, for cri) are documented under their own headings.
			if ft.Kind() == reflect.Struct && name != "<format>" && name != "<inject>" && ft != reflect.TypeFor[parse.Config]() {
				keys = append(keys, confKeys(ft, false)...)
			}
		default:
			keys = append(keys, name)
		}
	}
	return keys
}
