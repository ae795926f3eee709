package route

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/event"
)

// Sink receives a canonical entries stream. It has the method set of
// forwarder.Sink and buffer.Buffer: a nil error means the entries are
// durable; the Sink must not retain entries after Append returns.
type Sink interface {
	Append(ctx context.Context, tag string, entries []byte) error
}

// Filter rewrites a canonical entries stream. It appends the entries it
// keeps, possibly changed, to dst and returns the extended slice; returning
// dst unchanged drops every entry. Each kept entry keeps its time bytes.
// Filter must be safe for concurrent use and must not retain entries or dst.
type Filter interface {
	Filter(tag string, entries []byte, dst []byte) ([]byte, error)
}

// Clock tells the time; tests inject a fake one.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Options are a Router's collaborators.
type Options struct {
	Logger *slog.Logger // nil discards
	Clock  Clock        // nil is the real clock; used to rate-limit warnings
	// Errors, when set (Fluentd's <label @ERROR>), receives the entries a
	// filter refused with an error, under their tag, in place of the
	// error: Append then returns what Errors.Append returns.
	Errors Sink
}

// Stats are a Router's counters.
type Stats struct {
	// Unmatched is the number of records that matched no <match> and were dropped.
	Unmatched int64
	// Errored is the number of appends a filter refused that went to
	// Options.Errors.
	Errored int64
	// Filtered is the number of records the <filter>s dropped (those that
	// count them: grep).
	Filtered int64
}

// dropCounter is a Filter that counts the records it drops.
type dropCounter interface{ Dropped() int64 }

const (
	cacheLimit    = 4096        // tags whose resolution is remembered
	warnInterval  = time.Minute // at most one "no patterns matched" per tag per interval
	warnTagsLimit = 4096        // tags whose warning state is remembered
	maxPooledBuf  = 16 << 20    // larger filter buffers are not pooled
)

// Router sends entries through the <filter>s and to the first <match> whose
// patterns match their tag, as Fluentd's event router does. It is a Sink.
type Router struct {
	log    *slog.Logger
	clock  Clock
	errors Sink

	mu    sync.RWMutex
	rules []rule
	cache map[string]*resolution

	unmatched atomic.Int64
	errored   atomic.Int64 // appends a filter refused, sent to errors

	warnMu sync.Mutex
	warned map[string]*warnState

	bufs sync.Pool // *[]byte for filter output
}

var _ Sink = (*Router)(nil)

type rule struct {
	pat    Pattern
	filter Filter // nil for a match
	sink   Sink
}

// resolution is what a tag goes through: the filters and the sink (nil
// when nothing matches).
type resolution struct {
	filters []Filter
	sink    Sink
}

type warnState struct {
	last    time.Time
	pending int64 // records dropped since the last warning
}

// New returns a Router without rules.
func New(opts Options) *Router {
	r := &Router{
		log:    opts.Logger,
		clock:  opts.Clock,
		errors: opts.Errors,
		cache:  make(map[string]*resolution),
		warned: make(map[string]*warnState),
	}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if r.clock == nil {
		r.clock = realClock{}
	}
	return r
}

// AddFilter adds a <filter> directive. patterns are the directive's tag
// patterns (each may itself hold several, separated by spaces). As in
// Fluentd, a filter applies to a tag only when it was added before the
// first <match> that matches that tag.
func (r *Router) AddFilter(patterns []string, f Filter) error {
	if f == nil {
		return errors.New("route: nil filter")
	}
	return r.add(patterns, rule{filter: f})
}

// AddMatch adds a <match> directive. The first match whose patterns match
// a tag receives its entries.
func (r *Router) AddMatch(patterns []string, sink Sink) error {
	if sink == nil {
		return errors.New("route: nil sink")
	}
	return r.add(patterns, rule{sink: sink})
}

func (r *Router) add(patterns []string, ru rule) error {
	if len(patterns) == 0 {
		return errors.New("route: no tag pattern")
	}
	var src []byte
	for i, p := range patterns {
		if i > 0 {
			src = append(src, ' ')
		}
		src = append(src, p...)
	}
	pat, err := Compile(string(src))
	if err != nil {
		return err
	}
	ru.pat = pat
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rules = append(r.rules, ru)
	clear(r.cache)
	return nil
}

var _ buffer.MarkedSink = (*Router)(nil)

// Append filters entries and hands the result to the first matching sink,
// returning its error unchanged. Entries that match no <match> are counted
// and dropped (nil error); so are entries that the filters drop entirely.
func (r *Router) Append(ctx context.Context, tag string, entries []byte) error {
	return r.append(ctx, tag, entries, nil)
}

// AppendMarked is Append, handing m with the filtered entries to a sink
// that stores marks (a buffer.MarkedSink); a sink that does not gets Append.
// Entries that the filters drop entirely, or that match no <match>, store
// no mark: an input that resumes from an older one reads them again, and
// drops them again.
func (r *Router) AppendMarked(ctx context.Context, tag string, entries []byte, m buffer.Mark) error {
	return r.append(ctx, tag, entries, &m)
}

// Marks returns the marks of every sink that stores them (a
// buffer.MarkedSink) whose source starts with prefix: for a source in several
// sinks (routes changed between runs), the one with the greatest Seq.
func (r *Router) Marks(prefix string) []buffer.Mark {
	r.mu.RLock()
	var sinks []buffer.MarkedSink
	for _, ru := range r.rules {
		if ms, ok := ru.sink.(buffer.MarkedSink); ok && !slices.Contains(sinks, ms) {
			sinks = append(sinks, ms)
		}
	}
	r.mu.RUnlock()
	return buffer.PickMarks(sinks, prefix, func(m, over buffer.Mark) bool { return m.Seq > over.Seq })
}

func (r *Router) append(ctx context.Context, tag string, entries []byte, m *buffer.Mark) error {
	res := r.resolve(tag)
	if res.sink == nil {
		r.dropUnmatched(tag, entries)
		return nil
	}
	if len(res.filters) == 0 {
		return deliver(ctx, res.sink, tag, entries, m)
	}
	a, b := r.getBuf(), r.getBuf()
	defer r.putBuf(a)
	defer r.putBuf(b)
	cur := entries
	for _, f := range res.filters {
		out, err := f.Filter(tag, cur, (*a)[:0])
		*a = out[:0]
		if err != nil {
			if r.errors != nil {
				r.errored.Add(1)
				r.log.Warn("a filter refused records: sent to <label @ERROR>", "tag", tag, "err", err)
				return r.errors.Append(ctx, tag, cur)
			}
			return fmt.Errorf("filter tag %q: %w", tag, err)
		}
		if len(out) == 0 {
			return nil
		}
		cur = out
		a, b = b, a
	}
	return deliver(ctx, res.sink, tag, cur, m)
}

func deliver(ctx context.Context, s Sink, tag string, entries []byte, m *buffer.Mark) error {
	if ms, ok := s.(buffer.MarkedSink); ok && m != nil {
		return ms.AppendMarked(ctx, tag, entries, *m)
	}
	return s.Append(ctx, tag, entries)
}

// Stats returns the Router's counters.
func (r *Router) Stats() Stats {
	st := Stats{Unmatched: r.unmatched.Load(), Errored: r.errored.Load()}
	r.mu.RLock()
	for _, ru := range r.rules {
		if d, ok := ru.filter.(dropCounter); ok {
			st.Filtered += d.Dropped()
		}
	}
	r.mu.RUnlock()
	return st
}

func (r *Router) resolve(tag string) *resolution {
	r.mu.RLock()
	res, ok := r.cache[tag]
	if ok {
		r.mu.RUnlock()
		return res
	}
	res = &resolution{}
	for _, ru := range r.rules {
		if !ru.pat.Match(tag) {
			continue
		}
		if ru.filter != nil {
			res.filters = append(res.filters, ru.filter)
			continue
		}
		res.sink = ru.sink
		break
	}
	if res.sink == nil {
		res.filters = nil
	}
	r.mu.RUnlock()

	r.mu.Lock()
	if len(r.cache) >= cacheLimit {
		clear(r.cache)
	}
	r.cache[tag] = res
	r.mu.Unlock()
	return res
}

func (r *Router) dropUnmatched(tag string, entries []byte) {
	n, _, _, _ := event.Count(entries) // on a malformed tail, the entries before it
	r.unmatched.Add(int64(n))
	if strings.HasPrefix(tag, "fluent.") {
		return // barge's own log events, as in Fluentd: no warning that would log again
	}
	now := r.clock.Now()
	r.warnMu.Lock()
	w := r.warned[tag]
	first := w == nil
	if first {
		if len(r.warned) >= warnTagsLimit {
			for t, s := range r.warned {
				if now.Sub(s.last) >= warnInterval {
					delete(r.warned, t)
				}
			}
			if len(r.warned) >= warnTagsLimit {
				clear(r.warned)
			}
		}
		w = &warnState{}
		r.warned[tag] = w
	}
	w.pending += int64(n)
	if !first && now.Sub(w.last) < warnInterval {
		r.warnMu.Unlock()
		return
	}
	records := w.pending
	w.pending = 0
	w.last = now
	r.warnMu.Unlock()
	r.log.Warn("no patterns matched; records dropped", "tag", tag, "records", records)
}

func (r *Router) getBuf() *[]byte {
	if b, ok := r.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

func (r *Router) putBuf(b *[]byte) {
	if cap(*b) <= maxPooledBuf {
		*b = (*b)[:0]
		r.bufs.Put(b)
	}
}
