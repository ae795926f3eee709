package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runArgs(args ...string) (code int, stdout, stderr string) {
	var out, errw bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errw)
	return code, out.String(), errw.String()
}

func TestHelpListsEveryCommand(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, out, _ := runArgs(args...)
		if code != 0 {
			t.Fatalf("barge %v: exit %d", args, code)
		}
		for _, c := range commands {
			if !strings.Contains(out, c.name) || !strings.Contains(out, c.summary) {
				t.Errorf("barge %v does not describe %q:\n%s", args, c.name, out)
			}
		}
	}
	if code, _, errw := runArgs(); code != 2 || !strings.Contains(errw, "commands:") {
		t.Errorf("barge without a command: exit %d, stderr %q", code, errw)
	}
}

func TestCommandHelp(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		name  string
		flags []string // flags the help must show, with their dashes
	}{
		{[]string{"run", "--help"}, "run", []string{"-c file", "--config", "--log-format", "--log-level"}},
		{[]string{"check", "-h"}, "check", []string{"-c file"}},
		{[]string{"cat", "--help"}, "cat", []string{"-p int", "-h string", "--timeout"}},
		{[]string{"load", "--help"}, "load", []string{"--once", "--loader NAME"}},
		{[]string{"load", "status", "--help"}, "load status", []string{"--loader NAME"}},
		{[]string{"replay", "--help"}, "replay", []string{"--partition", "--from", "--to", "--dry-run", "--retry-quarantined"}},
		{[]string{"ledger", "--help"}, "ledger rebuild", []string{"--force"}},
		{[]string{"ledger", "rebuild", "-h"}, "ledger rebuild", []string{"--force"}},
		{[]string{"schema", "infer", "--help"}, "schema infer", []string{"--output", "--sample"}},
		{[]string{"help", "replay"}, "replay", []string{"--partition"}},
		{[]string{"version", "--help"}, "version", nil},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errw := runArgs(tc.args...)
			if code != 0 {
				t.Fatalf("exit %d; stderr %q", code, errw)
			}
			if !strings.HasPrefix(out, "barge "+tc.name+": ") || !strings.Contains(out, "usage: barge "+tc.name) {
				t.Errorf("help does not start with the command's description and usage:\n%s", out)
			}
			for _, f := range tc.flags {
				if !strings.Contains(out, "  "+f) {
					t.Errorf("help does not show %q:\n%s", f, out)
				}
			}
		})
	}
}

func TestUnknownCommandSuggests(t *testing.T) {
	code, _, errw := runArgs("lod", "-c", "x")
	if code != 2 || !strings.Contains(errw, `unknown command "lod", did you mean 'load'?`) || !strings.Contains(errw, "commands:") {
		t.Errorf("exit %d, stderr %q", code, errw)
	}
	if _, _, errw := runArgs("frobnicate"); strings.Contains(errw, "did you mean") {
		t.Errorf("a suggestion for a word close to nothing: %q", errw)
	}
}

// TestCatHostFlagIsNotHelp: barge cat's -h is the host, as fluent-cat's.
func TestCatHostFlagIsNotHelp(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	code, out, errw := runArgs("cat", "-h", "127.0.0.1", "-p", port, "app.x")
	if code != 1 || out != "" || !strings.Contains(errw, "127.0.0.1:"+port) {
		t.Errorf("barge cat -h HOST: exit %d, stdout %q, stderr %q; want a dial error", code, out, errw)
	}
}

func TestUnknownLoaderSuggests(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "two.conf")
	loader := func(name string) string {
		return "<loader " + name + ">\n  @type bigquery\n  project p\n  dataset d\n  table t\n  source gs://b/logs/\n</loader>\n"
	}
	if err := os.WriteFile(cfg, []byte(loader("events")+loader("audit")), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errw := runArgs("load", "status", "-c", cfg, "--loader", "evnts")
	if code != 1 || !strings.Contains(errw, "no <loader evnts>, did you mean 'events'?; its loaders: events, audit") {
		t.Errorf("exit %d, stderr %q", code, errw)
	}
	code, _, errw = runArgs("replay", "-c", cfg, "--partition", "20261202")
	if code != 2 || !strings.Contains(errw, "has 2 loaders (events, audit): choose one with --loader NAME") {
		t.Errorf("replay without --loader on two loaders: exit %d, stderr %q", code, errw)
	}
}
