package forwarder

import (
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// maxLogValue bounds what a log line repeats of a value a client sent.
const maxLogValue = 256

// clip bounds a value that came from a client (a tag, a host or user name,
// the text of a decoding error) for a log line: past maxLogValue bytes it
// is cut, at a character boundary, and its full length noted, as in
// "aaaa…(70000 bytes)". Handlers quote what is not printable.
func clip[T string | []byte](s T) string {
	if len(s) <= maxLogValue {
		return string(s)
	}
	cut := maxLogValue
	for cut > maxLogValue-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return string(s[:cut]) + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// clipErr is clip for an error's text.
func clipErr(err error) string { return clip(err.Error()) }

// limiter lets through at most one log line per kind per interval and holds
// back the others, so that a flood of bad clients cannot flood the log.
// Held lines are reported when their kind's interval ends (run), or with
// the next line of the kind when that comes first.
type limiter struct {
	log      *slog.Logger
	interval time.Duration
	wake     chan struct{} // a line was held

	mu    sync.Mutex
	kinds map[string]*logKind
}

// logKind is the state of one kind of line.
type logKind struct {
	last time.Time // when a line or report of this kind was logged
	held int       // lines held since
	args []any     // the last held line's attributes
}

func newLimiter(log *slog.Logger, interval time.Duration) *limiter {
	return &limiter{log: log, interval: interval, wake: make(chan struct{}, 1), kinds: map[string]*logKind{}}
}

// warn logs msg at warning level unless a line of the same msg was logged
// within the interval. msg must come from a small fixed set.
func (l *limiter) warn(msg string, args ...any) {
	now := time.Now()
	l.mu.Lock()
	k := l.kinds[msg]
	if k == nil {
		k = &logKind{}
		l.kinds[msg] = k
	}
	if !k.last.IsZero() && now.Sub(k.last) < l.interval {
		k.held++
		k.args = args
		l.mu.Unlock()
		select {
		case l.wake <- struct{}{}:
		default:
		}
		return
	}
	held := k.held
	k.last, k.held, k.args = now, 0, nil
	l.mu.Unlock()
	if held > 0 {
		args = append(args, "suppressed", held)
	}
	l.log.Warn(msg, args...)
}

// flush reports the kinds whose interval ended with lines held: one line
// with the last held line's attributes and suppressed, the number held. It
// returns when the next report is due (zero when nothing is held).
func (l *limiter) flush(now time.Time) (next time.Time) {
	type report struct {
		msg  string
		args []any
	}
	var due []report
	l.mu.Lock()
	for msg, k := range l.kinds {
		if k.held == 0 {
			continue
		}
		end := k.last.Add(l.interval)
		if now.Before(end) {
			if next.IsZero() || end.Before(next) {
				next = end
			}
			continue
		}
		due = append(due, report{msg, append(k.args, "suppressed", k.held)})
		k.last, k.held, k.args = now, 0, nil
	}
	l.mu.Unlock()
	for _, r := range due {
		l.log.Warn(r.msg, r.args...)
	}
	return next
}

// run reports held lines as their intervals end, until stop is closed;
// then it reports what is still held and returns.
func (l *limiter) run(stop <-chan struct{}) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for {
		next := l.flush(time.Now())
		var due <-chan time.Time
		if !next.IsZero() {
			t.Reset(time.Until(next))
			due = t.C
		}
		select {
		case <-due:
		case <-l.wake:
			t.Stop()
		case <-stop:
			l.flush(time.Now().Add(l.interval))
			return
		}
	}
}
