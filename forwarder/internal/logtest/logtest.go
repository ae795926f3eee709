// Package logtest is the log destination of the inputs' tests: a buffer,
// safe for concurrent writers, of the text lines a *slog.Logger writes,
// which a test then searches.
package logtest

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// Buffer holds what was logged to it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns every line logged so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Logger returns a text logger of every level, debug included, writing to l.
func (l *Buffer) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Count returns how many lines hold every one of parts.
func (l *Buffer) Count(parts ...string) int {
	n := 0
	for _, line := range strings.Split(l.String(), "\n") {
		ok := line != ""
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			n++
		}
	}
	return n
}

// Has fails t unless a line holds every one of parts.
func (l *Buffer) Has(t testing.TB, parts ...string) {
	t.Helper()
	if l.Count(parts...) == 0 {
		t.Errorf("no log line with %q in:\n%s", parts, l.String())
	}
}
