package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/barge-dev/barge/conf"
)

// cmdRun is `barge run -c FILE`.
func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "config `file`")
	fs.StringVar(path, "config", "", "config `file` (same as -c)")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "", "log level (overrides <system> log_level): trace, debug, info, warn, error, fatal")
	if helpFlag(args, "run", fs, stdout) {
		return 0
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: barge run -c FILE [--log-format text|json] [--log-level LEVEL]")
		return 2
	}
	base, err := newLogHandler(stderr, *logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "barge:", err)
		return 2
	}
	p, err := loadPlan(*path)
	if err != nil {
		printConfErrors(stderr, err)
		return 1
	}
	lvlName := p.system.LogLevel
	if *logLevel != "" {
		lvlName = *logLevel
	}
	lvl, err := parseLevel(lvlName)
	if err != nil {
		fmt.Fprintln(stderr, "barge: --log-level:", err)
		return 2
	}
	fl := newFluentLog()
	logs := loggers{base: fl.handler(base), level: lvl}
	log := logs.root()
	for _, w := range p.warnings() {
		if w.info {
			log.Info(w.msg, "path", w.pos())
			continue
		}
		log.Warn(w.msg, "path", w.pos())
	}
	hostname, err := os.Hostname()
	if err != nil {
		log.Warn("hostname unknown, using localhost", "err", err)
		hostname = "localhost"
	}
	pl, err := build(p, logs, hostname, stdout)
	if err != nil {
		log.Error("build pipeline", "err", err)
		return 1
	}
	pl.fluentLog = fl
	if lim, from := memoryLimit(p.system.MemoryLimit, "/sys/fs/cgroup"); lim > 0 {
		debug.SetMemoryLimit(lim)
		log.Info("Go memory limit set", "bytes", lim, "from", from)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	pl.signals(ctx)
	if pl.system.HTTPPort != 0 {
		stopHTTP, err := pl.serveHTTP(ctx)
		if err != nil {
			log.Error("start", "err", err)
			return 1
		}
		defer stopHTTP()
	}
	if err := pl.run(ctx); err != nil {
		log.Error("barge stopped with errors", "err", err)
		return 1
	}
	return 0
}

// cmdCheck is `barge check -c FILE`.
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "config `file`")
	fs.StringVar(path, "config", "", "config `file` (same as -c)")
	if helpFlag(args, "check", fs, stdout) {
		return 0
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: barge check -c FILE")
		return 2
	}
	p, err := loadPlan(*path)
	if err != nil {
		printConfErrors(stderr, err)
		return 1
	}
	// Building checks what decoding cannot (regexps, templates) without I/O.
	logs := loggers{base: discardHandler{}, level: levelFatal}
	if _, err := build(p, logs, "check", io.Discard); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// Warnings name what will fail some loads; they do not fail the check.
	var warns []warning
	for _, w := range p.warnings() {
		fmt.Fprintln(stderr, w)
		if !w.info {
			warns = append(warns, w)
		}
	}
	summary := fmt.Sprintf("%s: ok (%d sources, %d filters, %d matches, %d loaders)", *path, len(p.sources), len(p.filters), len(p.matches), len(p.loaders))
	switch n := len(warns); {
	case n == 1:
		summary += ", 1 warning"
	case n > 1:
		summary += fmt.Sprintf(", %d warnings", n)
	}
	fmt.Fprintln(stdout, summary)
	return 0
}

// printConfErrors prints one FILE:LINE: message per line.
func printConfErrors(w io.Writer, err error) {
	var ce conf.Errors
	if errors.As(err, &ce) {
		for _, e := range ce {
			fmt.Fprintln(w, e)
		}
		return
	}
	fmt.Fprintln(w, err)
}
