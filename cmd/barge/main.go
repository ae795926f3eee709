// Command barge is a log-shipping sidecar and Fluentd-style forwarder.
//
//	barge run -c FILE        run the pipeline described by FILE
//	barge check -c FILE      validate FILE; print every problem as FILE:LINE: message
//	barge cat [-p PORT] [-h HOST] TAG
//	                         send JSON lines from stdin over the forward protocol with ack
//	barge load -c FILE [--once] [--loader NAME]
//	                         run only the BigQuery loaders of FILE
//	barge load status -c FILE [--loader NAME]
//	                         print each table partition's objects, rows, jobs and failures
//	barge replay -c FILE --loader NAME (--from T1 --to T2 | --partition ID) [--dry-run]
//	                         rebuild partitions from the archived objects
//	barge ledger rebuild -c FILE [--loader NAME] [--force]
//	                         reconstruct a lost ledger
//	barge schema infer -c FILE --output ID | URI...
//	                         print a BigQuery schema inferred from archived objects
//	barge version            print the version
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage:
  barge run -c FILE [--log-format text|json] [--log-level LEVEL]
  barge check -c FILE
  barge cat [-p PORT] [-h HOST] TAG   < json-lines
  barge load -c FILE [--once] [--loader NAME]
  barge load status -c FILE [--loader NAME]
  barge replay -c FILE --loader NAME (--from T1 --to T2 | --partition ID) [--dry-run]
  barge ledger rebuild -c FILE [--loader NAME] [--force]
  barge schema infer (-c FILE --output ID | URI...) [--sample N]
  barge version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the process exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "cat":
		return cmdCat(args[1:], stdin, stderr)
	case "load":
		return cmdLoad(args[1:], stdout, stderr)
	case "replay":
		return cmdReplay(args[1:], stdout, stderr)
	case "ledger":
		return cmdLedger(args[1:], stdout, stderr)
	case "schema":
		return cmdSchema(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "barge %s\n", fullVersion())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "barge: unknown command %q\n%s", args[0], usage)
		return 2
	}
}

// fullVersion is the version with the Go toolchain that built it.
func fullVersion() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		return v + " (" + bi.GoVersion + ")"
	}
	return v
}
