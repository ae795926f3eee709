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
	r, err := c.Open()
	if err != nil {
		return fmt.Errorf("%w: %w", errReadChunk, err)
	}
	defer r.Close()
	done := o.acked(c.ID)
	sp := &splitter{r: r, limit: int(o.cfg.SendChunkSize), intTime: o.cfg.TimeAsInteger}
	var cn *conn
	defer func() {
		if cn != nil {
			cn.close()
		}
	}()
	for i := 0; ; i++ {
		tag, entries, records, err := sp.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.Is(err, event.ErrEntry) {
				return fmt.Errorf("part %d: %w", i+1, err)
			}
			return fmt.Errorf("%w: %w", errReadChunk, err)
		}
		if done[i] {
			continue
		}
		m, err := o.encode(tag, entries, records, c.ID, i)
		if err != nil {
			return fmt.Errorf("part %d: compress: %w", i+1, err)
		}
		if cn == nil {
			if cn, err = o.connect(ctx, n); err != nil {
				return err
			}
		}
		err = o.send(ctx, cn, n, m)
		if err != nil && cn.reused && !errors.Is(err, ErrAckTimeout) && ctx.Err() == nil {
			// The server may have closed an idle connection: try a new one.
			cn.close()
			if cn, err = o.dial(ctx, n); err != nil {
				return err
			}
			err = o.send(ctx, cn, n, m)
		}
		if err != nil {
			return fmt.Errorf("part %d (%s): %w", i+1, m.id, err)
		}
		o.markSent(c.ID, i)
	}
	if cn != nil && o.cfg.Keepalive {
		cn.lastUsed = o.now()
		n.pool.put(cn)
		cn = nil
	}
	return nil
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

// send writes m within send_timeout and, with require_ack_response, waits
// for its ack within ack_response_timeout. ctx ending stops both.
func (o *Output) send(ctx context.Context, cn *conn, n *node, m outMessage) error {
	stop := context.AfterFunc(ctx, func() { cn.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	cn.nc.SetWriteDeadline(time.Now().Add(o.cfg.SendTimeout))
	if err := ctx.Err(); err != nil {
		return err
	}
	bufs := net.Buffers{m.head, m.payload, m.tail}
	size := int64(len(m.head) + len(m.payload) + len(m.tail))
	if _, err := bufs.WriteTo(cn.nc); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	o.st.add(&n.st, m.records, size)
	if m.id == "" {
		return nil
	}
	cn.nc.SetReadDeadline(time.Now().Add(o.cfg.AckResponseTimeout))
	if err := ctx.Err(); err != nil {
		return err
	}
	frame, err := cn.fr.Next()
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
			o.st.ackTimeouts.Add(1)
			n.st.ackTimeouts.Add(1)
			return fmt.Errorf("%w (%s)", ErrAckTimeout, o.cfg.AckResponseTimeout)
		}
		return fmt.Errorf("read ack: %w", err)
	}
	if err := checkAck(frame, m.id); err != nil {
		if !cn.mismatchLogged {
			cn.mismatchLogged = true
			o.log.Warn("unexpected response instead of an ack, connection closed", "peer", n.addr, "err", err)
		}
		return err
	}
	o.st.acks.Add(1)
	n.st.acks.Add(1)
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
