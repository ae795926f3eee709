package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/barge-dev/barge/buffer"
	"github.com/robfig/cron/v3"
)

// Sink receives entries: the same method set as forwarder.Sink (the
// buffer implements it). entries is a canonical stream of [time, record]
// arrays (package event) that Append must not retain after it returns. A
// nil error means the entries are durable; only then does the ledger move
// past them. Any other error is retried, with backoff, with the same
// batch: duplicates are possible, loss is not.
type Sink interface {
	Append(ctx context.Context, tag string, entries []byte) error
}

// Options are the input's collaborators.
type Options struct {
	// Logger receives the input's log lines; nil discards them.
	Logger *slog.Logger
	// Hostname is accepted like the other inputs' (unused for now).
	Hostname string
	// Now is the clock of record times and settle_time; nil means time.Now.
	Now func() time.Time
}

// ErrClosed is returned by Listen and Run after Close.
var ErrClosed = errors.New("files: input closed")

// ErrRunning is returned by a second call to Run.
var ErrRunning = errors.New("files: Run called twice")

// forgetAfter is how long a path may be missing (or no longer match the
// globs) before its ledger entry is dropped.
const forgetAfter = 24 * time.Hour

// Input is @type files: it ships whole data files, each version once.
type Input struct {
	cfg   Config
	sink  Sink
	log   *slog.Logger
	now   func() time.Time
	sched cron.Schedule // nil: scan every refresh_interval
	after afterTransfer
	fmt   *format

	// batches and retries; tests may shrink them
	batchRecords, batchBytes int
	retryMin, retryMax       time.Duration

	mu       sync.Mutex
	listened bool
	ran      bool
	closed   bool
	cancel   context.CancelFunc // of Run's context
	done     chan struct{}      // closed when Run returns

	// owned by Listen, then by Run's goroutine
	led      *ledger
	obs      map[string]observation // files seen changing, for settle_time
	missing  map[string]time.Time   // ledger paths not seen since
	ownFiles ownFiles
	// set by Listen when the sink stores marks (see marks.go)
	marked     buffer.MarkedSink
	markPrefix string
	seq        uint64

	stats counters
}

// observation is a file's size and mtime and when they were first seen so.
type observation struct {
	size, mtime int64
	since       time.Time
}

// New checks cfg and returns an input. It does no I/O.
func New(cfg Config, sink Sink, opts Options) (*Input, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, errors.New("files: nil sink")
	}
	in := &Input{
		cfg: cfg, sink: sink, log: opts.Logger, now: opts.Now,
		batchRecords: 1000, batchBytes: 1 << 20,
		retryMin: time.Second, retryMax: 30 * time.Second,
		obs: map[string]observation{}, missing: map[string]time.Time{},
	}
	if in.log == nil {
		in.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if in.now == nil {
		in.now = time.Now
	}
	if cfg.Schedule != "" {
		s, err := cron.ParseStandard(cfg.Schedule)
		if err != nil {
			return nil, fmt.Errorf("'schedule' %q: %w", cfg.Schedule, err)
		}
		in.sched = s
	}
	in.after, _ = parseAfterTransfer(cfg.AfterTransfer)
	f, err := newFormat(&cfg.Parse, cfg.PathKey)
	if err != nil {
		return nil, err
	}
	in.fmt = f
	return in, nil
}

// Listen reads (and, if torn or corrupt, recovers) the pos_file and
// creates the directories the input writes to, so that such problems show
// before Run. Run calls it if it was not called.
func (in *Input) Listen() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return ErrClosed
	}
	if in.listened {
		return nil
	}
	own, err := newOwnFiles(in.cfg.PosFile, in.cfg.ErrorDir, in.after.dir)
	if err != nil {
		return err
	}
	for _, d := range []string{filepath.Dir(in.cfg.PosFile), in.cfg.ErrorDir, in.after.dir} {
		if d == "" {
			continue
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("files: %w", err)
		}
	}
	led, rec, err := loadLedger(in.cfg.PosFile, in.cfg.PosFileFsync, in.now(), in.log)
	if err != nil {
		return fmt.Errorf("files: %w", err)
	}
	in.stats.ledgerDamaged.Add(int64(rec.damaged))
	in.led, in.ownFiles, in.listened = led, own, true
	return in.takeMarks()
}

// Run scans and ships until ctx ends or Close is called, then returns nil
// (an Append in progress is cancelled, its batch left unacknowledged).
func (in *Input) Run(ctx context.Context) error {
	in.mu.Lock()
	switch {
	case in.closed:
		in.mu.Unlock()
		return ErrClosed
	case in.ran:
		in.mu.Unlock()
		return ErrRunning
	}
	in.ran = true
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in.cancel, in.done = cancel, make(chan struct{})
	defer close(in.done)
	in.mu.Unlock()
	if err := in.Listen(); err != nil {
		return err
	}
	defer in.closeLedger()
	next := in.now()
	if in.sched != nil {
		next = in.sched.Next(next)
	}
	for {
		if !sleepUntil(ctx, in.now, next) {
			return nil
		}
		settle := in.scan(ctx)
		if ctx.Err() != nil {
			return nil
		}
		now := in.now()
		switch {
		case in.sched != nil && !settle.IsZero():
			next = settle // the run goes on until what it saw settled
		case in.sched != nil:
			next = in.sched.Next(now)
		default:
			next = now.Add(in.cfg.RefreshInterval)
			if !settle.IsZero() && settle.Before(next) {
				next = settle
			}
		}
	}
}

// sleepUntil waits until t by now's clock; false if ctx ended first.
func sleepUntil(ctx context.Context, now func() time.Time, t time.Time) bool {
	d := t.Sub(now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

// Close stops Run, waiting for it to return. It is idempotent and safe
// without Run.
func (in *Input) Close() error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return nil
	}
	in.closed = true
	cancel, done := in.cancel, in.done
	in.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	in.closeLedger()
	return nil
}

// Stats is a snapshot of the input's counters.
type Stats struct {
	Files         int64 // file versions shipped whole
	Failed        int64 // bad files (reported, moved to error_dir or remembered)
	Unchanged     int64 // files whose mtime changed but not their content: not shipped again
	Records       int64 // records appended
	Bytes         int64 // bytes of the files shipped whole (as stored, compressed or not)
	AppendedBytes int64 // bytes of entries appended
	AppendErrors  int64 // failed Append calls (each retried)
	Scans         int64 // scans of the globs
	LedgerErrors  int64 // failed pos_file writes
	LedgerDamaged int64 // pos_file versions found torn or corrupt at start
	AfterErrors   int64 // failed deletes and moves (after_transfer, error_dir); retried at the next scan
	ReadErrors    int64 // files that could not be read (I/O errors); retried at the next scan
	Unsettled     int64 // files seen changing, not yet settled, at the last scan
}

type counters struct {
	files, failed, unchanged, records, bytes, appendedBytes, appendErrors, scans,
	ledgerErrors, ledgerDamaged, afterErrors, readErrors, unsettled atomic.Int64
}

// Stats returns a snapshot of the counters. It is safe to call at any time.
func (in *Input) Stats() Stats {
	c := &in.stats
	return Stats{
		Files: c.files.Load(), Failed: c.failed.Load(), Unchanged: c.unchanged.Load(),
		Records: c.records.Load(), Bytes: c.bytes.Load(), AppendedBytes: c.appendedBytes.Load(),
		AppendErrors: c.appendErrors.Load(), Scans: c.scans.Load(), LedgerErrors: c.ledgerErrors.Load(),
		LedgerDamaged: c.ledgerDamaged.Load(), AfterErrors: c.afterErrors.Load(),
		ReadErrors: c.readErrors.Load(), Unsettled: c.unsettled.Load(),
	}
}

// note makes the change of path's ledger entry durable (see ledger.note),
// counting and logging a failure.
func (in *Input) note(path string) error {
	return in.ledgerError(in.led.note(path))
}

// save writes a whole snapshot of the ledger (see ledger.save), counting
// and logging a failure.
func (in *Input) save() error {
	return in.ledgerError(in.led.save())
}

func (in *Input) ledgerError(err error) error {
	if err != nil {
		in.stats.ledgerErrors.Add(1)
		in.log.Error("pos_file not written; will retry", "path", in.cfg.PosFile, "err", err)
	}
	return err
}

// closeLedger closes the journal's file, if Listen opened it.
func (in *Input) closeLedger() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.led != nil {
		in.led.closeJournal()
	}
}
