package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestComponentTable checks that every row of the table of components is
// whole: a constructor for its directive and none for another, a config
// with defaults, a README heading of its own, and no @type twice.
func TestComponentTable(t *testing.T) {
	seen := map[string]bool{}
	headings := map[string]bool{}
	for _, k := range components {
		t.Run(k.directive+" "+k.typ, func(t *testing.T) {
			if id := k.directive + " " + k.typ; seen[id] {
				t.Errorf("<%s> @type %s has two rows", k.directive, k.typ)
			} else {
				seen[id] = true
			}
			if k.heading == "" || headings[k.heading] {
				t.Errorf("heading %q is empty or taken by another row", k.heading)
			}
			headings[k.heading] = true
			if k.config == nil || k.config() == nil {
				t.Fatal("no config")
			}
			if lookupKind(k.directive, k.typ) == nil {
				t.Error("lookupKind does not find the row")
			}
			has := map[string]bool{
				"source": k.input != nil,
				"filter": k.filter != nil,
				"match":  k.output != nil,
			}
			for d, ok := range has {
				if ok != (d == k.directive) {
					t.Errorf("constructor for <%s>: %v, for a <%s> row", d, ok, k.directive)
				}
			}
			if k.directive == "match" && k.buffer != "file" && k.buffer != "memory" {
				t.Errorf("default buffer %q, want file or memory", k.buffer)
			}
			if k.directive != "match" && (k.buffer != "" || k.chunkKeys != nil || k.objects != nil || k.connect != nil) {
				t.Error("output columns set on a row that is not an output")
			}
			if k.connect != nil && k.objects == nil {
				t.Error("connect without objects: no loader can follow the output")
			}
		})
	}
}

// TestUnknownTypeListsTheTable shows that the kinds a directive may name
// come from the table, in its order, in the error for an unknown @type.
func TestUnknownTypeListsTheTable(t *testing.T) {
	for _, tt := range []struct {
		directive, conf, want string
	}{
		{"source", "<source>\n  @type syslog\n</source>\n", `<source>: unknown @type "syslog" (barge has: forward, files, tail)`},
		{"filter", "<source>\n  @type forward\n</source>\n<filter **>\n  @type parser\n</filter>\n", `<filter **>: unknown @type "parser" (barge has: grep, record_transformer, stdout)`},
		{"match", "<source>\n  @type forward\n</source>\n<match **>\n  @type kafka\n</match>\n", `<match **>: unknown @type "kafka" (barge has: file, s3, gcs, forward, stdout, null)`},
		{"match", "<source>\n  @type forward\n</source>\n<match **>\n</match>\n", `<match **>: '@type' is required (barge has: file, s3, gcs, forward, stdout, null)`},
		{"loader", "<loader bq>\n  @type spanner\n</loader>\n", `<loader bq>: unknown @type "spanner" (barge has: bigquery)`},
	} {
		t.Run(tt.directive, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "barge.conf")
			if err := os.WriteFile(path, []byte(tt.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := loadPlan(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("loadPlan: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
