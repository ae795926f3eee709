package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/barge-dev/barge/conf"
	"github.com/barge-dev/barge/forwarder"
	"github.com/barge-dev/barge/forwarder/route"
	"github.com/barge-dev/barge/output/bigquery"
)

// A reload (SIGHUP, barge reload, POST /reload) reads the config file
// again. A config with errors is refused with its FILE:LINE errors and the
// running one goes on. Otherwise each directive is compared with the
// running one, as written (and, for a <match>, with its buffer as
// resolved):
//
//   - an unchanged <source>, <match> or <loader> keeps running: its
//     connections, its buffer and its position stay;
//   - a changed or removed <source> stops as at shutdown (a forward input
//     finishes and acks the message each connection is reading); a forward
//     input with the same bind and port hands its sockets to its successor,
//     so the port stays bound;
//   - a changed or removed <match> stops taking records and drains within
//     shutdown_timeout, as at shutdown; when the new config has a file
//     buffer at the same path, it only finishes its flushes in flight and
//     the successor takes the chunks left from the disk, so nothing is
//     flushed twice;
//   - the route table (filters and match order) is always the new one.
//
// Everything that can fail before the running config is touched (building
// each new component, opening new buffers, binding new ports) is done
// first, and a failure refuses the reload. Requests that arrive during a
// reload are served by one more reload after it: coalesced, never lost.
// <system> changes take effect at the next start.

// liveRouter is where inputs append: the route table of the config
// running. A reload swaps in a new table; an append that entered the old
// one finishes in it, and the reload waits for those before it retires
// the sinks only the old table had.
type liveRouter struct {
	cur atomic.Pointer[routeGen]
	// retired sums the counters of the retired routings; set is only
	// called by the reload (or the build), so the sum is theirs alone, and
	// Stats reads it under retiredMu.
	retiredMu sync.Mutex
	retired   route.Stats
}

// routeGen is one config's routing and the appends in it.
type routeGen struct {
	t        *routeTable
	inflight atomic.Int64
	retired  atomic.Bool
	once     sync.Once
	idle     chan struct{} // closed when retired and no append is in it
}

// set makes t the routing and returns the one it replaced (nil at
// first), retired: its idle channel closes once its appends ended.
func (l *liveRouter) set(t *routeTable) *routeGen {
	old := l.cur.Swap(&routeGen{t: t, idle: make(chan struct{})})
	if old != nil {
		old.retired.Store(true)
		if old.inflight.Load() == 0 {
			old.once.Do(func() { close(old.idle) })
		}
		st := old.stats()
		l.retiredMu.Lock()
		defer l.retiredMu.Unlock()
		l.retired.Unmatched += st.Unmatched
		l.retired.Filtered += st.Filtered
		l.retired.Errored += st.Errored
	}
	return old
}

// stats sums the counters of the generation's routers.
func (g *routeGen) stats() route.Stats {
	var sum route.Stats
	for _, r := range g.t.all() {
		st := r.Stats()
		sum.Unmatched += st.Unmatched
		sum.Filtered += st.Filtered
		sum.Errored += st.Errored
	}
	return sum
}

func (l *liveRouter) enter() *routeGen {
	for {
		g := l.cur.Load()
		g.inflight.Add(1)
		if !g.retired.Load() {
			return g
		}
		g.leave()
	}
}

func (g *routeGen) leave() {
	if g.inflight.Add(-1) == 0 && g.retired.Load() {
		g.once.Do(func() { close(g.idle) })
	}
}

// Stats returns the routers' counters, the retired ones' included.
func (l *liveRouter) Stats() route.Stats {
	g := l.enter()
	defer g.leave()
	st := g.stats()
	l.retiredMu.Lock()
	defer l.retiredMu.Unlock()
	st.Unmatched += l.retired.Unmatched
	st.Filtered += l.retired.Filtered
	st.Errored += l.retired.Errored
	return st
}

// socketInput is an input whose listening sockets a successor can take
// over (the forward input).
type socketInput interface {
	ListenAddr() string
	Handover(context.Context) (forwarder.Sockets, error)
	Adopt(forwarder.Sockets) error
}

// reloader serializes reloads and coalesces the requests that arrive
// during one into the next.
type reloader struct {
	mu      sync.Mutex
	kick    chan struct{} // holds one pending request
	waiters []chan reloadOutcome
	closed  bool // serve returned: requests are answered at once
}

// reloadOutcome is a reload's result: what changed, or why it was
// refused (refused) or went wrong part way (err without refused).
type reloadOutcome struct {
	summary string
	err     error
	refused bool
}

func (r *reloader) init() {
	if r.kick == nil {
		r.kick = make(chan struct{}, 1)
	}
}

// request asks for a reload. reply, when not nil (a buffered channel),
// receives the outcome of a reload that started after the request.
func (r *reloader) request(reply chan reloadOutcome) {
	r.mu.Lock()
	r.init()
	if r.closed {
		r.mu.Unlock()
		if reply != nil {
			reply <- reloadOutcome{err: errors.New("barge is stopping"), refused: true}
		}
		return
	}
	if reply != nil {
		r.waiters = append(r.waiters, reply)
	}
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default: // one is pending already: it will serve this request too
	}
}

// serve runs the reloads requested, each with do, until ctx ends; a
// reload in progress then ends first.
func (r *reloader) serve(ctx context.Context, do func(context.Context) reloadOutcome) {
	r.mu.Lock()
	r.init()
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.closed = true
		ws := r.waiters
		r.waiters = nil
		r.mu.Unlock()
		for _, w := range ws {
			w <- reloadOutcome{err: errors.New("barge is stopping"), refused: true}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		}
		r.mu.Lock()
		ws := r.waiters
		r.waiters = nil
		r.mu.Unlock()
		out := do(context.WithoutCancel(ctx))
		for _, w := range ws {
			w <- out
		}
	}
}

// reload reloads the config and reports the outcome in the log and the
// metrics.
func (pl *pipeline) reload(ctx context.Context) reloadOutcome {
	start := time.Now()
	summary, err := pl.apply(ctx)
	var refused *refusedError
	out := reloadOutcome{summary: summary, err: err, refused: errors.As(err, &refused)}
	switch {
	case err == nil:
		pl.reloads.ok.Add(1)
		pl.reloads.lastOK.Store(1)
		pl.reloads.last.Store(time.Now().Unix())
		pl.log.Info("config reloaded", "path", pl.path, "changes", summary, "took", time.Since(start).Round(time.Millisecond))
	case out.refused:
		pl.reloads.failed.Add(1)
		pl.reloads.lastOK.Store(0)
		pl.log.Error("config reload refused; the running config goes on", "path", pl.path, "err", refused.err)
	default:
		pl.reloads.failed.Add(1)
		pl.reloads.lastOK.Store(0)
		pl.log.Error("config reloaded with errors", "path", pl.path, "changes", summary, "err", err)
	}
	return out
}

// refusedError is a reload refused before it changed anything.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// apply loads the config and replaces what changed (see the top of this
// file). It returns a summary of the changes.
func (pl *pipeline) apply(ctx context.Context) (string, error) {
	old := pl.plan
	p, err := loadPlan(old.path)
	if err != nil {
		return "", &refusedError{err}
	}
	for _, w := range p.warnings() {
		pl.log.Warn(w.msg, "path", w.pos())
	}
	if old.system != p.system {
		pl.log.Warn("<system> changed: its settings take effect at the next start", "path", p.path)
	}
	cur := pl.snapshot()
	timeout := pl.system.ShutdownTimeout

	// Match the new directives with the running ones.
	sinks, fresh, gone, err := pl.matchSinks(p, cur.sinks)
	if err != nil {
		return "", &refusedError{err}
	}
	var freshIn []input
	var freshLoaders []*bigquery.Loader
	undo := func() {
		for _, s := range fresh {
			closeSink(s)
		}
		for _, in := range freshIn {
			in.Close()
		}
		for _, l := range freshLoaders {
			l.Close()
		}
	}
	r, err := pl.routes(p, sinks)
	if err != nil {
		undo()
		return "", &refusedError{err}
	}
	ipool := map[string][]int{}
	for i, m := range cur.inputMeta {
		ipool[m.key] = append(ipool[m.key], i)
	}
	ins := make([]input, len(p.sources))
	metas := make([]inputMeta, len(p.sources))
	for i := range p.sources {
		k := sectionKey(p.sources[i].sec)
		if l := ipool[k]; len(l) > 0 {
			ins[i], metas[i] = cur.inputs[l[0]], cur.inputMeta[l[0]]
			ipool[k] = l[1:]
			continue
		}
		in, meta, err := pl.buildInput(&p.sources[i])
		if err != nil {
			undo()
			return "", &refusedError{err}
		}
		ins[i], metas[i] = in, meta
		freshIn = append(freshIn, in)
	}
	var goneIn []input
	for i, in := range cur.inputs {
		if slices.Contains(ipool[cur.inputMeta[i].key], i) {
			goneIn = append(goneIn, in)
		}
	}
	lpool := map[string][]int{}
	pl.mu.RLock()
	keys := slices.Clone(pl.loaderKey)
	pl.mu.RUnlock()
	for i, k := range keys {
		lpool[k] = append(lpool[k], i)
	}
	loaders := make([]*bigquery.Loader, len(p.loaders))
	lkeys := make([]string, len(p.loaders))
	for i := range p.loaders {
		k := loaderKey(&p.loaders[i])
		lkeys[i] = k
		if l := lpool[k]; len(l) > 0 {
			loaders[i] = cur.loaders[l[0]]
			lpool[k] = l[1:]
			continue
		}
		l, err := buildLoader(&p.loaders[i], pl.logs, pl.hostname, p.path)
		if err != nil {
			undo()
			return "", &refusedError{err}
		}
		loaders[i] = l
		freshLoaders = append(freshLoaders, l)
	}
	var goneLoaders []*bigquery.Loader
	for i, l := range cur.loaders {
		if slices.Contains(lpool[keys[i]], i) {
			goneLoaders = append(goneLoaders, l)
		}
	}

	// What can fail, before anything running stops: open the new buffers
	// (but those at the path of a buffer that goes, which open once it
	// closed) and bind the new ports (but those handed over).
	gonePaths := map[string]bool{}
	for _, s := range gone {
		if s.path != "" {
			gonePaths[s.path] = true
		}
	}
	freshPaths := map[string]bool{}
	var deferred, opened []*sink
	for _, s := range fresh {
		if s.path != "" {
			freshPaths[s.path] = true
			if gonePaths[s.path] {
				deferred = append(deferred, s)
				continue
			}
		}
		if err := pl.openSink(ctx, s); err != nil {
			undo()
			return "", &refusedError{err}
		}
		opened = append(opened, s)
	}
	handFrom := map[string]socketInput{}
	for _, in := range goneIn {
		if si, ok := in.(socketInput); ok && !strings.HasSuffix(si.ListenAddr(), ":0") {
			handFrom[si.ListenAddr()] = si
		}
	}
	type handover struct{ from, to socketInput }
	var handovers []handover
	listening := map[input]bool{}
	for _, in := range freshIn {
		si, ok := in.(socketInput)
		if !ok {
			continue
		}
		if from, ok := handFrom[si.ListenAddr()]; ok {
			handovers = append(handovers, handover{from, si})
			delete(handFrom, si.ListenAddr())
			continue
		}
		if err := in.Listen(); err != nil {
			undo()
			return "", &refusedError{err}
		}
		listening[in] = true
	}

	// From here the new config runs.
	var errs []error
	for _, s := range opened {
		pl.runSink(s)
	}
	handed := map[input]bool{}
	for _, h := range handovers {
		from := h.from.(input)
		handed[from] = true
		hctx, cancel := context.WithTimeout(ctx, timeout)
		socks, err := h.from.Handover(hctx)
		cancel()
		pl.retireInput(from, timeout)
		if err != nil {
			errs = append(errs, fmt.Errorf("hand the forward input's sockets on %s over: %w", h.from.ListenAddr(), err))
			continue
		}
		if err := h.to.Adopt(socks); err != nil {
			socks.TCP.Close()
			socks.UDP.Close()
			errs = append(errs, err)
		}
	}
	for _, in := range goneIn {
		if !handed[in] {
			pl.retireInput(in, timeout)
		}
	}
	if prev := pl.router.set(r); prev != nil {
		select {
		case <-prev.idle:
		case <-time.After(timeout):
			pl.log.Warn("appends to the previous route table still running after shutdown_timeout; retiring its outputs anyway")
		}
	}
	for _, s := range gone {
		dctx, cancel := context.WithTimeout(ctx, timeout)
		if s.path != "" && freshPaths[s.path] {
			// its successor takes the chunks left from the disk
			err = s.buf.Settle(dctx)
		} else {
			err = s.buf.Drain(dctx)
		}
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			s.logger.Warn("drain buffer", "err", err)
		}
		pl.stopSinks([]*sink{s})
		if st := s.buf.Stats(); st.StagedChunks+st.QueuedChunks > 0 && !freshPaths[s.path] {
			s.logger.Warn("chunks left on disk by an output the new config does not have", "chunks", st.StagedChunks+st.QueuedChunks, "path", s.path)
		}
		closeSink(s)
	}
	for _, s := range deferred {
		if err := pl.openSink(ctx, s); err != nil {
			errs = append(errs, err)
			failSink(s, err)
			continue
		}
		pl.runSink(s)
	}
	var started []input
	for _, in := range freshIn {
		if !listening[in] {
			if err := in.Listen(); err != nil {
				errs = append(errs, err)
				in.Close()
				continue
			}
		}
		pl.runInput(in)
		started = append(started, in)
	}
	for _, l := range goneLoaders {
		pl.stopLoader(l)
	}
	for _, l := range freshLoaders {
		pl.runLoader(l)
	}
	keptIn := ins[:0:0]
	keptMeta := metas[:0:0]
	for i, in := range ins {
		if !slices.Contains(freshIn, in) || slices.Contains(started, in) {
			keptIn = append(keptIn, in)
			keptMeta = append(keptMeta, metas[i])
		}
	}
	pl.mu.Lock()
	pl.inputs, pl.inputMeta, pl.sinks, pl.loaders, pl.loaderKey = keptIn, keptMeta, sinks, loaders, lkeys
	pl.plan = p
	pl.mu.Unlock()
	summary := fmt.Sprintf("sources: %d kept, %d started, %d stopped; matches: %d kept, %d started, %d stopped; loaders: %d kept, %d started, %d stopped",
		len(ins)-len(freshIn), len(started), len(goneIn),
		len(sinks)-len(fresh), len(fresh), len(gone),
		len(loaders)-len(freshLoaders), len(freshLoaders), len(goneLoaders))
	return summary, errors.Join(errs...)
}

// matchSinks pairs the new config's <match>es with the running sinks: a
// sink whose key is unchanged is kept, others are built. It returns one
// sink per match, those built, and the running ones left over.
func (pl *pipeline) matchSinks(p *plan, running []*sink) (sinks, fresh, gone []*sink, err error) {
	pool := map[string][]*sink{}
	for _, s := range running {
		pool[s.key] = append(pool[s.key], s)
	}
	sinks = make([]*sink, len(p.matches))
	for i := range p.matches {
		k := matchKey(&p.matches[i], p)
		if l := pool[k]; len(l) > 0 {
			sinks[i], pool[k] = l[0], l[1:]
			continue
		}
		s, err := pl.buildSink(&p.matches[i], p)
		if err != nil {
			for _, f := range fresh {
				closeSink(f)
			}
			return nil, nil, nil, err
		}
		sinks[i] = s
		fresh = append(fresh, s)
	}
	for _, s := range running {
		if slices.Contains(pool[s.key], s) {
			gone = append(gone, s)
		}
	}
	return sinks, fresh, gone, nil
}

// retireInput stops a running input as at shutdown, within timeout, then
// closes it.
func (pl *pipeline) retireInput(in input, timeout time.Duration) {
	pl.rt.mu.Lock()
	r := pl.rt.inputs[in]
	delete(pl.rt.inputs, in)
	pl.rt.mu.Unlock()
	if r != nil {
		r.retired.Store(true)
		r.stop()
		select {
		case <-r.done:
		case <-time.After(timeout):
			pl.log.Warn("an input the new config does not have did not stop within shutdown_timeout; closing it")
			in.Close()
			<-r.done
		}
	}
	if err := in.Close(); err != nil {
		pl.log.Warn("close input", "err", err)
	}
}

// sectionKey is a directive as written, without its place in the file:
// what a reload compares.
func sectionKey(sec *conf.Section) string {
	var b strings.Builder
	writeSection(&b, sec)
	return b.String()
}

func writeSection(b *strings.Builder, sec *conf.Section) {
	fmt.Fprintf(b, "<%s %q>\n", sec.Name, sec.Arg)
	for _, p := range sec.Params {
		fmt.Fprintf(b, "%q %q", p.Key, p.Value)
		if p.Absent() {
			fmt.Fprintf(b, " absent")
		}
		b.WriteByte('\n')
	}
	for _, c := range sec.Sections {
		writeSection(b, c)
	}
	b.WriteString("</>\n")
}

// matchKey is an output (a <match> or a <store>) as written, its buffer as
// resolved (root_dir gives a buffer its path), and whether the config has
// a <label @ERROR> for its rejected records.
func matchKey(m *matchPlan, p *plan) string {
	key := sectionKey(m.sec)
	if j, err := json.Marshal(m.buffer); err == nil {
		key += string(j)
	}
	if _, ok := p.labels["@ERROR"]; ok {
		key += "\n@ERROR"
	}
	return key
}

// loaderKey is a <loader> as written and its config as resolved (a loader
// takes its bucket and prefix from the output it follows).
func loaderKey(lp *loaderPlan) string {
	j, err := json.Marshal(lp.cfg)
	if err != nil {
		return sectionKey(lp.sec)
	}
	return sectionKey(lp.sec) + string(j)
}

// reloadHTTP is POST /reload on the metrics listener: it reloads the
// config and answers once the reload is done: 200 with what changed, 422
// with the config's FILE:LINE errors when it was refused (the running
// config goes on), 500 when it took effect with errors.
func (pl *pipeline) reloadHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST /reload reloads the config", http.StatusMethodNotAllowed)
		return
	}
	reply := make(chan reloadOutcome, 1)
	pl.reloader.request(reply)
	var out reloadOutcome
	select {
	case out = <-reply:
	case <-r.Context().Done():
		return
	}
	switch {
	case out.err == nil:
		fmt.Fprintf(w, "reloaded %s: %s\n", pl.path, out.summary)
	case out.refused:
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprintf(w, "reload refused; the running config goes on:\n")
		printConfErrors(w, out.err)
	default:
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "reloaded with errors: %s\n", out.summary)
		printConfErrors(w, out.err)
	}
}

// cmdReload is `barge reload`: it asks a running barge to reload its
// config (POST /reload on its <system> http_bind and http_port), and
// prints the outcome: exit 0 only when the reload took effect.
func cmdReload(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "the `host:port` of barge's <system> http_bind and http_port (default: read from -c FILE, else 127.0.0.1:24231)")
	path := fs.String("c", "", "the running barge's config `file`, to find its http_bind and http_port")
	fs.StringVar(path, "config", "", "same as -c")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long to wait for the reload to end")
	if helpFlag(args, "reload", fs, stdout) {
		return 0
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || (*addr != "" && *path != "") {
		fmt.Fprintln(stderr, "usage: barge reload [-c FILE | --addr HOST:PORT] [--timeout 5m]")
		return 2
	}
	target := *addr
	if *path != "" {
		p, err := loadPlan(*path)
		if err != nil {
			fmt.Fprintf(stderr, "barge: %s has errors; a reload would be refused:\n", *path)
			printConfErrors(stderr, err)
			return 1
		}
		if p.system.HTTPPort == 0 {
			fmt.Fprintf(stderr, "barge: %s sets no <system> http_port: barge reload needs the metrics listener; send SIGHUP to the process instead\n", *path)
			return 1
		}
		target = net.JoinHostPort(p.system.HTTPBind, strconv.Itoa(p.system.HTTPPort))
	}
	if target == "" {
		target = "127.0.0.1:24231"
	}
	client := &http.Client{Timeout: *timeout}
	resp, err := client.Post("http://"+target+"/reload", "text/plain", nil)
	if err != nil {
		fmt.Fprintf(stderr, "barge: reload: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		fmt.Fprintf(stderr, "barge: reload: reading the answer of %s: %v\n", target, err)
		return 1
	}
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "barge: %s", body)
		return 1
	}
	fmt.Fprintf(stdout, "%s", body)
	return 0
}
