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
//	barge top [--addr HOST:PORT]
//	                         a live view of a running barge, from its /metrics
//	barge reload [-c FILE | --addr HOST:PORT]
//	                         reload a running barge's config (POST /reload)
//	barge version            print the version
//
// The @types a config may name are the rows of one table, components (in
// components.go): the plan (plan.go) decodes each directive through its
// row, and the pipeline (pipeline.go) builds and runs what the rows
// construct: inputs append to the router, which appends to each <match>'s
// buffer, which flushes to its output.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the process exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "cat":
		return cmdCat(args[1:], stdin, stdout, stderr)
	case "load":
		return cmdLoad(args[1:], stdout, stderr)
	case "replay":
		return cmdReplay(args[1:], stdout, stderr)
	case "ledger":
		return cmdLedger(args[1:], stdout, stderr)
	case "schema":
		return cmdSchema(args[1:], stdout, stderr)
	case "top":
		return cmdTop(args[1:], stdout, stderr)
	case "reload":
		return cmdReload(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		if helpFlag(args[1:], "version", nil, stdout) {
			return 0
		}
		fmt.Fprintf(stdout, "barge %s\n", fullVersion())
		return 0
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[0] == "help" {
			return run(append(args[1:], "--help"), stdin, stdout, stderr)
		}
		printUsage(stdout)
		return 0
	default:
		return unknownCommand(stderr, args[0])
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
