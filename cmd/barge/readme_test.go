package main

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/forwarder"
	"github.com/barge-dev/barge/forwarder/route"
	"github.com/barge-dev/barge/output/bigquery"
	"github.com/barge-dev/barge/output/file"
	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/gcs"
	"github.com/barge-dev/barge/output/null"
	"github.com/barge-dev/barge/output/objkey"
	"github.com/barge-dev/barge/output/s3"
	"github.com/barge-dev/barge/output/stdout"
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
	for _, c := range []struct {
		heading string
		cfg     any
	}{
		{"### `<system>`", systemConfig{}},
		{"### `<source>` `@type forward`", forwarder.Config{}},
		{"### `<filter>` `@type grep`", route.GrepConfig{}},
		{"### `<filter>` `@type record_transformer`", route.RecordTransformerConfig{}},
		{"### `<match>` `@type file`", file.Config{}},
		{"### `<match>` `@type s3`", s3.Config{}},
		{"### `<match>` `@type gcs`", gcs.Config{}},
		{"### `<loader>` `@type bigquery`", bigquery.Config{}},
		{"### `<match>` `@type stdout`", stdout.Config{}},
		{"### `<match>` `@type null`", null.Config{}},
		{"### `<format>`", format.Config{}},
		{"### `<inject>`", format.InjectConfig{}},
		{"### `<buffer>`", buffer.Config{}},
		{"### `<secondary>`", secondaryFileConfig{}},
	} {
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
			if ft.Kind() == reflect.Struct && name != "<format>" && name != "<inject>" {
				keys = append(keys, confKeys(ft, false)...)
			}
		default:
			keys = append(keys, name)
		}
	}
	return keys
}
