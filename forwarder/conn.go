package forwarder

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/barge-dev/barge/buffer/event"
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
	mem      *connMem
	stopping atomic.Bool
	// idleSince is when the connection became idle (UnixNano), 0 while it
	// is busy: from a frame's first byte until its message was appended.
	idleSince atomic.Int64
	evicted   bool // told to close for a new connection; guarded by s.mu
	// frameStart is when the current frame's first byte arrived; zero
	// between frames. msgStart keeps it while the message is decoded and
	// appended. Only the connection's goroutine uses them.
	frameStart, msgStart time.Time
	// until, when set, is the deadline of every read (handshake).
	until    time.Time
	wbuf     []byte
	lastTag  []byte
	tag      string
	tagErr   error  // event.CheckTag(tag)
	hostname string // resolved peer name for source_hostname_key
	src      []byte // re-encoding buffer for source_*_key
}

func newConn(s *Server, nc net.Conn, peer string) *conn {
	c := &conn{s: s, nc: nc, peer: peer}
	c.mem = &connMem{b: s.mem, deadline: c.memDeadline, halt: s.halt}
	c.fr = codec.NewFrameReader(deadlineReader{c}, int(s.cfg.ChunkSizeLimit))
	c.fr.Alloc = c.mem
	c.dec = codec.Decoder{SkipInvalid: s.cfg.SkipInvalidEvent, Limit: int(s.cfg.ChunkSizeLimit), Alloc: c.mem}
	return c
}

// stop asks the connection to end after the message it is reading. Called
// with s.mu held.
func (c *conn) stop() {
	c.stopping.Store(true)
	c.nc.SetReadDeadline(time.Now())
}

// idle marks the connection idle (keeping an earlier mark), unless it
// holds part of the next frame.
func (c *conn) idle() {
	if c.fr.Buffered() == 0 {
		c.idleSince.CompareAndSwap(0, time.Now().UnixNano())
	}
}

// memDeadline bounds a wait for memory: read_timeout from the message's
// first byte.
func (c *conn) memDeadline() (since, deadline time.Time) {
	since = c.frameStart
	if since.IsZero() {
		since = c.msgStart
	}
	if since.IsZero() {
		since = time.Now()
	}
	return since, since.Add(c.s.cfg.ReadTimeout)
}

// release gives back the connection's buffers once it ended.
func (c *conn) release() {
	c.fr.Release()
	c.dec.Release()
	if c.src != nil {
		c.mem.Put(c.src)
		c.src = nil
	}
	c.mem.close()
}

// deadlineReader sets the read deadline before every read: idle_timeout
// between messages, read_timeout from a message's first byte to its last.
type deadlineReader struct{ c *conn }

func (r deadlineReader) Read(p []byte) (int, error) {
	c := r.c
	between := c.fr.Buffered() == 0
	var d time.Time
	switch {
	case !c.until.IsZero():
		d = c.until
	case between:
		d = time.Now().Add(c.s.cfg.IdleTimeout)
	default:
		if c.frameStart.IsZero() { // a frame that came with the previous one
			c.frameStart = time.Now()
		}
		d = c.frameStart.Add(c.s.cfg.ReadTimeout)
	}
	c.nc.SetReadDeadline(d)
	// checked after setting the deadline: stop() stores then sets, so
	// either we see the flag or its deadline wins over ours
	if c.stopping.Load() && between {
		return 0, errStopping
	}
	n, err := c.nc.Read(p)
	if n > 0 && between {
		c.frameStart = time.Now()
		c.idleSince.Store(0)
	}
	return n, err
}

// next reads the next frame, resuming a frame interrupted by stop().
func (c *conn) next() ([]byte, error) {
	for {
		frame, err := c.fr.Next()
		if err != nil && c.stopping.Load() && isTimeout(err) &&
			c.fr.Buffered() > 0 && time.Since(c.frameStart) < c.s.cfg.ReadTimeout {
			continue // stop() interrupted the read of a frame: finish it
		}
		c.msgStart, c.frameStart = c.frameStart, time.Time{}
		return frame, err
	}
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// serve runs the connection until the client leaves, misbehaves or the
// server stops.
func (c *conn) serve() {
	if tc, ok := c.nc.(*tls.Conn); ok {
		ctx, cancel := context.WithTimeout(c.s.appendCtx, c.s.cfg.ReadTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			c.s.lim.warn("tls handshake", "peer", c.peer, "err", clipErr(err))
			c.s.stats.tlsErrors.Add(1)
			return
		}
	}
	if c.s.cfg.Security != nil && !c.handshake() {
		return
	}
	for {
		c.idle()
		frame, err := c.next()
		if err != nil {
			c.readError(err)
			return
		}
		ok := c.message(frame)
		c.msgStart = time.Time{}
		c.dec.Release()
		if cap(c.src) > codec.KeepSmall {
			c.mem.Put(c.src)
			c.src = nil
		}
		if !ok || c.s.cfg.DenyKeepalive || c.stopping.Load() && c.fr.Buffered() == 0 {
			return
		}
	}
}

// readError counts and logs why reading stopped.
func (c *conn) readError(err error) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, errStopping), errors.Is(err, net.ErrClosed):
	case errors.Is(err, errMemory):
		c.memoryError(err)
	case errors.Is(err, codec.ErrTooLarge):
		c.s.stats.oversize.Add(1)
		c.s.lim.warn("frame over chunk_size_limit, connection closed", "peer", c.peer, "limit", c.s.cfg.ChunkSizeLimit)
	case errors.Is(err, codec.ErrMalformed):
		c.s.stats.malformed.Add(1)
		c.s.lim.warn("malformed msgpack, connection closed", "peer", c.peer)
	case isTimeout(err):
		if c.fr.Buffered() > 0 {
			c.s.stats.timeouts.Add(1)
			c.s.lim.warn("client stalled mid-message, connection closed", "peer", c.peer, "bytes", c.fr.Buffered())
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.s.stats.malformed.Add(1)
		c.s.lim.warn("connection closed mid-message", "peer", c.peer, "bytes", c.fr.Buffered())
	default:
		c.s.lim.warn("read", "peer", c.peer, "err", clipErr(err))
	}
}

// memoryError counts and logs a connection closed for want of memory.
func (c *conn) memoryError(err error) {
	c.s.stats.memoryAborts.Add(1)
	c.s.lim.warn("no memory for the message within memory_limit, connection closed", "peer", c.peer, "err", err, "memory_limit", c.s.cfg.memoryLimit())
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
		switch {
		case errors.Is(err, errMemory):
			c.memoryError(err)
			return false
		case errors.Is(err, event.ErrTooDeep):
			s.stats.tooDeep.Add(1)
			s.lim.warn("record nested too deeply, connection closed", "peer", c.peer, "max_depth", event.MaxDepth)
			return false
		case errors.Is(err, codec.ErrTooLarge):
			s.stats.oversize.Add(1)
		default:
			s.stats.malformed.Add(1)
		}
		s.lim.warn("bad message, connection closed", "peer", c.peer, "err", clipErr(err))
		return false
	}
	tag, err := c.tagString(m.Tag)
	if err != nil {
		s.stats.badTags.Add(1)
		s.lim.warn("tag refused, connection closed", "peer", c.peer, "tag", clip(m.Tag), "err", err)
		return false
	}
	if w := s.cfg.ChunkSizeWarnLimit; w > 0 && int64(len(frame)) > w {
		s.stats.oversized.Add(1)
		s.lim.warn("message over chunk_size_warn_limit", "peer", c.peer, "tag", clip(tag), "bytes", len(frame), "limit", w)
	}
	if m.Invalid > 0 {
		s.stats.invalid.Add(int64(m.Invalid))
		s.stats.tooDeep.Add(int64(m.Deep))
		s.lim.warn("invalid entries skipped", "peer", c.peer, "tag", clip(tag), "records", m.Invalid, "too_deep", m.Deep)
	}
	if m.Records > 0 {
		entries := m.Entries
		if s.cfg.SourceAddressKey != "" || s.cfg.SourceHostnameKey != "" {
			if entries, err = c.addSource(entries, m.Records); err != nil {
				if errors.Is(err, errMemory) {
					c.memoryError(err)
					return false
				}
				s.stats.malformed.Add(1)
				s.lim.warn("bad record, connection closed", "peer", c.peer, "tag", clip(tag), "err", clipErr(err))
				return false
			}
		}
		if err := s.sink.Append(s.appendCtx, tag, entries); err != nil {
			s.stats.appendErrors.Add(1)
			s.lim.warn("append, no ack sent", "peer", c.peer, "tag", clip(tag), "records", m.Records, "err", clipErr(err))
			return s.appendCtx.Err() == nil // keep serving unless Close was called
		}
		s.stats.records.Add(int64(m.Records))
	}
	s.stats.messages.Add(1)
	s.stats.bytes.Add(int64(len(frame)))
	if m.Chunk != nil {
		s.stats.acks.Add(1)
		if c.ack(m.Chunk) != nil {
			return false
		}
	}
	return true
}

// ack sends {"ack": chunk}. A chunk value is some 20 bytes; an unusually
// large one is written from where it is rather than copied.
func (c *conn) ack(chunk []byte) error {
	if len(chunk) > codec.KeepSmall {
		c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.ReadTimeout))
		bufs := net.Buffers{codec.AppendAck(nil, nil), chunk}
		if _, err := bufs.WriteTo(c.nc); err != nil {
			c.s.lim.warn("write", "peer", c.peer, "err", clipErr(err))
			return err
		}
		return nil
	}
	c.wbuf = codec.AppendAck(c.wbuf[:0], chunk)
	return c.write(c.wbuf)
}

// tagString returns the tag with add_tag_prefix, or the reason it is
// refused, reusing the previous result when the tag did not change.
func (c *conn) tagString(raw []byte) (string, error) {
	if c.tag != "" && bytes.Equal(raw, c.lastTag) {
		return c.tag, c.tagErr
	}
	p := c.s.cfg.AddTagPrefix
	n := len(raw)
	if p != "" {
		n += len(p) + 1
	}
	if n > event.MaxTagLen { // refused before it is copied
		return "", fmt.Errorf("%w: %d bytes, over %d", event.ErrTag, n, event.MaxTagLen)
	}
	c.lastTag = append(c.lastTag[:0], raw...)
	if p != "" {
		c.tag = p + "." + string(raw)
	} else {
		c.tag = string(raw)
	}
	c.tagErr = event.CheckTag(c.tag)
	return c.tag, c.tagErr
}

// write writes b within read_timeout.
func (c *conn) write(b []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.ReadTimeout))
	_, err := c.nc.Write(b)
	if err != nil {
		c.s.lim.warn("write", "peer", c.peer, "err", clipErr(err))
	}
	return err
}
