package forward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/barge-dev/barge/forwarder/codec"
)

// maxInFlight bounds the parts written on one connection whose acks have
// not come yet. It bounds what a failed flush sends again, not memory: a
// part is not kept once written (a retry reads it from the chunk again).
const maxInFlight = 8

// window pipelines the parts of one chunk on one connection with
// require_ack_response: the flush writes the next part while the receiver
// stores the previous ones, and a goroutine of its own reads their acks.
// Each part's ack must come within ack_response_timeout of its write; a
// part is marked sent (not sent again by a retry) only when its own ack
// came. Acks are matched by id, in whatever order they come.
type window struct {
	o       *Output
	ctx     context.Context
	cn      *conn
	n       *node
	chunkID string

	mu        sync.Mutex
	parts     []inflight // added, in write order
	err       error      // why reading acks stopped; set once
	finished  bool       // the flush sent everything: the reader ends when idle
	abandoned bool       // the flush failed: the reader ends now
	wake      chan struct{}
	room      chan struct{}
	done      chan struct{}
}

// inflight is a part written, or about to be, whose ack has not come.
type inflight struct {
	part     int
	id       string
	deadline time.Time // zero until written
}

// newWindow starts reading acks on cn for chunkID. The caller ends it with
// finish or abandon.
func (o *Output) newWindow(ctx context.Context, cn *conn, n *node, chunkID string) *window {
	w := &window{
		o: o, ctx: ctx, cn: cn, n: n, chunkID: chunkID,
		wake: make(chan struct{}, 1), room: make(chan struct{}, 1), done: make(chan struct{}),
	}
	go w.read()
	return w
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// add registers part i (ack id) before it is written, waiting while
// maxInFlight parts wait for their acks. It returns the error that ended
// the reading of acks, if any.
func (w *window) add(i int, id string) error {
	for {
		w.mu.Lock()
		if w.err != nil {
			err := w.err
			w.mu.Unlock()
			return err
		}
		if len(w.parts) < maxInFlight {
			w.parts = append(w.parts, inflight{part: i, id: id})
			w.mu.Unlock()
			return nil
		}
		w.mu.Unlock()
		select {
		case <-w.room:
		case <-w.ctx.Done():
			return w.ctx.Err()
		}
	}
}

// written starts the ack timeout of part i, written at t.
func (w *window) written(i int, t time.Time) {
	w.mu.Lock()
	for k := range w.parts {
		if w.parts[k].part == i {
			w.parts[k].deadline = t.Add(w.o.cfg.AckResponseTimeout)
		}
	}
	w.mu.Unlock()
	signal(w.wake)
}

// finish waits until every part added was acked, then ends the reader. It
// returns the error that ended the reading of acks, if any.
func (w *window) finish() error {
	for {
		w.mu.Lock()
		err, idle := w.err, len(w.parts) == 0
		if err == nil && idle {
			w.finished = true
		}
		w.mu.Unlock()
		if err != nil || idle {
			signal(w.wake)
			<-w.done
			return err
		}
		select {
		case <-w.room:
		case <-w.ctx.Done():
			w.abandon()
			return w.ctx.Err()
		}
	}
}

// abandon ends the reader at once, after a failed write, and returns the
// error that had ended the reading of acks before, if any: that error is
// the cause of the failed write.
func (w *window) abandon() error {
	w.mu.Lock()
	w.abandoned = true
	err := w.err
	w.mu.Unlock()
	w.cn.nc.SetReadDeadline(time.Unix(1, 0))
	signal(w.wake)
	<-w.done
	return err
}

// read reads acks while parts wait for them.
func (w *window) read() {
	defer close(w.done)
	for {
		w.mu.Lock()
		deadline, ok := w.next()
		end := w.abandoned || w.finished && len(w.parts) == 0
		w.mu.Unlock()
		if end {
			return
		}
		if !ok { // nothing written waits for an ack
			<-w.wake
			continue
		}
		w.cn.nc.SetReadDeadline(deadline)
		// checked after setting the deadline: abandon and the context's
		// end set theirs after setting their flag, so theirs wins
		w.mu.Lock()
		end = w.abandoned
		w.mu.Unlock()
		if end {
			return
		}
		if err := w.ctx.Err(); err != nil {
			w.fail(err)
			return
		}
		frame, err := w.cn.fr.Next()
		if err == nil {
			err = w.ack(frame)
		}
		if err != nil {
			w.fail(err)
			return
		}
	}
}

// next returns the ack deadline of the oldest written part. Called with
// w.mu held.
func (w *window) next() (time.Time, bool) {
	for _, p := range w.parts {
		if !p.deadline.IsZero() {
			return p.deadline, true
		}
	}
	return time.Time{}, false
}

// ack takes frame as the ack of one of the parts waiting.
func (w *window) ack(frame []byte) error {
	v, err := ackValue(frame)
	if err != nil {
		return err
	}
	w.mu.Lock()
	i := -1
	for k, p := range w.parts {
		if p.id == string(v) {
			i = k
			break
		}
	}
	if i < 0 {
		w.mu.Unlock()
		return fmt.Errorf("%w: got %.40q", errAckMismatch, v)
	}
	part := w.parts[i].part
	w.parts = append(w.parts[:i], w.parts[i+1:]...)
	w.mu.Unlock()
	w.o.markSent(w.chunkID, part)
	w.o.st.acks.Add(1)
	w.n.st.acks.Add(1)
	signal(w.room)
	return nil
}

// fail records why reading acks stopped, naming the oldest part waiting,
// and stops the flush's write in progress.
func (w *window) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.abandoned {
		return // the flush failed first: this is its consequence
	}
	var ne net.Error
	switch {
	case w.ctx.Err() != nil:
		err = w.ctx.Err()
	case errors.As(err, &ne) && ne.Timeout():
		w.o.st.ackTimeouts.Add(1)
		w.n.st.ackTimeouts.Add(1)
		err = fmt.Errorf("%w (%s)", ErrAckTimeout, w.o.cfg.AckResponseTimeout)
	case errors.Is(err, errAckMismatch) || errors.Is(err, codec.ErrMessage):
		if !w.cn.mismatchLogged {
			w.cn.mismatchLogged = true
			w.o.log.Warn("unexpected response instead of an ack, connection closed", "peer", w.n.addr, "err", err)
		}
	default:
		err = fmt.Errorf("read ack: %w", err)
	}
	if p := w.oldest(); p != nil {
		err = fmt.Errorf("part %d (%s): %w", p.part+1, p.id, err)
	}
	w.err = err
	w.cn.nc.SetWriteDeadline(time.Unix(1, 0))
	signal(w.room)
}

// oldest returns the oldest written part, or the oldest part. Called with
// w.mu held.
func (w *window) oldest() *inflight {
	for k := range w.parts {
		if !w.parts[k].deadline.IsZero() {
			return &w.parts[k]
		}
	}
	if len(w.parts) > 0 {
		return &w.parts[0]
	}
	return nil
}
