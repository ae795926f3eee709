// Command barge is a log-shipping sidecar and Fluentd-style forwarder.
//
//	barge run -c FILE        run the pipeline described by FILE
//	barge check -c FILE      validate FILE; print every problem as FILE:LINE: message
//	barge cat [-p PORT] [-h HOST] TAG
//	                         send JSON lines from stdin over the forward protocol with ack
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
