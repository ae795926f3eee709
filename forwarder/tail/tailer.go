package tail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/forwarder/parse"
)

// Sink receives the entries of the files followed: the msgpack [time,
// record] stream of package buffer/event, for one tag. nil means the
// entries are durable: only then does a position move past their lines.
// Append may block (backpressure): the tailer reads nothing meanwhile.
// entries is not kept by the tailer after Append returns, nor may the
// Sink keep it.
type Sink interface {
	Append(ctx context.Context, tag string, entries []byte) error
}

// Options are what the tailer takes besides its Config.
type Options struct {
	// Logger receives warnings and errors (nil: discarded).
	Logger *slog.Logger
	// Hostname is reserved for record fields naming the host; unused yet.
	Hostname string
	// Now is the clock of records without a time and of rotate_wait (nil:
	// time.Now).
	Now func() time.Time
}

// Stats are the tailer's counters since New.
type Stats struct {
	Files     int    // files followed now (rotated ones still read included)
	Lines     uint64 // lines given to the parsers
	Bytes     uint64 // bytes of those lines and of the lines skipped
	Records   uint64 // entries appended (Append returned nil)
	Unmatched uint64 // of those, lines that did not parse
	LongLines uint64 // lines longer than max_line_size, skipped
	Errors    uint64 // failed Appends, reads, stats, opens and Syncs
}

// ErrClosed is returned by Listen and Run after Close.
var ErrClosed = errors.New("tail: closed")

// Tailer follows the files of one <source> (see doc.go). Its reading runs
// in one goroutine, Run's.
type Tailer struct {
	cfg      Config
	sink     Sink
	log      *slog.Logger
	now      func() time.Time
	resolver *Resolver
	parseOpt parse.Options
	latin1   bool // from_encoding ISO-8859-1: lines converted to UTF-8

	// Intervals; tests shorten them.
	reconcileEvery time.Duration
	syncEvery      time.Duration
	retryMin       time.Duration
	retryMax       time.Duration

	mu       sync.Mutex // guards the lifecycle fields below
	listened bool
	running  bool
	closed   bool
	cancel   context.CancelFunc
	done     chan struct{}

	store Store // set by Listen

	// Set by Listen when the sink stores marks and there is a pos_file
	// (see marks.go); seq is owned by Run's goroutine.
	marked     buffer.MarkedSink
	markPrefix string
	seq        uint64

	// Owned by Run's goroutine (or by Listen and Close when Run is not
	// running).
	files    []*follower          // followed, rotated ones included
	byPath   map[string]*follower // those whose path still names them
	started  bool                 // the first refresh was done
	unsynced bool                 // a file was followed and its position not yet synced
	batch    []byte
	scratch  []byte // addKeys' copy of the entries it rewrites
	conv     []byte // a line converted from from_encoding
	nfiles   atomic.Int64
	lag      atomic.Pointer[[]FileLag] // see Lag
	counters struct {
		lines, bytes, records, unmatched, long, errors atomic.Uint64
	}
}

// New returns a Tailer for cfg, delivering to sink. It does no I/O.
func New(cfg Config, sink Sink, opts Options) (*Tailer, error) {
	if sink == nil {
		return nil, errors.New("tail: nil sink")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Parse.MultilineFlushInterval == 0 {
		cfg.Parse.MultilineFlushInterval = cfg.MultilineFlushInterval
	}
	po := parse.Options{UnmatchedKey: "message"}
	if cfg.EmitUnmatchedLines {
		po.UnmatchedKey = "unmatched_line"
	}
	if _, err := parse.New(cfg.Parse, po); err != nil {
		return nil, fmt.Errorf("<parse>: %w", err)
	}
	t := &Tailer{
		cfg: cfg, sink: sink, log: opts.Logger, now: opts.Now, parseOpt: po,
		reconcileEvery: time.Second, syncEvery: time.Second,
		retryMin: 100 * time.Millisecond, retryMax: 30 * time.Second,
		byPath: map[string]*follower{},
		latin1: strings.EqualFold(cfg.FromEncoding, "ISO-8859-1"),
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.now == nil {
		t.now = time.Now
	}
	r, err := NewResolver(&t.cfg, t.log)
	if err != nil {
		return nil, err
	}
	t.resolver = r
	return t, nil
}

// Listen opens the pos_file and, unless skip_refresh_on_startup, finds
// and opens the files to follow. Run calls it if it was not called.
func (t *Tailer) Listen() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		return ErrClosed
	case t.listened:
		return errors.New("tail: listen called twice")
	}
	s, _, err := OpenFile(t.cfg.PosFile, FileOptions{Fsync: t.cfg.PosFileFsync, Logger: t.log, Now: t.now})
	if err != nil {
		return err
	}
	if t.cfg.PosFile == "" {
		t.log.Warn("no pos_file: positions are kept in memory only", "tag", t.cfg.Tag)
	}
	t.store = s
	t.listened = true
	t.takeMarks()
	if !t.cfg.SkipRefreshOnStartup {
		t.refresh()
	}
	return nil
}

// Run follows the files until ctx is done or Close is called, then syncs
// the positions. It returns after its goroutines ended; nil when stopped.
func (t *Tailer) Run(ctx context.Context) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	if t.running {
		t.mu.Unlock()
		return errors.New("tail: run called twice")
	}
	listened := t.listened
	t.mu.Unlock()
	if !listened {
		if err := t.Listen(); err != nil {
			return err
		}
	}
	t.mu.Lock()
	if t.closed || t.running {
		t.mu.Unlock()
		return ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	t.running, t.cancel, t.done = true, cancel, make(chan struct{})
	done := t.done
	t.mu.Unlock()
	defer close(done)
	defer cancel()
	t.loop(ctx)
	if err := t.store.Sync(); err != nil {
		t.counters.errors.Add(1)
		return fmt.Errorf("sync pos_file: %w", err)
	}
	return nil
}

// Close stops Run, if running, and waits for it; then it closes the
// files and syncs the positions. It is idempotent.
func (t *Tailer) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	if t.cancel != nil {
		t.cancel()
	}
	done := t.done
	t.mu.Unlock()
	if done != nil {
		<-done
	}
	var errs []error
	for _, fl := range t.files {
		if err := fl.close(); err != nil {
			errs = append(errs, err)
		}
	}
	t.files, t.byPath = nil, map[string]*follower{}
	t.nfiles.Store(0)
	t.lag.Store(nil)
	if t.store != nil {
		if err := t.store.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("sync pos_file: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Stats returns the counters; safe at any time.
func (t *Tailer) Stats() Stats {
	c := &t.counters
	return Stats{
		Files: int(t.nfiles.Load()), Lines: c.lines.Load(), Bytes: c.bytes.Load(),
		Records: c.records.Load(), Unmatched: c.unmatched.Load(),
		LongLines: c.long.Load(), Errors: c.errors.Load(),
	}
}
