package main

import (
	"fmt"
	"slices"

	"github.com/barge-dev/barge/conf"
	"github.com/barge-dev/barge/output/bigquery"
)

// The checks of a <loader> that tell, from the config alone, what its
// loads would fail on at run time. The rules are the loader's
// (bigquery.CheckSource); here they get the config's positions.

// matchByID returns the <match> whose @id is id (the last, as Fluentd's
// last parameter wins), or nil.
func (p *plan) matchByID(id string) *matchPlan {
	var m *matchPlan
	for i := range p.matches {
		if p.matches[i].sec.Get("@id") == id {
			m = &p.matches[i]
		}
	}
	return m
}

// outputSpec is how an output writes its objects, for the loaders and
// barge schema infer (its row's objects); nil for an output a loader
// cannot read. id is its @id.
func (m *matchPlan) outputSpec(id string) *bigquery.OutputSpec {
	if m.kind.objects == nil {
		return nil
	}
	o := &bigquery.OutputSpec{ID: id, Label: m.sec.Label(), Type: m.kind.typ, ChunkKeys: m.buffer.ChunkKeys, Timekey: m.buffer.TimeKey}
	m.kind.objects(m.cfg, o)
	if loc, err := m.buffer.TimeKeyLocation(); err == nil {
		o.TimekeyLocation = loc
	}
	return o
}

// checkLoaderSource finds the output a loader follows (source_output id)
// and checks it with bigquery.CheckSource.
func (p *plan) checkLoaderSource(lp *loaderPlan, id string) (*matchPlan, bigquery.SourceCheck, error) {
	at := lp.sec.Param("source_output")
	m := p.matchByID(id)
	if m == nil {
		return nil, bigquery.SourceCheck{}, conf.ParamErrorf(at, "'source_output' %q is not the @id of any <match>", id)
	}
	out := m.outputSpec(id)
	if out == nil {
		return nil, bigquery.SourceCheck{}, conf.ParamErrorf(at, "'source_output' %q is a %s output; the loader reads the objects of @type %s", id, m.kind.typ, loadableKinds())
	}
	return m, bigquery.CheckSource(lp.cfg.SourceSpec(out)), nil
}

// sourceErrors are c's errors, each at the loader parameter it concerns,
// or nil.
func sourceErrors(lp *loaderPlan, c bigquery.SourceCheck) error {
	var errs conf.Errors
	for _, e := range c.Errors {
		errs = append(errs, conf.ParamErrorf(lp.sec.Param(e.Param), "%s", e.Msg))
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// warning is a problem of the config that does not stop barge: some loads
// will fail, or whether they will depends on what only the run knows.
type warning struct {
	file string
	line int
	msg  string
	info bool // a note, not a problem: printed as "info", logged at info
}

func warnAt(at conf.Positioner, format string, args ...any) warning {
	w := warning{msg: fmt.Sprintf(format, args...)}
	if at != nil {
		w.file, w.line = at.Pos()
	}
	return w
}

// pos is FILE:LINE.
func (w warning) pos() string { return fmt.Sprintf("%s:%d", w.file, w.line) }

// String is FILE:LINE: warning: message.
func (w warning) String() string {
	if w.info {
		return w.pos() + ": info: " + w.msg
	}
	return w.pos() + ": warning: " + w.msg
}

// warnings lists what barge check prints and barge run logs at start
// about the loaders, in config order.
func (p *plan) warnings() []warning {
	out := slices.Clone(p.notes)
	for i := range p.loaders {
		lp := &p.loaders[i]
		c := bigquery.CheckSource(lp.cfg.SourceSpec(nil))
		if at := lp.sec.Param("source_output"); at != nil {
			// Resolved already: the output is there and of a kind the
			// loader reads.
			if _, sc, err := p.checkLoaderSource(lp, at.Value); err == nil {
				c = sc
			}
		}
		for _, w := range c.Warnings {
			out = append(out, warnAt(lp.sec.Param(w.Param), "%s", w.Msg))
		}
	}
	return out
}
