// Command loadgen sends Fluentd forward-protocol traffic to measure a
// forwarder: records/s, MB/s, ack latency, the receiver's peak RSS and,
// with -verify-dir, the end-to-end rate until every record is written out.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type config struct {
	addr          string
	mode          string
	records       int
	recordSize    int
	conns         int
	variety       int
	duration      time.Duration
	messages      int64
	ack           bool
	ackTimeout    time.Duration
	tag           string
	eventTime     bool
	pid           int
	sharedKey     string
	verifyDir     string
	verifyTimeout time.Duration
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
		}
		os.Exit(1)
	}
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:24224", "forward `host:port` to send to")
	fs.StringVar(&c.mode, "mode", "packed", "forward protocol mode: message, forward, packed or compressed (gzip)")
	fs.IntVar(&c.records, "records", 1000, "records per message (message mode: Message frames per batch, the last one acked)")
	fs.IntVar(&c.recordSize, "record-size", 200, "approximate msgpack `bytes` per record")
	fs.IntVar(&c.conns, "conns", 1, "concurrent connections")
	fs.IntVar(&c.variety, "variety", 32, "distinct messages generated up front and sent in turn")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "how long to send (ignored with -messages)")
	fs.Int64Var(&c.messages, "messages", 0, "total messages to send over all connections (0: send for -duration)")
	fs.BoolVar(&c.ack, "ack", false, "send the chunk option and wait for each ack before the next message")
	fs.DurationVar(&c.ackTimeout, "ack-timeout", time.Minute, "give up when an ack takes longer")
	fs.StringVar(&c.tag, "tag", "loadgen.test", "tag of the records")
	fs.BoolVar(&c.eventTime, "eventtime", true, "send EventTime (nanoseconds) instead of integer seconds")
	fs.StringVar(&c.sharedKey, "shared-key", "", "answer the server's HELO with this `key` (<security> shared_key) on every connection")
	fs.IntVar(&c.pid, "pid", 0, "sample this process's RSS every 100ms and report its peak")
	fs.StringVar(&c.verifyDir, "verify-dir", "", "after sending, wait until the records appear as lines in files under this `dir` (.gz and .zst decompressed)")
	fs.DurationVar(&c.verifyTimeout, "verify-timeout", 5*time.Minute, "how long to wait for -verify-dir")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case c.records < 1:
		return errors.New("-records must be at least 1")
	case c.variety < 1:
		return errors.New("-variety must be at least 1")
	case c.conns < 1:
		return errors.New("-conns must be at least 1")
	case c.messages <= 0 && c.duration <= 0:
		return errors.New("give -messages or a positive -duration")
	}
	fmt.Fprintf(stdout, "loadgen: %s mode=%s conns=%d records/msg=%d record-size=%dB ack=%v eventtime=%v\n",
		c.addr, c.mode, c.conns, c.records, c.recordSize, c.ack, c.eventTime)
	res, err := run(ctx, c)
	if res != nil {
		res.print(stdout, c)
	}
	return err
}
