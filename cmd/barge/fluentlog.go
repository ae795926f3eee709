package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/buffer/event"
)

// fluentLog makes barge's own warnings and errors events, as Fluentd does
// with its logs: tagged fluent.warn and fluent.error, with the record
// {"message": "the message key=\"value\" ..."}, routed to <label
// @FLUENT_LOG> when the config has one, else, when a top-level <match>
// names fluent.* tags (<match fluent.**>), through the top-level
// <match>es; otherwise they are not made. A log line is never held up:
// the events wait in a bounded queue, and those that do not fit are
// dropped and counted.
type fluentLog struct {
	events  chan logEvent
	dropped atomic.Int64
}

type logEvent struct {
	tag   string
	entry []byte // one canonical entry
}

// fluentLogQueue bounds the events waiting to be routed.
const fluentLogQueue = 1024

func newFluentLog() *fluentLog { return &fluentLog{events: make(chan logEvent, fluentLogQueue)} }

// handler wraps inner: every record goes to inner, and warnings and errors
// also become events.
func (f *fluentLog) handler(inner slog.Handler) slog.Handler {
	return &fluentLogHandler{inner: inner, f: f}
}

// run routes the events until ctx ends. An event that nothing matches is
// dropped without a warning (route does not warn about fluent.* tags).
func (f *fluentLog) run(ctx context.Context, live *liveRouter) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-f.events:
			g := live.enter()
			if r := g.t.logs; r != nil {
				// an error here would log, and so make another event:
				// the output's own retries and counters report it
				_ = r.Append(ctx, ev.tag, ev.entry)
			}
			g.leave()
		}
	}
}

type fluentLogHandler struct {
	inner  slog.Handler
	f      *fluentLog
	attrs  []slog.Attr // from WithAttrs, already qualified by groups
	prefix string      // the groups so far, "a.b."
}

func (h *fluentLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *fluentLogHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.inner.Handle(ctx, r)
	var tag string
	switch {
	case r.Level >= slog.LevelError:
		tag = "fluent.error"
	case r.Level >= slog.LevelWarn:
		tag = "fluent.warn"
	default:
		return err
	}
	var b strings.Builder
	b.WriteString(r.Message)
	write := func(key string, v slog.Value) {
		fmt.Fprintf(&b, " %s=%q", key, v.Resolve().String())
	}
	for _, a := range h.attrs {
		write(a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		write(h.prefix+a.Key, a.Value)
		return true
	})
	t := r.Time
	rec := msgp.AppendMapHeader(make([]byte, 0, 16+b.Len()), 1)
	rec = msgp.AppendString(rec, "message")
	rec = msgp.AppendString(rec, b.String())
	entry := event.AppendEntry(nil, event.AppendEventTime(nil, t.Unix(), int64(t.Nanosecond())), rec)
	select {
	case h.f.events <- logEvent{tag: tag, entry: entry}:
	default:
		h.f.dropped.Add(1)
	}
	return err
}

func (h *fluentLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.inner = h.inner.WithAttrs(attrs)
	c.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range attrs {
		c.attrs = append(c.attrs, slog.Attr{Key: h.prefix + a.Key, Value: a.Value})
	}
	return &c
}

func (h *fluentLogHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.inner = h.inner.WithGroup(name)
	c.prefix = h.prefix + name + "."
	return &c
}
