package forward

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/event"
)

// ErrAckTimeout is wrapped by the error of a message whose ack did not come
// within ack_response_timeout.
var ErrAckTimeout = errors.New("forward: no ack within ack_response_timeout")

// ErrNoServer is wrapped by Flush's error when every server is down.
var ErrNoServer = errors.New("forward: no server available")

// maxRemembered bounds the chunks whose sent parts are remembered.
const maxRemembered = 4096

// Options are the run-time inputs of an Output.
type Options struct {
	Logger *slog.Logger // nil: discard
	// Now is the clock of recover_wait, keepalive_timeout, heartbeats
	// (phi_failure_detector, hard_timeout) and expire_dns_cache (nil:
	// time.Now).
	Now func() time.Time
	// LookupHost resolves a server's host to its addresses with
	// dns_round_robin (nil: net.DefaultResolver.LookupHost).
	LookupHost func(ctx context.Context, host string) ([]string, error)
}

// Output sends chunks to forward-protocol servers.
type Output struct {
	cfg            Config
	log            *slog.Logger
	now            func() time.Time
	tls            *tls.Config
	bal            *balancer
	connectTimeout time.Duration
	lookup         func(ctx context.Context, host string) ([]string, error)
	st             counters

	// life guards the heartbeat goroutine.
	life    sync.Mutex
	started bool
	closed  bool
	stop    context.CancelFunc
	done    chan struct{}
	ticked  func() // test hook: called after each tick of the goroutine

	mu   sync.Mutex
	sent map[string]map[int]bool // chunk id -> parts acked (or written, without acks)

	splitters sync.Pool // *splitter, for their part buffers
}

var _ buffer.Flusher = (*Output)(nil)

// New validates cfg and returns an Output. It reads the TLS files but
// opens no connection.
func New(cfg Config, opts Options) (*Output, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	o := &Output{cfg: cfg, log: lg, now: now, connectTimeout: cfg.ConnectTimeout, lookup: opts.LookupHost, sent: map[string]map[int]bool{}}
	if o.lookup == nil {
		o.lookup = net.DefaultResolver.LookupHost
	}
	if o.connectTimeout == 0 {
		o.connectTimeout = cfg.SendTimeout
	}
	if cfg.Transport == "tls" {
		tc, err := loadTLS(&cfg)
		if err != nil {
			return nil, err
		}
		o.tls = tc
	}
	o.bal = &balancer{now: now, wait: cfg.RecoverWait, noDown: cfg.HeartbeatType == "none"}
	for _, s := range cfg.Servers {
		n := &node{cfg: s, addr: s.addr(), name: s.Name, fd: newDetector(cfg.HeartbeatInterval, now())}
		if n.name == "" {
			n.name = n.addr
		}
		o.bal.nodes = append(o.bal.nodes, n)
	}
	return o, nil
}

// Close stops the heartbeats, waiting for them, and closes the idle
// connections. It is idempotent and safe without Start; a Flush after it
// closes its connection when done.
func (o *Output) Close() error {
	o.life.Lock()
	o.closed = true
	stop, done := o.stop, o.done
	o.stop = nil
	o.life.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	for _, n := range o.bal.nodes {
		n.pool.closeAll()
	}
	return nil
}

// Flush sends c to one server, as PackedForward messages of at most
// send_chunk_size bytes of entries each. nil means every message was acked
// (require_ack_response) or written to the socket (without it). A
// network error, a refused handshake or a missing ack marks the server
// down (heartbeat_type transport) and returns a retryable error naming the
// server and the chunk; the parts already acked are remembered and not
// sent again when the buffer retries the chunk. A malformed entry is
// buffer.Permanent.
func (o *Output) Flush(ctx context.Context, c *buffer.Chunk) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n := o.bal.pick()
	if n == nil {
		o.st.errors.Add(1)
		return fmt.Errorf("chunk %s: %w: all %d servers are down", c.ID, ErrNoServer, len(o.bal.nodes))
	}
	err := o.flushTo(ctx, n, c)
	if err == nil {
		o.forget(c.ID)
		o.bal.up(n)
		return nil
	}
	o.st.errors.Add(1)
	n.st.errors.Add(1)
	if errors.Is(err, event.ErrEntry) {
		return buffer.Permanent(fmt.Errorf("forward to %s: chunk %s: %w", n.addr, c.ID, err))
	}
	if ctx.Err() == nil && !errors.Is(err, errReadChunk) && o.bal.down(n) {
		o.log.Warn("server marked down", "peer", n.addr, "name", n.name, "chunk_id", c.ID, "recover_wait", o.cfg.RecoverWait)
	}
	return fmt.Errorf("forward to %s: chunk %s: %w", n.addr, c.ID, err)
}

// errReadChunk is wrapped by errors reading the chunk (not the server's fault).
var errReadChunk = errors.New("read chunk")

func (o *Output) flushTo(ctx context.Context, n *node, c *buffer.Chunk) error {
	cn, err := o.sendParts(ctx, n, c, nil)
	if err != nil && cn != nil && cn.reused && ctx.Err() == nil && !errors.Is(err, ErrAckTimeout) &&
		!errors.Is(err, errReadChunk) && !errors.Is(err, event.ErrEntry) {
		// The server may have closed an idle connection: try a new one,
		// for the parts not acked yet.
		cn.close()
		if cn, err = o.dial(ctx, n); err != nil {
			return err
		}
		cn, err = o.sendParts(ctx, n, c, cn)
	}
	if cn == nil {
		return err
	}
	if err != nil || !o.cfg.Keepalive {
		cn.close()
		return err
	}
	cn.lastUsed = o.now()
	n.pool.put(cn)
	return nil
}

// sendParts sends the parts of c not sent yet on cn, connecting to n
// when cn is nil and there is a part to send, and returns the connection
// (nil when it made none). With require_ack_response the parts are
// pipelined (see window) and it returns once each was acked.
func (o *Output) sendParts(ctx context.Context, n *node, c *buffer.Chunk, cn *conn) (_ *conn, err error) {
	r, err := c.Open()
	if err != nil {
		return cn, fmt.Errorf("%w: %w", errReadChunk, err)
	}
	defer r.Close()
	done := o.acked(c.ID)
	sp := o.splitter(r, c.Size)
	defer o.putSplitter(sp)
	var w *window
	// ctx ending stops the writes and the reads on cn
	ctxHold, stop := false, func() bool { return true }
	defer func() {
		if w != nil {
			if err == nil {
				err = w.finish()
			} else if werr := w.abandon(); werr != nil {
				err = werr // the cause of the failed write
			}
		}
		stop()
	}()
	for i := 0; ; i++ {
		tag, entries, records, err := sp.next()
		if errors.Is(err, io.EOF) {
			return cn, nil
		}
		if err != nil {
			if errors.Is(err, event.ErrEntry) {
				return cn, fmt.Errorf("part %d: %w", i+1, err)
			}
			return cn, fmt.Errorf("%w: %w", errReadChunk, err)
		}
		if done[i] {
			continue
		}
		m, err := o.encode(tag, entries, records, c.ID, i)
		if err != nil {
			return cn, fmt.Errorf("part %d: compress: %w", i+1, err)
		}
		if cn == nil {
			if cn, err = o.connect(ctx, n); err != nil {
				return nil, err
			}
		}
		if w == nil && m.id != "" {
			w = o.newWindow(ctx, cn, n, c.ID)
		}
		if !ctxHold {
			ctxHold = true
			nc := cn.nc
			stop = context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
		}
		if w != nil {
			if err := w.add(i, m.id); err != nil {
				return cn, err
			}
		}
		if err := o.write(ctx, cn, n, m); err != nil {
			return cn, fmt.Errorf("part %d (%s): %w", i+1, m.id, err)
		}
		if w != nil {
			w.written(i, time.Now())
		} else {
			o.markSent(c.ID, i)
		}
	}
}

// connect returns an idle connection to n (keepalive) or a new one.
func (o *Output) connect(ctx context.Context, n *node) (*conn, error) {
	if o.cfg.Keepalive {
		if cn := n.pool.get(o.now(), o.cfg.KeepaliveTimeout); cn != nil {
			return cn, nil
		}
	}
	return o.dial(ctx, n)
}

// outMessage is an encoded message.
type outMessage struct {
	head, payload, tail []byte
	records             int
	id                  string // chunk option; "" without require_ack_response
}

func (o *Output) encode(tag string, entries []byte, records int, chunkID string, i int) (outMessage, error) {
	m := outMessage{records: records}
	if o.cfg.RequireAckResponse {
		m.id = partID(chunkID, i)
	}
	kind := ""
	if o.cfg.Compress != "text" {
		kind = o.cfg.Compress
	}
	p, err := compress(kind, entries)
	if err != nil {
		return m, err
	}
	m.payload = p
	m.head, m.tail = message(tag, p, records, kind, m.id)
	return m, nil
}

// write writes m within send_timeout. The caller makes ctx's end stop it.
func (o *Output) write(ctx context.Context, cn *conn, n *node, m outMessage) error {
	cn.nc.SetWriteDeadline(time.Now().Add(o.cfg.SendTimeout))
	// checked after setting the deadline: the context's end sets its own
	// after, and wins
	if err := ctx.Err(); err != nil {
		return err
	}
	bufs := net.Buffers{m.head, m.payload, m.tail}
	size := int64(len(m.head) + len(m.payload) + len(m.tail))
	if _, err := bufs.WriteTo(cn.nc); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return fmt.Errorf("write: %w", err)
	}
	o.st.add(&n.st, m.records, size)
	return nil
}

// acked returns the parts of chunk id sent already (a copy).
func (o *Output) acked(id string) map[int]bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	done := make(map[int]bool, len(o.sent[id]))
	for i := range o.sent[id] {
		done[i] = true
	}
	return done
}

func (o *Output) markSent(id string, i int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := o.sent[id]
	if m == nil {
		if len(o.sent) >= maxRemembered {
			for k := range o.sent { // forget one: its parts are sent again
				delete(o.sent, k)
				break
			}
		}
		m = map[int]bool{}
		o.sent[id] = m
	}
	m[i] = true
}

func (o *Output) forget(id string) {
	o.mu.Lock()
	delete(o.sent, id)
	o.mu.Unlock()
}
