package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/barge-dev/barge/output/bigquery"
)

// loaderCmd is what every loader command shares: -c FILE, logging, the
// plan and its loaders.
type loaderCmd struct {
	name      string
	fs        *flag.FlagSet
	path      *string
	only      *string
	logFormat *string
	logLevel  *string
}

func newLoaderCmd(name string, stderr io.Writer) *loaderCmd {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &loaderCmd{name: name, fs: fs}
	c.path = fs.String("c", "", "config `file`")
	fs.StringVar(c.path, "config", "", "config `file` (same as -c)")
	c.only = fs.String("loader", "", "only the <loader `NAME`>")
	c.logFormat = fs.String("log-format", "text", "log format: text or json")
	c.logLevel = fs.String("log-level", "", "log level: trace, debug, info, warn, error")
	return c
}

// loaders parses the config and builds its loaders; on failure it has
// printed why and returns the exit code.
func (c *loaderCmd) loaders(stderr io.Writer) ([]*bigquery.Loader, int) {
	base, err := newLogHandler(stderr, *c.logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "barge:", err)
		return nil, 2
	}
	p, err := loadPlan(*c.path)
	if err != nil {
		printConfErrors(stderr, err)
		return nil, 1
	}
	lvlName := p.system.LogLevel
	if *c.logLevel != "" {
		lvlName = *c.logLevel
	}
	lvl, err := parseLevel(lvlName)
	if err != nil {
		fmt.Fprintln(stderr, "barge: --log-level:", err)
		return nil, 2
	}
	hostname, err := os.Hostname()
	if err != nil {
		hostname = "localhost"
	}
	ls, err := buildLoaders(p, loggers{base: base, level: lvl}, hostname, *c.only)
	if err != nil {
		fmt.Fprintln(stderr, "barge:", err)
		return nil, 1
	}
	if len(ls) == 0 {
		fmt.Fprintf(stderr, "barge: %s has no <loader> directive\n", *c.path)
		return nil, 1
	}
	return ls, 0
}

// start parses args (valid, when set, checks the command's own flags) and
// builds the loaders; on failure it has printed why and returns the exit
// code.
func (c *loaderCmd) start(args []string, usage string, valid func() bool, stdout, stderr io.Writer) ([]*bigquery.Loader, int) {
	if helpFlag(args, c.name, c.fs, stdout) {
		return nil, 0
	}
	if err := c.fs.Parse(args); err != nil {
		return nil, 2
	}
	if *c.path == "" || c.fs.NArg() > 0 || (valid != nil && !valid()) {
		fmt.Fprintln(stderr, usage)
		return nil, 2
	}
	return c.loaders(stderr)
}

// each calls fn for every loader, closing each after it, until SIGTERM or
// SIGINT; it returns 1 if fn failed for any, after printing why.
func each(ls []*bigquery.Loader, stderr io.Writer, fn func(context.Context, *bigquery.Loader) error) int {
	ctx, stop := signalContext()
	defer stop()
	code := 0
	for _, l := range ls {
		err := fn(ctx, l)
		l.Close()
		if err != nil {
			fmt.Fprintf(stderr, "barge: loader %s: %v\n", l.Name(), err)
			code = 1
		}
	}
	return code
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
}

// cmdLoad is `barge load -c FILE [--once]` and `barge load status -c FILE`.
func cmdLoad(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "status" {
		return cmdLoadStatus(args[1:], stdout, stderr)
	}
	c := newLoaderCmd("load", stderr)
	once := c.fs.Bool("once", false, "run one load cycle and exit")
	ls, code := c.start(args, "usage: barge load -c FILE [--once] [--loader NAME]\n       barge load status -c FILE [--loader NAME]", nil, stdout, stderr)
	if ls == nil {
		return code
	}
	if !*once {
		ctx, stop := signalContext()
		defer stop()
		if err := runLoaders(ctx, ls); err != nil {
			fmt.Fprintln(stderr, "barge:", err)
			return 1
		}
		return 0
	}
	return each(ls, stderr, func(ctx context.Context, l *bigquery.Loader) error {
		res, err := l.Cycle(ctx)
		fmt.Fprintf(stdout, "loader %s: %d jobs, %d objects, %s rows committed, %d jobs failed, %d late objects, %d partitions deferred by the job budget",
			l.Name(), res.Jobs, res.Objects, bigquery.RowsText(res.Rows, res.RowsUnknown > 0), res.Failed, res.Late, res.Deferred)
		first := res.FirstError
		if first == "" && err != nil {
			first = strings.SplitN(err.Error(), "\n", 2)[0]
		}
		if first != "" {
			fmt.Fprintf(stdout, "; first error: %s", first)
		}
		fmt.Fprintln(stdout)
		if err == nil && res.Failed > 0 {
			err = fmt.Errorf("%d jobs failed", res.Failed)
		}
		return err
	})
}

func cmdLoadStatus(args []string, stdout, stderr io.Writer) int {
	c := newLoaderCmd("load status", stderr)
	ls, code := c.start(args, "usage: barge load status -c FILE [--loader NAME]", nil, stdout, stderr)
	if ls == nil {
		return code
	}
	return each(ls, stderr, func(ctx context.Context, l *bigquery.Loader) error {
		st, err := l.Status(ctx)
		if err != nil {
			return err
		}
		st.Print(stdout)
		return nil
	})
}

// cmdReplay is `barge replay -c FILE --loader NAME --from T1 --to T2`.
func cmdReplay(args []string, stdout, stderr io.Writer) int {
	c := newLoaderCmd("replay", stderr)
	from := c.fs.String("from", "", "first partition's time (RFC 3339, or a partition id)")
	to := c.fs.String("to", "", "end of the range, exclusive (RFC 3339, or a partition id)")
	part := c.fs.String("partition", "", "one partition id, as BigQuery writes it or with dashes: 20261202 or 2026-12-02 (DAY), 2026120213 or 2026-12-02T13 (HOUR), 202612 or 2026-12 (MONTH)")
	dry := c.fs.Bool("dry-run", false, "print what would be loaded, change nothing")
	retry := c.fs.Bool("retry-quarantined", false, "load the quarantined objects too, releasing them if the load succeeds")
	ls, code := c.start(args, "usage: barge replay -c FILE [--loader NAME] (--from T1 --to T2 | --partition ID) [--dry-run] [--retry-quarantined]",
		func() bool { return (*part == "") != (*from == "" || *to == "") }, stdout, stderr)
	if ls == nil {
		return code
	}
	if len(ls) > 1 {
		// --loader may be left out only when there is one loader.
		names := make([]string, len(ls))
		for i, l := range ls {
			names[i] = l.Name()
			l.Close()
		}
		fmt.Fprintf(stderr, "barge replay: %s has %d loaders (%s): choose one with --loader NAME\n", *c.path, len(ls), strings.Join(names, ", "))
		return 2
	}
	opts := bigquery.ReplayOptions{DryRun: *dry, RetryQuarantined: *retry, Progress: stdout}
	if *part != "" {
		opts.Partitions = []string{*part}
	} else {
		var err1, err2 error
		opts.From, err1 = parseWhen(*from)
		opts.To, err2 = parseWhen(*to)
		if err := errors.Join(err1, err2); err != nil {
			ls[0].Close()
			fmt.Fprintln(stderr, "barge:", err)
			return 2
		}
	}
	defer ls[0].Close()
	ctx, stop := signalContext()
	defer stop()
	start := time.Now()
	res, err := ls[0].Replay(ctx, opts)
	var objs, ok int
	var rows int64
	unknown := false
	var failed []string
	for _, r := range res {
		if r.Err != nil {
			failed = append(failed, fmt.Sprintf("partition %s: %v", r.Partition, r.Err))
			continue
		}
		ok++
		objs += r.Objects
		rows += r.Rows
		unknown = unknown || !r.RowsKnown
	}
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case *dry:
		fmt.Fprintf(stdout, "would replay %d partitions, %d objects in %s\n", len(res), objs, took)
	case len(failed) > 0:
		fmt.Fprintf(stdout, "%d of %d partitions replayed, %d failed: %s\n", ok, len(res), len(failed), strings.Join(failed, "; "))
	default:
		fmt.Fprintf(stdout, "%d of %d partitions replayed, %d objects, %s rows in %s\n", ok, len(res), objs, bigquery.RowsText(rows, unknown), took)
	}
	if err != nil {
		fmt.Fprintln(stderr, "barge:", err)
		return 1
	}
	return 0
}

// parseWhen takes RFC 3339 or a partition id (YYYYMMDDHH, YYYYMMDD, YYYYMM).
func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006010215", "20060102", "200601", "2006-01-02"} {
		if len(s) == len(layout) {
			if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor a partition id", s)
}

// cmdLedger is `barge ledger rebuild -c FILE [--loader NAME] [--force]
// [--force-unverified]`.
func cmdLedger(args []string, stdout, stderr io.Writer) int {
	usage := "usage: barge ledger rebuild -c FILE [--loader NAME] [--force] [--force-unverified]"
	switch {
	case len(args) > 0 && args[0] == "rebuild":
		args = args[1:]
	case !wantsHelp(args, nil):
		fmt.Fprintln(stderr, usage)
		return 2
	}
	c := newLoaderCmd("ledger rebuild", stderr)
	force := c.fs.Bool("force", false, "replace ledgers that exist")
	unverified := c.fs.Bool("force-unverified", false, "write ledgers even if some barge jobs cannot be read (their objects may load again)")
	ls, code := c.start(args, usage, nil, stdout, stderr)
	if ls == nil {
		return code
	}
	return each(ls, stderr, func(ctx context.Context, l *bigquery.Loader) error {
		res, err := l.RebuildLedger(ctx, *force, *unverified)
		fmt.Fprintf(stdout, "loader %s: %d barge jobs found, %d read, %d could not be read; %d objects committed, %d not yet loaded; %d partitions written, %d kept\n",
			l.Name(), res.Found, res.Read, len(res.Unreadable), res.Committed, res.Uncommitted, res.Written, res.Kept)
		return err
	})
}
