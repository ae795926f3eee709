package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/barge-dev/barge/conf"
)

// command is one of barge's commands as `barge --help` lists it.
type command struct {
	name    string // as typed: "load status"
	usage   string // the synopsis after "barge "
	summary string // one line
}

var commands = []command{
	{"run", "run -c FILE [--log-format text|json] [--log-level LEVEL]", "run the pipeline of FILE: inputs, buffers, outputs and loaders"},
	{"check", "check -c FILE", "validate FILE and print every problem as FILE:LINE: message"},
	{"cat", "cat [-p PORT] [-h HOST] [--timeout 30s] TAG  < json-lines", "send JSON lines from stdin over the forward protocol, waiting for an ack of each"},
	{"load", "load -c FILE [--once] [--loader NAME]", "run only the BigQuery loaders of FILE"},
	{"load status", "load status -c FILE [--loader NAME]", "print each partition's objects, rows, jobs and failures"},
	{"replay", "replay -c FILE [--loader NAME] (--from T1 --to T2 | --partition ID) [--dry-run] [--retry-quarantined]", "rebuild partitions from the archived objects"},
	{"ledger rebuild", "ledger rebuild -c FILE [--loader NAME] [--force] [--force-unverified]", "reconstruct lost ledgers from the bucket and BigQuery's job history"},
	{"schema infer", "schema infer (-c FILE --output ID | gs://BUCKET/OBJECT ...) [--sample N]", "print a BigQuery schema inferred from archived objects"},
	{"top", "top [--addr 127.0.0.1:24231] [--interval 1s]", "a live view of a running barge, read from its /metrics (<system> http_port)"},
	{"reload", "reload [-c FILE | --addr 127.0.0.1:24231] [--timeout 5m]", "reload a running barge's config (as SIGHUP), and print what changed or why it was refused"},
	{"version", "version", "print the version"},
}

// topNames are the first words of the commands, for "did you mean".
func topNames() []string {
	var names []string
	for _, c := range commands {
		first, _, _ := strings.Cut(c.name, " ")
		if len(names) == 0 || names[len(names)-1] != first {
			names = append(names, first)
		}
	}
	return names
}

// printUsage writes the list of commands, one line each.
func printUsage(w io.Writer) {
	fmt.Fprintln(w, "barge: a log-shipping sidecar and Fluentd-style forwarder")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "barge COMMAND --help describes a command and its flags.")
}

// unknownCommand reports a command barge does not have and returns 2.
func unknownCommand(w io.Writer, got string) int {
	fmt.Fprintf(w, "barge: unknown command %q%s\n\n", got, conf.Suggest(got, topNames()))
	printUsage(w)
	return 2
}

// wantsHelp reports whether args ask for help (-h, -help, --help) before
// any "--". -h is help only where fs has no -h flag of its own (barge
// cat's -h is the host).
func wantsHelp(args []string, fs *flag.FlagSet) bool {
	shortH := fs == nil || fs.Lookup("h") == nil
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-help", "--help":
			return true
		case "-h":
			if shortH {
				return true
			}
		}
	}
	return false
}

// printHelp describes the command name and the flags of fs (nil: none).
func printHelp(w io.Writer, name string, fs *flag.FlagSet) {
	for _, c := range commands {
		if c.name == name {
			fmt.Fprintf(w, "barge %s: %s\n\nusage: barge %s\n", c.name, c.summary, c.usage)
		}
	}
	if fs == nil {
		return
	}
	fmt.Fprintln(w, "\nflags:")
	fs.VisitAll(func(f *flag.Flag) {
		arg, meaning := flag.UnquoteUsage(f)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		line := "  " + dash + f.Name
		if arg != "" {
			line += " " + arg
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			meaning += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "%-26s %s\n", line, meaning)
	})
}

// helpFlag answers --help for the command name with fs's flags: it prints
// the help to stdout and reports true when args ask for it.
func helpFlag(args []string, name string, fs *flag.FlagSet, stdout io.Writer) bool {
	if !wantsHelp(args, fs) {
		return false
	}
	printHelp(stdout, name, fs)
	return true
}
