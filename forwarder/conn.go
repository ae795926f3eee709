package forwarder

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/barge-dev/barge/forwarder/codec"
)

// errStopping ends a connection that is between messages when the server stops.
var errStopping = errors.New("forwarder: stopping")

// conn serves one client connection.
type conn struct {
	s        *Server
	nc       net.Conn
	peer     string
	fr       *codec.FrameReader
	dec      codec.Decoder
	stopping atomic.Bool
	// frameStart is when the current frame's first read was made; zero
	// between frames. Only the connection's goroutine uses it.
	frameStart time.Time
	// until, when set, is the deadline of every read (handshake).
	until    time.Time
	wbuf     []byte
	lastTag  []byte
	tag      string
	hostname string // resolved peer name for source_hostname_key
	src      []byte // re-encoding buffer for source_*_key
}

func newConn(s *Server, nc net.Conn, peer string) *conn {
	c := &conn{s: s, nc: nc, peer: peer}
	c.fr = codec.NewFrameReader(deadlineReader{c}, int(s.cfg.ChunkSizeLimit))
	c.dec = codec.Decoder{SkipInvalid: s.cfg.SkipInvalidEvent, Limit: int(s.cfg.ChunkSizeLimit)}
	return c
}

// stop asks the connection to end after the message it is reading. Called
// with s.mu held.
func (c *conn) stop() {
	c.stopping.Store(true)
	c.nc.SetReadDeadline(time.Now())
}

// deadlineReader sets the read deadline before every read: idle_timeout
// between messages, read_timeout from a message's first byte to its last.
type deadlineReader struct{ c *conn }

func (r deadlineReader) Read(p []byte) (int, error) {
	c := r.c
	now := time.Now()
	var d time.Time
	switch {
	case !c.until.IsZero():
		d = c.until
	case c.fr.Buffered() == 0:
		d = now.Add(c.s.cfg.IdleTimeout)
	default:
		if c.frameStart.IsZero() {
			c.frameStart = now
		}
		d = c.frameStart.Add(c.s.cfg.ReadTimeout)
	}
	c.nc.SetReadDeadline(d)
	// checked after setting the deadline: stop() stores then sets, so
	// either we see the flag or its deadline wins over ours
	if c.stopping.Load() && c.fr.Buffered() == 0 {
		return 0, errStopping
	}
	return c.nc.Read(p)
}

// next reads the next frame, resuming a frame interrupted by stop().
func (c *conn) next() ([]byte, error) {
	for {
		frame, err := c.fr.Next()
		var ne net.Error
		if err != nil && c.stopping.Load() && errors.As(err, &ne) && ne.Timeout() &&
			c.fr.Buffered() > 0 && time.Since(c.frameStart) < c.s.cfg.ReadTimeout {
			continue // stop() interrupted the read of a frame: finish it
		}
		c.frameStart = time.Time{}
		return frame, err
	}
}

// serve runs the connection until the client leaves, misbehaves or the
// server stops.
func (c *conn) serve() {
	if tc, ok := c.nc.(*tls.Conn); ok {
		ctx, cancel := context.WithTimeout(c.s.appendCtx, c.s.cfg.ReadTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			c.s.lim.warn("tls handshake", "peer", c.peer, "err", err)
			c.s.stats.tlsErrors.Add(1)
			return
		}
	}
	if c.s.cfg.Security != nil && !c.handshake() {
		return
	}
	for {
		frame, err := c.next()
		if err != nil {
			c.readError(err)
			return
		}
		if !c.message(frame) || c.s.cfg.DenyKeepalive || c.stopping.Load() && c.fr.Buffered() == 0 {
			return
		}
	}
}

// readError counts and logs why reading stopped.
func (c *conn) readError(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, errStopping), errors.Is(err, net.ErrClosed):
	case errors.Is(err, codec.ErrTooLarge):
		c.s.stats.oversize.Add(1)
		c.s.lim.warn("frame over chunk_size_limit, connection closed", "peer", c.peer, "limit", c.s.cfg.ChunkSizeLimit)
	case errors.Is(err, codec.ErrMalformed):
		c.s.stats.malformed.Add(1)
		c.s.lim.warn("malformed msgpack, connection closed", "peer", c.peer)
	case errors.As(err, &ne) && ne.Timeout():
		if c.fr.Buffered() > 0 {
			c.s.stats.timeouts.Add(1)
			c.s.lim.warn("client stalled mid-message, connection closed", "peer", c.peer, "bytes", c.fr.Buffered())
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.s.stats.malformed.Add(1)
		c.s.lim.warn("connection closed mid-message", "peer", c.peer, "bytes", c.fr.Buffered())
	default:
		c.s.lim.warn("read", "peer", c.peer, "err", err)
	}
}

// message decodes, appends and acks one frame. It returns false when the
// connection must be closed.
func (c *conn) message(frame []byte) bool {
	s := c.s
	if len(frame) > 0 && (frame[0] == '{' || frame[0] == '[') {
		s.stats.malformed.Add(1)
		s.lim.warn("JSON forward messages are not supported, connection closed", "peer", c.peer)
		return false
	}
	m, err := c.dec.Decode(frame)
	if err != nil {
		if errors.Is(err, codec.ErrTooLarge) {
			s.stats.oversize.Add(1)
		} else {
			s.stats.malformed.Add(1)
		}
		s.lim.warn("bad message, connection closed", "peer", c.peer, "err", err)
		return false
	}
	tag := c.tagString(m.Tag)
	if w := s.cfg.ChunkSizeWarnLimit; w > 0 && int64(len(frame)) > w {
		s.stats.oversized.Add(1)
		s.lim.warn("message over chunk_size_warn_limit", "peer", c.peer, "tag", tag, "bytes", len(frame), "limit", w)
	}
	if m.Invalid > 0 {
		s.stats.invalid.Add(int64(m.Invalid))
		s.lim.warn("invalid entries skipped", "peer", c.peer, "tag", tag, "records", m.Invalid)
	}
	if m.Records > 0 {
		entries := m.Entries
		if s.cfg.SourceAddressKey != "" || s.cfg.SourceHostnameKey != "" {
			if entries, err = c.addSource(entries); err != nil {
				s.stats.malformed.Add(1)
				s.lim.warn("bad record, connection closed", "peer", c.peer, "tag", tag, "err", err)
				return false
			}
		}
		if err := s.sink.Append(s.appendCtx, tag, entries); err != nil {
			s.stats.appendErrors.Add(1)
			s.lim.warn("append, no ack sent", "peer", c.peer, "tag", tag, "records", m.Records, "err", err)
			return s.appendCtx.Err() == nil // keep serving unless Close was called
		}
		s.stats.records.Add(int64(m.Records))
	}
	s.stats.messages.Add(1)
	s.stats.bytes.Add(int64(len(frame)))
	if m.Chunk != nil {
		c.wbuf = codec.AppendAck(c.wbuf[:0], m.Chunk)
		s.stats.acks.Add(1)
		if err := c.write(c.wbuf); err != nil {
			return false
		}
	}
	return true
}

// tagString returns the tag with add_tag_prefix, reusing the previous
// string when the tag did not change.
func (c *conn) tagString(raw []byte) string {
	if c.tag != "" && bytes.Equal(raw, c.lastTag) {
		return c.tag
	}
	c.lastTag = append(c.lastTag[:0], raw...)
	if p := c.s.cfg.AddTagPrefix; p != "" {
		c.tag = p + "." + string(raw)
	} else {
		c.tag = string(raw)
	}
	return c.tag
}

// write writes b within read_timeout.
func (c *conn) write(b []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.ReadTimeout))
	_, err := c.nc.Write(b)
	if err != nil {
		c.s.lim.warn("write", "peer", c.peer, "err", err)
	}
	return err
}
