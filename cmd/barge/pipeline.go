package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/conf"
	"github.com/barge-dev/barge/forwarder/route"
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
	// started is when its buffer started running (a time.Time), from
	// which a sink that never flushed counts its stall.
	started atomic.Value
}

// bufferStats is a buffer's counters, as the metrics read them.
type bufferStats = buffer.Stats

// inputMeta names an input, for its metrics.
type inputMeta struct {
	name string // @id, else @type
	kind *kind
}

// pipeline is a built, not yet started, barge.
type pipeline struct {
	log    *slog.Logger
	system systemConfig
	health health
	router *route.Router
	// mu guards the components below, which a reload replaces; readers
	// outside the pipeline's own goroutine take them with snapshot.
	mu        sync.RWMutex
	inputs    []input
	inputMeta []inputMeta // one per input
	sinks     []*sink
	loaders   []*bigquery.Loader
	hostname  string
	reloads   reloadStats
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
	pl := &pipeline{log: logs.root(), system: p.system, hostname: hostname}
	pl.router = route.New(route.Options{Logger: logs.root().With("component", "router")})
	for _, step := range p.order {
		if step >= 0 {
			if err := pl.addFilter(&p.filters[step], hostname); err != nil {
				return nil, err
			}
			continue
		}
		m := &p.matches[^step]
		s, err := buildSink(m, logs, hostname, stdoutW)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: <match %s>: %w", m.sec.File, m.sec.Line, m.sec.Arg, err)
		}
		pl.sinks = append(pl.sinks, s)
		if err := pl.router.AddMatch(m.patterns, s.buf); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", m.sec.File, m.sec.Line, err)
		}
	}
	for _, s := range p.sources {
		name := s.id
		if name == "" {
			name = s.kind.typ
		}
		lg, err := logs.component("source", name, s.logLvl)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", s.sec.File, s.sec.Line, err)
		}
		in, err := s.kind.input(s.cfg, env{log: lg, hostname: hostname, router: pl.router})
		if err != nil {
			return nil, fmt.Errorf("%s:%d: <source>: %w", s.sec.File, s.sec.Line, err)
		}
		pl.inputs = append(pl.inputs, in)
		pl.inputMeta = append(pl.inputMeta, inputMeta{name: name, kind: s.kind})
	}
	ls, err := buildLoaders(p, logs, hostname, "")
	if err != nil {
		return nil, err
	}
	pl.loaders = ls
	return pl, nil
}

// buildLoaders makes the loaders of the plan, or only the one named.
func buildLoaders(p *plan, logs loggers, hostname, only string) ([]*bigquery.Loader, error) {
	var out []*bigquery.Loader
	for _, lp := range p.loaders {
		if only != "" && lp.cfg.Name != only {
			continue
		}
		lg, err := logs.component("loader", lp.cfg.Name, lp.logLvl)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", lp.sec.File, lp.sec.Line, err)
		}
		l, err := bigquery.New(lp.cfg, bigquery.Options{Logger: lg, Host: hostname, Version: version, ConfigPath: p.path})
		if err != nil {
			return nil, fmt.Errorf("%s:%d: <loader %s>: %w", lp.sec.File, lp.sec.Line, lp.cfg.Name, err)
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

func (pl *pipeline) addFilter(f *filterPlan, hostname string) error {
	flt, err := f.kind.filter(f.cfg, env{log: pl.log, hostname: hostname})
	if err == nil {
		err = pl.router.AddFilter(f.patterns, flt)
	}
	if err != nil {
		return fmt.Errorf("%s:%d: <filter %s>: %w", f.sec.File, f.sec.Line, f.sec.Arg, err)
	}
	return nil
}

func buildSink(m *matchPlan, logs loggers, hostname string, stdoutW io.Writer) (*sink, error) {
	lg, err := logs.component("match", m.name, m.logLvl)
	if err != nil {
		return nil, err
	}
	s := &sink{name: m.name, logger: lg, typ: m.kind.typ, limit: m.buffer.TotalLimitSize}
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
	opts := buffer.Options{Name: m.name, Logger: lg}
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

// run starts the pipeline and blocks until ctx ends, then shuts down in
// order: stop inputs (each finishes the message it is reading), drain the
// buffers within shutdown_timeout, close the outputs.
// signals takes the signals besides SIGTERM and SIGINT (which end ctx)
// from now on, and handles them in a goroutine until ctx ends: SIGUSR1
// flushes every buffer now (Fluentd's meaning); SIGHUP and SIGUSR2, which
// Fluentd uses to reload or restart, are logged and ignored rather than
// left to end the process.
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
			if sig == syscall.SIGUSR1 {
				pl.log.Info("SIGUSR1: flushing every buffer now", "buffers", len(pl.sinks))
				for _, s := range pl.sinks {
					s.buf.FlushNow()
				}
				continue
			}
			pl.log.Warn("signal ignored: barge does not reload its config yet", "signal", sig.String())
		}
	}
}

func (pl *pipeline) run(ctx context.Context) error {
	bufCtx, stopBuffers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBuffers()
	var bufWG sync.WaitGroup
	var errMu sync.Mutex
	var runErrs []error
	fail := func(err error) {
		errMu.Lock()
		runErrs = append(runErrs, err)
		errMu.Unlock()
	}
	defer pl.closeSinks()

	for _, s := range pl.sinks {
		rec, err := s.buf.Open(ctx)
		if err != nil {
			return fmt.Errorf("open buffer of %s: %w", s.name, err)
		}
		if rec.Chunks > 0 || rec.Corrupt > 0 {
			s.logger.Info("recovered buffer", "chunks", rec.Chunks, "bytes", rec.Bytes, "corrupt", rec.Corrupt)
		}
	}
	for _, s := range pl.sinks {
		if s.start == nil {
			continue
		}
		if err := s.start(ctx); err != nil {
			return fmt.Errorf("start the output of %s: %w", s.name, err)
		}
	}
	for _, s := range pl.sinks {
		s.started.Store(time.Now())
		bufWG.Add(1)
		go func() {
			defer bufWG.Done()
			if err := s.buf.Run(bufCtx); err != nil {
				fail(fmt.Errorf("buffer of %s: %w", s.name, err))
			}
		}()
	}
	for _, in := range pl.inputs {
		if err := in.Listen(); err != nil {
			pl.closeInputs()
			stopBuffers()
			bufWG.Wait()
			return err
		}
	}
	inCtx, stopInputs := context.WithCancel(ctx)
	defer stopInputs()
	var inWG sync.WaitGroup
	for _, in := range pl.inputs {
		inWG.Add(1)
		go func() {
			defer inWG.Done()
			if err := in.Run(inCtx); err != nil {
				fail(err)
				stopInputs() // one input failing stops barge
			}
		}()
	}
	loadCtx, stopLoaders := context.WithCancel(ctx)
	defer stopLoaders()
	loadersDone := make(chan struct{})
	go func() {
		defer close(loadersDone)
		if err := runLoaders(loadCtx, pl.loaders); err != nil {
			fail(err)
		}
	}()
	memCtx, stopMemory := context.WithCancel(ctx)
	memDone := make(chan struct{})
	go func() { defer close(memDone); returnMemory(memCtx, memoryCheckInterval, memoryFreeThreshold) }()
	defer func() { stopMemory(); <-memDone }()
	pl.log.Info("barge started", "version", version, "sources", len(pl.inputs), "matches", len(pl.sinks), "loaders", len(pl.loaders))
	pl.health.running.Store(true)
	<-inCtx.Done()
	pl.health.stopping.Store(true)
	// A loader stops between steps; a job in flight is settled by the
	// next start from the ledger.
	stopLoaders()
	<-loadersDone

	pl.log.Info("shutting down", "timeout", pl.system.ShutdownTimeout)
	drainCtx, cancelDrain := context.WithTimeout(context.WithoutCancel(ctx), pl.system.ShutdownTimeout)
	defer cancelDrain()
	start := time.Now()
	// Inputs finish the messages they are reading. An input whose Append
	// blocks (overflow_action block with an output that does not take
	// chunks) is closed at the deadline: its unacked message is the
	// client's to resend.
	inputsDone := make(chan struct{})
	go func() { inWG.Wait(); close(inputsDone) }()
	select {
	case <-inputsDone:
	case <-drainCtx.Done():
		pl.log.Warn("inputs did not stop within shutdown_timeout; closing them")
	}
	pl.closeInputs()
	<-inputsDone
	var drainWG sync.WaitGroup
	for _, s := range pl.sinks {
		drainWG.Add(1)
		go func() {
			defer drainWG.Done()
			if err := s.buf.Drain(drainCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				s.logger.Warn("drain buffer", "err", err)
			}
		}()
	}
	drainWG.Wait()
	stopBuffers()
	bufWG.Wait()
	for _, s := range pl.sinks {
		st := s.buf.Stats()
		if left := st.StagedChunks + st.QueuedChunks; left > 0 {
			s.logger.Warn("chunks left on disk for the next start", "chunks", left, "bytes", st.StagedBytes+st.QueuedBytes)
		}
	}
	pl.log.Info("stopped", "took", time.Since(start).Round(time.Millisecond))
	errMu.Lock()
	defer errMu.Unlock()
	return errors.Join(runErrs...)
}

// closeInputs closes every input, logging each error once.
func (pl *pipeline) closeInputs() {
	for _, in := range pl.inputs {
		if err := in.Close(); err != nil {
			pl.log.Warn("close input", "err", err)
		}
	}
}

// closeSinks closes buffers and outputs, joining every error.
func (pl *pipeline) closeSinks() {
	for _, s := range pl.sinks {
		if err := s.buf.Close(); err != nil {
			s.logger.Warn("close buffer", "err", err)
		}
		if s.out != nil {
			if err := s.out.Close(); err != nil {
				s.logger.Warn("close output", "err", err)
			}
		}
	}
}
