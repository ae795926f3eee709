package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// levelTrace and levelFatal extend slog's levels with Fluentd's names.
const (
	levelTrace = slog.LevelDebug - 4
	levelFatal = slog.LevelError + 4
)

// parseLevel maps a Fluentd log level name to a slog level.
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "trace":
		return levelTrace, nil
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	case "fatal":
		return levelFatal, nil
	}
	return 0, fmt.Errorf("log level must be one of trace, debug, info, warn, error, fatal, got %q", s)
}

// newLogHandler returns the process's base handler. It passes every level:
// levelHandler wrappers decide what each component logs, so that a plugin's
// @log_level can be lower than the global one.
func newLogHandler(w io.Writer, format string) (slog.Handler, error) {
	opts := &slog.HandlerOptions{Level: levelTrace}
	switch format {
	case "text", "":
		return slog.NewTextHandler(w, opts), nil
	case "json":
		return slog.NewJSONHandler(w, opts), nil
	}
	return nil, fmt.Errorf("log format must be text or json, got %q", format)
}

// levelHandler drops records below its level.
type levelHandler struct {
	level slog.Leveler
	inner slog.Handler
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level.Level() && h.inner.Enabled(ctx, l)
}

func (h levelHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.inner.Handle(ctx, r)
}

func (h levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelHandler{h.level, h.inner.WithAttrs(attrs)}
}

func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{h.level, h.inner.WithGroup(name)}
}

// loggers hands out loggers that share one base handler.
type loggers struct {
	base  slog.Handler
	level slog.Level
}

// root returns the logger at the global level.
func (l loggers) root() *slog.Logger {
	return slog.New(levelHandler{l.level, l.base})
}

// component returns a logger for one plugin, at its @log_level when set.
func (l loggers) component(kind, name, logLevel string) (*slog.Logger, error) {
	level := l.level
	if logLevel != "" {
		var err error
		if level, err = parseLevel(logLevel); err != nil {
			return nil, err
		}
	}
	return slog.New(levelHandler{level, l.base}).With(kind, name), nil
}

// discardHandler drops everything.
type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }
