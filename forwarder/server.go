package forwarder

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Run and Listen after Close.
var ErrClosed = errors.New("forwarder: server closed")

// ErrRunning is returned by a second call to Run.
var ErrRunning = errors.New("forwarder: Run called twice")

// Options are the server's collaborators.
type Options struct {
	// Logger receives the server's log lines; nil discards them.
	Logger *slog.Logger
	// Hostname is the value of source_hostname_key when the peer's name
	// cannot be resolved, and the default self_hostname. "" means os.Hostname.
	Hostname string
}

// Server is the forward-protocol listener (@type forward).
type Server struct {
	cfg      Config
	sink     Sink
	log      *slog.Logger
	lim      *limiter
	hostname string
	clients  []client
	stats    counters
	mem      *budget
	auth     *authDelays
	// pause waits d before a failed handshake's PONG; tests replace it.
	pause func(d time.Duration)

	mu       sync.Mutex
	ln       net.Listener
	udp      net.PacketConn
	tls      *tls.Config
	conns    map[*conn]struct{}
	evicting int // connections in conns told to close for a new one
	ran      bool
	stopping bool // Run's context ended: no new connections
	// adopted: ln and udp came from a predecessor's Handover (Adopt).
	adopted bool
	// handing: Handover was called; Run stops without closing the
	// sockets, and accept and heartbeat take their woken reads as the end.
	handing  atomic.Bool
	handover chan struct{} // closed by Handover
	ranDone  chan struct{} // closed when Run returns
	closed   bool
	done     chan struct{} // closed by Close
	halt     chan struct{} // closed when Run's context ends or by Close: waits end

	// appendCtx is given to Sink.Append. It outlives Run's context so that
	// in-flight messages are stored and acked during a graceful stop; Close
	// cancels it.
	appendCtx    context.Context
	cancelAppend context.CancelFunc
	wg           sync.WaitGroup
}

// client is a <client> rule.
type client struct {
	network   *net.IPNet
	sharedKey string
	users     []string
}

// NewServer validates cfg and returns a server. It does no I/O and starts
// no goroutines.
func NewServer(cfg Config, sink Sink, opts Options) (*Server, error) {
	if sink == nil {
		return nil, errors.New("forwarder: nil sink")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.ID != "" {
		log = log.With("id", cfg.ID)
	}
	host := opts.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	s := &Server{
		cfg: cfg, sink: sink, log: log, lim: newLimiter(log, time.Second),
		hostname: host, mem: newBudget(cfg.memoryLimit()), auth: newAuthDelays(),
		conns: map[*conn]struct{}{}, done: make(chan struct{}), halt: make(chan struct{}),
		handover: make(chan struct{}), ranDone: make(chan struct{}),
	}
	s.pause = s.sleep
	if sec := cfg.Security; sec != nil {
		for _, cl := range sec.Clients {
			n, _ := cl.prefix() // checked by Validate
			key := cl.SharedKey
			if key == "" {
				key = sec.SharedKey
			}
			s.clients = append(s.clients, client{network: n, sharedKey: key, users: cl.Users})
		}
	}
	s.appendCtx, s.cancelAppend = context.WithCancel(context.Background())
	return s, nil
}

// Listen binds the TCP listener and the UDP heartbeat socket on the same
// port, and loads the TLS certificates. Run calls it when it was not called.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.ln != nil && !s.adopted {
		return errors.New("forwarder: already listening")
	}
	if t := s.cfg.Transport; t != nil && t.Protocol == "tls" {
		tc, err := loadTLS(t)
		if err != nil {
			return err
		}
		s.tls = tc
	}
	if s.adopted {
		s.adopted = false // a second Listen is an error again
		s.log.Info("listening on the sockets kept from the previous config", "addr", s.ln.Addr().String(), "tls", s.tls != nil, "security", s.cfg.Security != nil)
		return nil
	}
	addr := net.JoinHostPort(s.cfg.Bind, strconv.Itoa(s.cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	udp, err := net.ListenPacket("udp", net.JoinHostPort(s.cfg.Bind, strconv.Itoa(port)))
	if err != nil {
		ln.Close()
		return fmt.Errorf("listen heartbeat: %w", err)
	}
	s.ln, s.udp = ln, udp
	s.log.Info("listening", "bind", s.cfg.Bind, "port", port, "tls", s.tls != nil, "security", s.cfg.Security != nil)
	return nil
}

// Addr returns the TCP listener's address, or nil before Listen.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Run serves until ctx is done, then stops accepting, lets every connection
// finish the message it is reading (append and ack), closes them, and
// returns once all its goroutines ended. A second call returns ErrRunning.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ran {
		s.mu.Unlock()
		return ErrRunning
	}
	s.ran = true
	listening := s.ln != nil && !s.adopted
	s.mu.Unlock()
	defer close(s.ranDone)
	if !listening {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	ln, udp := s.ln, s.udp
	s.wg.Add(2)
	s.mu.Unlock()
	go s.accept(ln)
	go s.heartbeat(udp)
	// the log limiter's reports and the trimming of cached buffers run
	// until every connection ended
	var bg sync.WaitGroup
	stopBg := make(chan struct{})
	bg.Go(func() { s.lim.run(stopBg) })
	bg.Go(func() { s.trim(stopBg) })

	select {
	case <-ctx.Done():
	case <-s.done:
	case <-s.handover:
	}
	s.mu.Lock()
	s.stopping = true
	s.haltLocked()
	if s.handing.Load() {
		// wake accept and heartbeat; the sockets stay open for the
		// successor, and connections arriving meanwhile wait in the
		// listen backlog
		now := time.Now()
		ln.(*net.TCPListener).SetDeadline(now)
		udp.SetReadDeadline(now)
	} else {
		ln.Close()
		udp.Close()
	}
	for c := range s.conns {
		c.stop()
	}
	s.mu.Unlock()
	s.wg.Wait()
	close(stopBg)
	bg.Wait()
	return nil
}

// haltLocked ends every wait (for memory, or before a PONG). Called with
// s.mu held.
func (s *Server) haltLocked() {
	select {
	case <-s.halt:
	default:
		close(s.halt)
	}
}

// trim drops the cached buffers that were not reused, every second.
func (s *Server) trim(stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.mem.trim()
		case <-stop:
			return
		}
	}
}

// sleep waits d, or less when the server stops.
func (s *Server) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.halt:
	}
}

// Sockets are a forward input's listening sockets: the TCP listener and
// the UDP heartbeat socket on the same port. A reload hands them from one
// server to the next, so that the port stays bound.
type Sockets struct {
	TCP net.Listener
	UDP net.PacketConn
}

// Handover stops a running server as the end of Run's context does (no
// new connections; each connection finishes, stores and acks the message
// it is reading, then closes; its client reconnects), but leaves the
// listening sockets open and returns them for a successor's Adopt. It
// returns once Run has returned. When ctx ends first, the connections are
// closed at once as Close does, their unacked messages left to their
// clients to resend. The server is closed afterwards.
func (s *Server) Handover(ctx context.Context) (Sockets, error) {
	s.mu.Lock()
	if s.closed || !s.ran || s.handing.Load() || s.ln == nil {
		s.mu.Unlock()
		return Sockets{}, errors.New("forwarder: handover of a server that is not running")
	}
	if _, ok := s.ln.(*net.TCPListener); !ok {
		s.mu.Unlock()
		return Sockets{}, errors.New("forwarder: handover of a listener that is not TCP")
	}
	s.handing.Store(true)
	close(s.handover)
	s.mu.Unlock()
	select {
	case <-s.ranDone:
	case <-ctx.Done():
		s.mu.Lock()
		s.cancelAppend()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		<-s.ranDone
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	socks := Sockets{TCP: s.ln, UDP: s.udp}
	s.ln, s.udp = nil, nil
	s.closed = true
	close(s.done)
	s.cancelAppend()
	socks.TCP.(*net.TCPListener).SetDeadline(time.Time{})
	socks.UDP.SetReadDeadline(time.Time{})
	return socks, nil
}

// Adopt gives a server that has not listened yet the sockets of a
// predecessor's Handover: Listen then keeps them (loading the TLS
// certificates anew) instead of binding. The caller checks that they are
// bound where the config says.
func (s *Server) Adopt(socks Sockets) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.ran || s.ln != nil {
		return errors.New("forwarder: adopt by a server that listens already")
	}
	s.ln, s.udp, s.adopted = socks.TCP, socks.UDP, true
	return nil
}

// ListenAddr is the bind address and port of the config: where Listen
// binds, and what a reload compares to hand the sockets on.
func (s *Server) ListenAddr() string {
	return net.JoinHostPort(s.cfg.Bind, strconv.Itoa(s.cfg.Port))
}

// Close stops the server at once: listeners and connections are closed and
// pending Sink.Append calls see their context cancelled. It is idempotent
// and safe without Run; a running Run returns after its goroutines ended.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.done)
	s.haltLocked()
	s.cancelAppend()
	var errs []error
	if s.ln != nil {
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if s.udp != nil {
		if err := s.udp.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for c := range s.conns {
		c.nc.Close()
	}
	return errors.Join(errs...)
}

// accept accepts connections until the listener is closed.
func (s *Server) accept(ln net.Listener) {
	defer s.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.handing.Load() {
				return
			}
			s.lim.warn("accept", "err", err)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.done:
				t.Stop()
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		s.admit(nc)
	}
}

// admit starts serving nc. Beyond max_connections it closes the
// connection idle the longest to make room, or refuses nc when none is.
func (s *Server) admit(nc net.Conn) {
	peer := nc.RemoteAddr().String()
	s.mu.Lock()
	if s.stopping || s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if len(s.conns)-s.evicting >= s.cfg.MaxConnections {
		idle := s.longestIdle()
		if idle == nil {
			s.mu.Unlock()
			nc.Close()
			s.stats.refused.Add(1)
			s.lim.warn("connection refused: max_connections reached, none idle", "peer", peer, "max_connections", s.cfg.MaxConnections)
			return
		}
		// it ends after its read returns, or after the message it may
		// just have started (as when the server stops)
		idle.evicted = true
		s.evicting++
		idle.stop()
		s.stats.evicted.Add(1)
		s.lim.warn("idle connection closed for a new one: max_connections reached", "peer", idle.peer,
			"idle", time.Since(time.Unix(0, idle.idleSince.Load())).Round(time.Millisecond))
	}
	if tc, ok := nc.(*net.TCPConn); ok && s.cfg.LingerTimeout > 0 {
		tc.SetLinger(int(s.cfg.LingerTimeout / time.Second))
	}
	if s.tls != nil {
		nc = tls.Server(nc, s.tls)
	}
	c := newConn(s, nc, peer)
	if s.tls == nil {
		c.idle() // it has sent nothing yet
	}
	s.conns[c] = struct{}{}
	s.stats.accepted.Add(1)
	s.stats.active.Add(1)
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.serve()
		nc.Close()
		c.release()
		s.mu.Lock()
		delete(s.conns, c)
		if c.evicted {
			s.evicting--
		}
		s.mu.Unlock()
		s.stats.active.Add(-1)
	}()
}

// longestIdle returns the connection idle the longest (between messages,
// or waiting for its PING), or nil. Called with s.mu held.
func (s *Server) longestIdle() *conn {
	var best *conn
	var since int64
	for c := range s.conns {
		t := c.idleSince.Load()
		if t != 0 && !c.stopping.Load() && (best == nil || t < since) {
			best, since = c, t
		}
	}
	return best
}

// heartbeat answers UDP heartbeats with a single 0 byte, as Fluentd does.
func (s *Server) heartbeat(pc net.PacketConn) {
	defer s.wg.Done()
	buf := make([]byte, 128)
	for {
		_, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || s.handing.Load() {
				return
			}
			continue
		}
		s.stats.heartbeats.Add(1)
		pc.WriteTo([]byte{0}, addr)
	}
}
