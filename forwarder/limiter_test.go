package forwarder

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"
)

// recordHandler sends every record to a channel.
type recordHandler struct{ c chan<- slog.Record }

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.c <- r
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

func attrs(r slog.Record) string {
	s := r.Message
	r.Attrs(func(a slog.Attr) bool {
		s += fmt.Sprintf(" %s=%v", a.Key, a.Value)
		return true
	})
	return s
}

// TestLimiterReportsHeldLines shows that lines held back are reported
// when their interval ends, without waiting for another line of their
// kind, and when the limiter stops. The clock is synctest's.
func TestLimiterReportsHeldLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lines := make(chan slog.Record, 10)
		lim := newLimiter(slog.New(recordHandler{lines}), time.Second)
		stop, done := make(chan struct{}), make(chan struct{})
		go func() { lim.run(stop); close(done) }()

		start := time.Now()
		lim.warn("bad input", "peer", "a")
		if r := <-lines; attrs(r) != "bad input peer=a" {
			t.Fatalf("first line %q", attrs(r))
		}
		lim.warn("bad input", "peer", "b")
		lim.warn("bad input", "peer", "c")
		lim.warn("other", "peer", "d") // another kind is not held
		if r := <-lines; attrs(r) != "other peer=d" {
			t.Fatalf("other kind %q", attrs(r))
		}
		r := <-lines // no further line of the kind comes: the report does
		if got := attrs(r); got != "bad input peer=c suppressed=2" {
			t.Fatalf("report %q", got)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("reported after %v, want the interval", d)
		}
		// within the interval after a report, lines are held again; the
		// rest is reported when the limiter stops
		lim.warn("bad input", "peer", "e")
		synctest.Wait()
		select {
		case r := <-lines:
			t.Fatalf("logged %q within the interval", attrs(r))
		default:
		}
		close(stop)
		<-done
		if r := <-lines; attrs(r) != "bad input peer=e suppressed=1" {
			t.Fatalf("report at stop %q", attrs(r))
		}
	})
}
