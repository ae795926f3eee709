package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/forwarder/route"
)

// routeTable is one config's routing, as Fluentd's event routers: the top
// level's <filter>s and <match>es, and each <label @NAME>'s. A <source>
// with @label appends to its label's router, @type relabel hands events
// to a label, @type copy to each of its <store>s, and when there is a
// <label @ERROR>, every router sends it the entries a filter refuses.
type routeTable struct {
	root   *route.Router
	labels map[string]*route.Router
	// logs takes barge's own warnings and errors (fluentlog.go): <label
	// @FLUENT_LOG>, else the top level when one of its <match>es names
	// fluent.* tags, else nil.
	logs *route.Router
}

// get returns the router of label ("" for the top level).
func (t *routeTable) get(label string) *route.Router {
	if label == "" {
		return t.root
	}
	return t.labels[label]
}

// all returns every router of the table.
func (t *routeTable) all() []*route.Router {
	out := []*route.Router{t.root}
	for _, name := range slices.Sorted(maps.Keys(t.labels)) {
		out = append(out, t.labels[name])
	}
	return out
}

// routes builds the routing of p: its filters and matches in config
// order, the matches appending to sinks (one per p.matches).
func (pl *pipeline) routes(p *plan, sinks []*sink) (*routeTable, error) {
	t := &routeTable{labels: map[string]*route.Router{}}
	opts := func(label string) route.Options {
		lg := pl.logs.root().With("component", "router")
		if label != "" {
			lg = lg.With("label", label)
		}
		return route.Options{Logger: lg}
	}
	var errs route.Sink
	if _, ok := p.labels["@ERROR"]; ok {
		er := route.New(opts("@ERROR")) // its own refusals are errors
		t.labels["@ERROR"] = er
		errs = er
	}
	o := opts("")
	o.Errors = errs
	t.root = route.New(o)
	for name := range p.labels {
		if name != "@ERROR" {
			o := opts(name)
			o.Errors = errs
			t.labels[name] = route.New(o)
		}
	}
	t.logs = t.labels["@FLUENT_LOG"]
	for _, st := range p.steps {
		r := t.get(st.label)
		if st.label == "" && st.filter < 0 && t.logs == nil && slices.ContainsFunc(st.patterns, namesFluentTags) {
			t.logs = t.root
		}
		if st.filter >= 0 {
			f := &p.filters[st.filter]
			flt, err := f.kind.filter(f.cfg, env{log: pl.log, hostname: pl.hostname, stdout: pl.stdout})
			if err == nil {
				err = r.AddFilter(f.patterns, flt)
			}
			if err != nil {
				return nil, fmt.Errorf("%s:%d: <filter %s>: %w", f.sec.File, f.sec.Line, f.sec.Arg, err)
			}
			continue
		}
		var s route.Sink
		switch {
		case st.relabel != "":
			s = t.labels[st.relabel]
		case st.ignore == nil:
			s = sinks[st.outs[0]]
		default:
			c := &copySink{}
			for i, o := range st.outs {
				c.stores = append(c.stores, sinks[o])
				c.ignore = append(c.ignore, st.ignore[i])
			}
			s = c
		}
		if err := r.AddMatch(st.patterns, s); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", st.sec.File, st.sec.Line, err)
		}
	}
	return t, nil
}

// namesFluentTags reports whether a <match> pattern is written for
// barge's own log events: it starts with "fluent." ("fluent.**",
// "fluent.{warn,error}"). A catch-all "**" alone does not take them.
func namesFluentTags(pattern string) bool {
	return strings.HasPrefix(pattern, "fluent.") || strings.HasPrefix(pattern, "{fluent.")
}

// copySink is @type copy: it appends to every store in turn. A store's
// error ends the append with that error (the client resends; the stores
// before it may then hold a copy twice), unless the store has
// ignore_error, as in Fluentd.
type copySink struct {
	stores []*sink
	ignore []bool
}

var _ buffer.MarkedSink = (*copySink)(nil)

func (c *copySink) Append(ctx context.Context, tag string, entries []byte) error {
	for i, s := range c.stores {
		if err := s.Append(ctx, tag, entries); err != nil && !c.ignore[i] {
			return fmt.Errorf("<store> %s: %w", s.name, err)
		}
	}
	return nil
}

func (c *copySink) AppendMarked(ctx context.Context, tag string, entries []byte, m buffer.Mark) error {
	for i, s := range c.stores {
		if err := s.AppendMarked(ctx, tag, entries, m); err != nil && !c.ignore[i] {
			return fmt.Errorf("<store> %s: %w", s.name, err)
		}
	}
	return nil
}

// Marks returns, for each source, the earliest of the stores' marks: an
// input resumes where every store has its records, so that a store
// behind (a crash between two stores' appends) is never skipped; the
// stores ahead may get some records twice.
func (c *copySink) Marks(prefix string) []buffer.Mark {
	stores := make([]buffer.MarkedSink, len(c.stores))
	for i, s := range c.stores {
		stores[i] = s
	}
	return buffer.PickMarks(stores, prefix, func(m, over buffer.Mark) bool { return m.Seq < over.Seq })
}

// labelView is where a <source> appends: the router of its label in the
// config running.
type labelView struct {
	live  *liveRouter
	label string
}

var _ buffer.MarkedSink = labelView{}

func (v labelView) Append(ctx context.Context, tag string, entries []byte) error {
	g := v.live.enter()
	defer g.leave()
	return g.t.get(v.label).Append(ctx, tag, entries)
}

func (v labelView) AppendMarked(ctx context.Context, tag string, entries []byte, m buffer.Mark) error {
	g := v.live.enter()
	defer g.leave()
	return g.t.get(v.label).AppendMarked(ctx, tag, entries, m)
}

func (v labelView) Marks(prefix string) []buffer.Mark {
	g := v.live.enter()
	defer g.leave()
	return g.t.get(v.label).Marks(prefix)
}

// errorLabel is an output's buffer.Options.Errors when the config has a
// <label @ERROR>: the records the output rejects are appended, under their
// tags, to that label's router in the config running.
type errorLabel struct{ live *liveRouter }

// Flush appends the chunk's records to <label @ERROR>; an error (no such
// label since a reload, or its append failed) leaves them to the
// secondary or failed/.
func (e errorLabel) Flush(ctx context.Context, c *buffer.Chunk) error {
	g := e.live.enter()
	defer g.leave()
	r := g.t.get("@ERROR")
	if r == nil {
		return errors.New("the config running has no <label @ERROR>")
	}
	rd, err := c.Open()
	if err != nil {
		return err
	}
	defer rd.Close()
	for {
		tag, entries, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := r.Append(ctx, tag, entries); err != nil {
			return fmt.Errorf("<label @ERROR>: %w", err)
		}
	}
}
