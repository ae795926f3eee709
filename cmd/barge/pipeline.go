package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/cmd/internal/procstat"
	"github.com/barge-dev/barge/conf"
	"github.com/barge-dev/barge/output/bigquery"
	"github.com/barge-dev/barge/output/file"
)

// input is what every <source> is.
type input interface {
	Listen() error
	Run(ctx context.Context) error
	Close() error
}

// sink is one <match>: its buffer and the output the buffer flushes to.
// The router appends to the sink, which holds each append until the
// buffer is open (a reload opens a new sink only once the old one that had
// its buffer path is closed).
type sink struct {
	name string
	buf  *buffer.Buffer
	out  io.Closer // nil when the output holds nothing to close
	// start, when the output has a Start (forward: the startup checks
	// and the heartbeats), runs once the buffers are open; Close stops
	// what it started.
	start  func(context.Context) error
	logger *slog.Logger
	typ    string // the output's @type
	limit  int64  // its buffer's total_limit_size
	// key is what a reload compares: the <match> as written and its
	// resolved buffer; path is its file buffer's path ("" in memory).
	key, path string
	// started is when its buffer started running (a time.Time), from
	// which a sink that never flushed counts its stall.
	started atomic.Value
	// ready is closed once the buffer is open and running, or failed to
	// open (openErr).
	ready   chan struct{}
	openErr error
	// stop ends the buffer's Run, which closes done.
	stop context.CancelFunc
	done chan struct{}
}

var _ buffer.MarkedSink = (*sink)(nil)

// wait holds an append until the buffer is open.
func (s *sink) wait(ctx context.Context) error {
	select {
	case <-s.ready:
	default:
		select {
		case <-s.ready:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.openErr
}

// Append appends to the buffer once it is open.
func (s *sink) Append(ctx context.Context, tag string, entries []byte) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.buf.Append(ctx, tag, entries)
}

// AppendMarked appends with a mark once the buffer is open.
func (s *sink) AppendMarked(ctx context.Context, tag string, entries []byte, m buffer.Mark) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.buf.AppendMarked(ctx, tag, entries, m)
}

// Marks returns the buffer's marks once it is open; none when it failed.
func (s *sink) Marks(prefix string) []buffer.Mark {
	if s.wait(context.Background()) != nil {
		return nil
	}
	return s.buf.Marks(prefix)
}

// bufferStats is a buffer's counters, as the metrics read them.
type bufferStats = buffer.Stats

// inputMeta names an input, for its metrics.
type inputMeta struct {
	name string // @id, else @type
	kind *kind
	key  string // what a reload compares: the <source> as written
}

// pipeline is a built, not yet started, barge.
type pipeline struct {
	log    *slog.Logger
	system systemConfig
	health health
	// router is where inputs append; a reload gives it a new route table.
	router *liveRouter
	// plan is the config running, logs and stdout what components are
	// built with: a reload builds with them.
	plan   *plan
	path   string // the config file's
	logs   loggers
	stdout io.Writer
	// mu guards the components below, which a reload replaces; readers
	// outside the pipeline's own goroutines take them with snapshot.
	mu        sync.RWMutex
	inputs    []input
	inputMeta []inputMeta // one per input
	sinks     []*sink
	loaders   []*bigquery.Loader
	loaderKey []string // one per loader: what a reload compares
	hostname  string
	reloads   reloadStats
	reloader  reloader
	// fluentLog, when set, makes barge's warnings and errors events
	// (fluentlog.go).
	fluentLog *fluentLog

	// Set by run for the components a reload starts and stops.
	rt *runtime
}

// runtime is what a running pipeline starts components under.
type runtime struct {
	base   context.Context // run's context without its cancellation
	inCtx  context.Context // inputs run under it; cancelled to stop barge
	stopIn context.CancelFunc
	fail   func(error)
	// per component: how to stop it, and when it stopped
	mu      sync.Mutex
	inputs  map[input]*running
	loaders map[*bigquery.Loader]*running
}

// running is a started input or loader.
type running struct {
	stop    context.CancelFunc
	done    chan struct{}
	retired atomic.Bool // stopped by a reload: its return is not a failure
}

// reloadStats counts config reloads (SIGHUP, barge reload, POST /reload),
// for the metrics.
type reloadStats struct {
	ok, failed atomic.Int64
	// last is the Unix time of the last successful load of the config:
	// the start, then each reload that took effect.
	last atomic.Int64
	// lastOK is whether the last reload took effect (1) or was refused
	// (0); 1 before any reload.
	lastOK atomic.Int64
}

// parts is one moment's set of a running pipeline's parts, as the
// metrics and the probes read them.
type parts struct {
	inputs    []input
	inputMeta []inputMeta
	sinks     []*sink
	loaders   []*bigquery.Loader
}

// snapshot returns the pipeline's current parts. The slices are copies.
func (pl *pipeline) snapshot() parts {
	pl.mu.RLock()
	defer pl.mu.RUnlock()
	return parts{
		inputs:    slices.Clone(pl.inputs),
		inputMeta: slices.Clone(pl.inputMeta),
		sinks:     slices.Clone(pl.sinks),
		loaders:   slices.Clone(pl.loaders),
	}
}

// build constructs every component of the plan. It does no I/O.
func build(p *plan, logs loggers, hostname string, stdoutW io.Writer) (*pipeline, error) {
	pl := &pipeline{log: logs.root(), system: p.system, hostname: hostname, plan: p, path: p.path, logs: logs, stdout: stdoutW}
	pl.router = &liveRouter{}
	pl.reloads.lastOK.Store(1)
	for i := range p.matches {
		s, err := pl.buildSink(&p.matches[i], p)
		if err != nil {
			return nil, err
		}
		pl.sinks = append(pl.sinks, s)
	}
	r, err := pl.routes(p, pl.sinks)
	if err != nil {
		return nil, err
	}
	pl.router.set(r)
	for i := range p.sources {
		in, meta, err := pl.buildInput(&p.sources[i])
		if err != nil {
			return nil, err
		}
		pl.inputs = append(pl.inputs, in)
		pl.inputMeta = append(pl.inputMeta, meta)
	}
	ls, err := buildLoaders(p, logs, hostname, "")
	if err != nil {
		return nil, err
	}
	pl.loaders = ls
	for _, lp := range p.loaders {
		pl.loaderKey = append(pl.loaderKey, loaderKey(&lp))
	}
	return pl, nil
}

// buildInput builds a <source>.
func (pl *pipeline) buildInput(s *sourcePlan) (input, inputMeta, error) {
	name := s.id
	if name == "" {
		name = s.kind.typ
	}
	lg, err := pl.logs.component("source", name, s.logLvl)
	if err != nil {
		return nil, inputMeta{}, fmt.Errorf("%s:%d: %w", s.sec.File, s.sec.Line, err)
	}
	in, err := s.kind.input(s.cfg, env{log: lg, hostname: pl.hostname, router: labelView{pl.router, s.label}})
	if err != nil {
		return nil, inputMeta{}, fmt.Errorf("%s:%d: <source>: %w", s.sec.File, s.sec.Line, err)
	}
	return in, inputMeta{name: name, kind: s.kind, key: sectionKey(s.sec)}, nil
}

// buildLoaders makes the loaders of the plan, or only the one named.
func buildLoaders(p *plan, logs loggers, hostname, only string) ([]*bigquery.Loader, error) {
	var out []*bigquery.Loader
	for _, lp := range p.loaders {
		if only != "" && lp.cfg.Name != only {
			continue
		}
		l, err := buildLoader(&lp, logs, hostname, p.path)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	if only != "" && len(out) == 0 {
		names := make([]string, len(p.loaders))
		for i, lp := range p.loaders {
			names[i] = lp.cfg.Name
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("%s: no <loader %s>: the config has no <loader> directive", p.path, only)
		}
		return nil, fmt.Errorf("%s: no <loader %s>%s; its loaders: %s", p.path, only, conf.Suggest(only, names), strings.Join(names, ", "))
	}
	return out, nil
}

// buildLoader makes a <loader>.
func buildLoader(lp *loaderPlan, logs loggers, hostname, configPath string) (*bigquery.Loader, error) {
	lg, err := logs.component("loader", lp.cfg.Name, lp.logLvl)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: %w", lp.sec.File, lp.sec.Line, err)
	}
	l, err := bigquery.New(lp.cfg, bigquery.Options{Logger: lg, Host: hostname, Version: version, ConfigPath: configPath})
	if err != nil {
		return nil, fmt.Errorf("%s:%d: <loader %s>: %w", lp.sec.File, lp.sec.Line, lp.cfg.Name, err)
	}
	return l, nil
}

// runLoaders runs loaders until ctx ends and returns when all have stopped.
func runLoaders(ctx context.Context, loaders []*bigquery.Loader) error {
	var wg sync.WaitGroup
	errs := make([]error, len(loaders))
	for i, l := range loaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Run(ctx); err != nil {
				errs[i] = fmt.Errorf("loader %s: %w", l.Name(), err)
			}
		}()
	}
	wg.Wait()
	for _, l := range loaders {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close loader %s: %w", l.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// buildSink builds a <match>: its output and its buffer. It does no I/O.
func (pl *pipeline) buildSink(m *matchPlan, p *plan) (*sink, error) {
	var errs buffer.Flusher
	if _, ok := p.labels["@ERROR"]; ok {
		errs = errorLabel{pl.router}
	}
	s, err := buildSink(m, pl.logs, pl.hostname, pl.stdout, errs)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: %s: %w", m.sec.File, m.sec.Line, m.what, err)
	}
	s.key = matchKey(m, p)
	if m.buffer.Type == "file" {
		s.path = filepath.Clean(m.buffer.Path)
	}
	return s, nil
}

func buildSink(m *matchPlan, logs loggers, hostname string, stdoutW io.Writer, errs buffer.Flusher) (*sink, error) {
	lg, err := logs.component("match", m.name, m.logLvl)
	if err != nil {
		return nil, err
	}
	s := &sink{name: m.name, logger: lg, typ: m.kind.typ, limit: m.buffer.TotalLimitSize, ready: make(chan struct{}), done: make(chan struct{})}
	s.started.Store(time.Time{})
	out, err := m.kind.output(m.cfg, env{log: lg, hostname: hostname, stdout: stdoutW})
	if err != nil {
		return nil, err
	}
	if c, ok := out.(io.Closer); ok {
		s.out = c
	}
	if st, ok := out.(interface{ Start(context.Context) error }); ok {
		s.start = st.Start
	}
	opts := buffer.Options{Name: m.name, Logger: lg, Errors: errs}
	if m.secondary != nil {
		sec, err := file.New(*m.secondary, file.Options{Logger: lg.With("secondary", true), Hostname: hostname})
		if err != nil {
			return nil, fmt.Errorf("<secondary>: %w", err)
		}
		opts.Secondary = sec
	}
	s.buf, err = buffer.New(m.buffer, out, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// signals takes the signals besides SIGTERM and SIGINT (which end ctx)
// from now on, and handles them in a goroutine until ctx ends: SIGUSR1
// flushes every buffer now (Fluentd's meaning); SIGHUP reloads the config
// (reload.go); SIGUSR2, which Fluentd 1.18 made a zero-downtime restart,
// is logged and ignored rather than left to end the process.
func (pl *pipeline) signals(ctx context.Context) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP)
	go pl.handleSignals(ctx, sigs)
}

func (pl *pipeline) handleSignals(ctx context.Context, sigs chan os.Signal) {
	defer signal.Stop(sigs)
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-sigs:
			switch sig {
			case syscall.SIGUSR1:
				sinks := pl.snapshot().sinks
				pl.log.Info("SIGUSR1: flushing every buffer now", "buffers", len(sinks))
				for _, s := range sinks {
					s.buf.FlushNow()
				}
			case syscall.SIGHUP:
				pl.log.Info("SIGHUP: reloading the config", "path", pl.path)
				pl.reloader.request(nil)
			default:
				pl.log.Warn("signal ignored: barge restarts on SIGTERM and a new start, and reloads on SIGHUP", "signal", sig.String())
			}
		}
	}
}

// run starts the pipeline and blocks until ctx ends, then shuts down in
// order: stop the loaders and the inputs (each input finishes the message
// it is reading), drain the buffers within shutdown_timeout, close the
// outputs. While it runs, it serves reloads (reload.go).
func (pl *pipeline) run(ctx context.Context) error {
	var errMu sync.Mutex
	var runErrs []error
	rt := &runtime{
		base: context.WithoutCancel(ctx),
		fail: func(err error) {
			errMu.Lock()
			runErrs = append(runErrs, err)
			errMu.Unlock()
		},
		inputs:  map[input]*running{},
		loaders: map[*bigquery.Loader]*running{},
	}
	rt.inCtx, rt.stopIn = context.WithCancel(ctx)
	defer rt.stopIn()
	pl.rt = rt
	defer pl.closeSinks()

	for _, s := range pl.sinks {
		if err := pl.openSink(ctx, s); err != nil {
			return err
		}
	}
	for _, s := range pl.sinks {
		pl.runSink(s)
	}
	for _, in := range pl.inputs {
		if err := in.Listen(); err != nil {
			pl.closeInputs()
			pl.stopSinks(pl.sinks)
			return err
		}
	}
	for _, in := range pl.inputs {
		pl.runInput(in)
	}
	for _, l := range pl.loaders {
		pl.runLoader(l)
	}
	memCtx, stopMemory := context.WithCancel(ctx)
	memDone := make(chan struct{})
	go func() { defer close(memDone); returnMemory(memCtx, memoryCheckInterval, memoryFreeThreshold) }()
	defer func() { stopMemory(); <-memDone }()
	reloadDone := make(chan struct{})
	go func() { defer close(reloadDone); pl.reloader.serve(rt.inCtx, pl.reload) }()
	logsCtx, stopLogs := context.WithCancel(rt.base)
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		if pl.fluentLog != nil {
			pl.fluentLog.run(logsCtx, pl.router)
		}
	}()
	defer func() { stopLogs(); <-logsDone }()
	pl.reloads.last.Store(time.Now().Unix())
	pl.health.running.Store(true)
	pl.log.Info("barge started", "version", version, "sources", len(pl.inputs), "matches", len(pl.sinks), "loaders", len(pl.loaders))
	if n, err := dropStartupPages(); err != nil {
		pl.log.Debug("start-up pages not dropped", "err", err)
	} else {
		pl.log.Debug("start-up pages dropped", "mapped_bytes", n)
	}
	<-rt.inCtx.Done()
	<-reloadDone // a reload in progress ends first
	pl.health.stopping.Store(true)
	cur := pl.snapshot()
	// A loader stops between steps; a job in flight is settled by the
	// next start from the ledger.
	for _, l := range cur.loaders {
		pl.stopLoader(l)
	}

	pl.log.Info("shutting down", "timeout", pl.system.ShutdownTimeout)
	drainCtx, cancelDrain := context.WithTimeout(rt.base, pl.system.ShutdownTimeout)
	defer cancelDrain()
	start := time.Now()
	// Inputs finish the messages they are reading. An input whose Append
	// blocks (overflow_action block with an output that does not take
	// chunks) is closed at the deadline: its unacked message is the
	// client's to resend.
	var ins []*running
	rt.mu.Lock()
	for _, in := range cur.inputs {
		ins = append(ins, rt.inputs[in])
	}
	rt.mu.Unlock()
	if !waitAll(drainCtx, ins) {
		pl.log.Warn("inputs did not stop within shutdown_timeout; closing them")
	}
	pl.closeInputs()
	waitAll(rt.base, ins)
	var drainWG sync.WaitGroup
	for _, s := range cur.sinks {
		drainWG.Go(func() {
			if err := s.buf.Drain(drainCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				s.logger.Warn("drain buffer", "err", err)
			}
		})
	}
	drainWG.Wait()
	pl.stopSinks(cur.sinks)
	for _, s := range cur.sinks {
		st := s.buf.Stats()
		if left := st.StagedChunks + st.QueuedChunks; left > 0 {
			s.logger.Warn("chunks left on disk for the next start", "chunks", left, "bytes", st.StagedBytes+st.QueuedBytes)
		}
	}
	// The peak of resident memory over the whole run (VmHWM), for anyone
	// sizing a container's limit.
	_, peak, _ := procstat.Memory(os.Getpid())
	pl.log.Info("stopped", "took", time.Since(start).Round(time.Millisecond), "peak_rss_bytes", peak)
	errMu.Lock()
	defer errMu.Unlock()
	return errors.Join(runErrs...)
}

// openSink opens a sink's buffer, recovering its chunks, and starts its
// output.
func (pl *pipeline) openSink(ctx context.Context, s *sink) error {
	rec, err := s.buf.Open(ctx)
	if err != nil {
		return fmt.Errorf("open buffer of %s: %w", s.name, err)
	}
	if rec.Chunks > 0 || rec.Corrupt > 0 {
		s.logger.Info("recovered buffer", "chunks", rec.Chunks, "bytes", rec.Bytes, "corrupt", rec.Corrupt)
	}
	if s.start != nil {
		if err := s.start(ctx); err != nil {
			return fmt.Errorf("start the output of %s: %w", s.name, err)
		}
	}
	return nil
}

// runSink runs an open sink's buffer and lets appends in.
func (pl *pipeline) runSink(s *sink) {
	ctx, cancel := context.WithCancel(pl.rt.base)
	s.stop = cancel
	s.started.Store(time.Now())
	close(s.ready)
	go func() {
		defer close(s.done)
		if err := s.buf.Run(ctx); err != nil {
			pl.rt.fail(fmt.Errorf("buffer of %s: %w", s.name, err))
		}
	}()
}

// failSink lets the appends held for a sink that could not open fail.
func failSink(s *sink, err error) {
	s.openErr = err
	close(s.ready)
	close(s.done)
}

// stopSinks ends the sinks' buffers' Run and waits for them.
func (pl *pipeline) stopSinks(sinks []*sink) {
	for _, s := range sinks {
		if s.stop != nil {
			s.stop()
		}
	}
	for _, s := range sinks {
		if s.stop != nil {
			<-s.done
		}
	}
}

// runInput runs a listening input. One failing stops barge.
func (pl *pipeline) runInput(in input) {
	ctx, cancel := context.WithCancel(pl.rt.inCtx)
	r := &running{stop: cancel, done: make(chan struct{})}
	pl.rt.mu.Lock()
	pl.rt.inputs[in] = r
	pl.rt.mu.Unlock()
	go func() {
		defer close(r.done)
		if err := in.Run(ctx); err != nil && !r.retired.Load() {
			pl.rt.fail(err)
			pl.rt.stopIn() // one input failing stops barge
		}
	}()
}

// runLoader runs a loader until stopLoader.
func (pl *pipeline) runLoader(l *bigquery.Loader) {
	ctx, cancel := context.WithCancel(pl.rt.base)
	r := &running{stop: cancel, done: make(chan struct{})}
	pl.rt.mu.Lock()
	pl.rt.loaders[l] = r
	pl.rt.mu.Unlock()
	go func() {
		defer close(r.done)
		if err := l.Run(ctx); err != nil && !r.retired.Load() {
			pl.rt.fail(fmt.Errorf("loader %s: %w", l.Name(), err))
		}
	}()
}

// stopLoader stops a running loader between its steps and closes it.
func (pl *pipeline) stopLoader(l *bigquery.Loader) {
	pl.rt.mu.Lock()
	r := pl.rt.loaders[l]
	delete(pl.rt.loaders, l)
	pl.rt.mu.Unlock()
	if r != nil {
		r.retired.Store(true)
		r.stop()
		<-r.done
	}
	if err := l.Close(); err != nil {
		pl.log.Warn("close loader", "loader", l.Name(), "err", err)
	}
}

// waitAll stops the running components and waits until all returned, or
// ctx ends (false).
func waitAll(ctx context.Context, rs []*running) bool {
	for _, r := range rs {
		if r != nil {
			r.stop()
		}
	}
	for _, r := range rs {
		if r == nil {
			continue
		}
		select {
		case <-r.done:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// closeInputs closes every input, logging each error once.
func (pl *pipeline) closeInputs() {
	for _, in := range pl.snapshot().inputs {
		if err := in.Close(); err != nil {
			pl.log.Warn("close input", "err", err)
		}
	}
}

// closeSinks closes buffers and outputs, joining every error.
func (pl *pipeline) closeSinks() {
	for _, s := range pl.snapshot().sinks {
		closeSink(s)
	}
}

// closeSink closes a sink's buffer and output.
func closeSink(s *sink) {
	if err := s.buf.Close(); err != nil {
		s.logger.Warn("close buffer", "err", err)
	}
	if s.out != nil {
		if err := s.out.Close(); err != nil {
			s.logger.Warn("close output", "err", err)
		}
	}
}
