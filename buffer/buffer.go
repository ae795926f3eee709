package buffer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// Options are the buffer's collaborators.
type Options struct {
	Name      string       // the match's @id or pattern, used in logs and as default dir name
	Logger    *slog.Logger // nil discards
	Secondary Flusher      // nil when no <secondary>
	// Errors, when set (Fluentd's <label @ERROR>), takes the records the
	// output rejects (see RejectedRecords), in a chunk of their own,
	// before the secondary and failed/.
	Errors Flusher
	Clock  Clock // nil = real time; tests inject a fake
}

// Recovery reports what Open found on disk.
type Recovery struct {
	Chunks  int   // chunks resumed
	Bytes   int64 // entry bytes in them
	Corrupt int   // files or torn tails moved to corrupt/
	// Uncommitted is the records of marked appends that never returned,
	// dropped: their inputs read them again (see AppendMarked).
	Uncommitted int
}

// Buffer stages entries into chunks, queues full or due chunks and flushes
// them with its Flusher, retrying with backoff. See the package doc.
type Buffer struct {
	cfg   Config
	out   Flusher
	opts  Options
	log   *slog.Logger
	clock Clock
	keys  keySpec
	mode  string // resolved flush_mode
	file  bool
	pool  sync.Pool // *scan
	sync  syncer

	mu       sync.Mutex
	lock     *os.File // path/buffer.lock, flocked while open (file buffer)
	opened   bool
	closed   bool
	running  bool
	staged   map[string]*Chunk
	queue    []*Chunk // queued, in flush order (a failed chunk goes to the back); in-flight chunks are not in it
	inflight int
	settled  bool // Settle was called: Run's workers take no more chunks
	retry    retryState
	probe    *Chunk // the one chunk in flight while retry is active
	work     signal // queue gained a chunk, a flush ended, retry state changed
	space    signal // bytes were freed
	timers   signal // a staged chunk was created or the queue shrank
	stats    Stats
	diskFull bool                 // in a disk-full episode (see diskfull.go)
	tasks    sync.WaitGroup       // purge/move goroutines started by Append's drop_oldest_chunk
	marks    map[string]markState // latest committed mark per source (see marks.go)
	marksMu  sync.Mutex           // serialises writes of the marks file
}

// signal is a broadcast: waiters take wait() under the buffer's lock and
// select on it; broadcast closes it.
type signal struct{ ch chan struct{} }

func (s *signal) wait() <-chan struct{} {
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *signal) broadcast() {
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// New validates cfg and returns a buffer. It does no I/O and starts no
// goroutines.
func New(cfg Config, out Flusher, opts Options) (*Buffer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if out == nil {
		return nil, errors.New("buffer: nil Flusher")
	}
	if cfg.Type == "file" && cfg.Path == "" {
		return nil, errors.New("'path' is required for a file buffer")
	}
	loc, err := zone(cfg.TimeKeyZone, cfg.TimeKeyUseUTC)
	if err != nil {
		return nil, fmt.Errorf("'timekey_zone' %w", err)
	}
	b := &Buffer{
		cfg:    cfg,
		out:    out,
		opts:   opts,
		log:    opts.Logger,
		clock:  opts.Clock,
		mode:   cfg.flushMode(),
		file:   cfg.Type == "file",
		staged: make(map[string]*Chunk),
		marks:  make(map[string]markState),
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.clock == nil {
		b.clock = realClock{}
	}
	b.keys.loc = loc
	b.keys.timekey = int64(cfg.TimeKey.Seconds())
	for _, k := range cfg.ChunkKeys {
		switch k {
		case "tag":
			b.keys.tag = true
		case "time":
			b.keys.time = true
		default:
			if !contains(b.keys.records, k) {
				b.keys.records = append(b.keys.records, k)
			}
		}
	}
	b.pool.New = func() any { return new(scan) }
	b.retry.cfg = &b.cfg
	return b, nil
}

// Open creates the buffer directory, locks it (an error wrapping ErrLocked
// when another Buffer has it open), checks that it can be written and
// recovers the chunks left in it.
func (b *Buffer) Open(ctx context.Context) (Recovery, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return Recovery{}, ErrClosed
	}
	if b.opened {
		return Recovery{}, errors.New("buffer: opened twice")
	}
	var rec Recovery
	if b.file {
		dir := b.cfg.Path
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return rec, fmt.Errorf("create buffer directory: %w", err)
		}
		lock, err := lockDir(dir)
		if err != nil {
			return rec, err
		}
		if err := probe(dir); err != nil {
			if !noSpace(err) {
				lock.Close()
				return rec, fmt.Errorf("buffer path %s is not writable: %w", dir, err)
			}
			// A full disk is not an operator's mistake, and flushing the
			// chunks in it is what frees it.
			b.writeFailed(err)
		}
		if rec, err = b.recover(ctx); err != nil {
			lock.Close()
			return rec, err
		}
		b.lock = lock
	}
	b.opened = true
	return rec, nil
}

// Close closes the chunk files and releases the buffer directory; what is
// not flushed stays on disk. It is idempotent and safe without Run.
func (b *Buffer) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.work.broadcast()
	b.space.broadcast()
	b.timers.broadcast()
	var errs []error
	for _, c := range b.staged {
		errs = append(errs, c.st.close())
	}
	for _, c := range b.queue {
		errs = append(errs, c.st.enqueue(), c.st.close())
	}
	lock := b.lock
	b.lock = nil
	b.mu.Unlock()
	b.tasks.Wait()
	b.sync.wait()
	if lock != nil {
		errs = append(errs, lock.Close()) // the next Open may take the directory
	}
	return errors.Join(errs...)
}

// Stats returns the buffer's counters.
func (b *Buffer) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stats
	s.Fsyncs = b.sync.count.Load()
	return s
}
