package forwarder

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/barge-dev/barge/forwarder/codec"
)

// handshake runs the <security> handshake of the Forward Protocol v1:
// HELO (nonce, user-auth salt, keepalive), the client's PING, and PONG with
// the verdict. A failing client receives PONG false with the reason and is
// disconnected. It reports whether the client may send messages.
func (c *conn) handshake() bool {
	s := c.s
	sec := s.cfg.Security
	nonce := make([]byte, 16)
	rand.Read(nonce)
	var authSalt []byte
	if sec.UserAuth {
		authSalt = make([]byte, 16)
		rand.Read(authSalt)
	}
	helo := codec.AppendHelo(nil, codec.Helo{Nonce: nonce, Auth: authSalt, Keepalive: !s.cfg.DenyKeepalive})
	if c.write(helo) != nil {
		return false
	}
	// The PING must arrive within read_timeout, idle or not, and be small.
	// Until it does the connection is idle: a new one may close it.
	c.until = time.Now().Add(s.cfg.ReadTimeout)
	c.fr.SetLimit(handshakeFrames)
	c.idle()
	frame, err := c.next()
	c.until = time.Time{}
	c.fr.SetLimit(int(s.cfg.ChunkSizeLimit))
	if errors.Is(err, codec.ErrTooLarge) {
		s.stats.authFailures.Add(1)
		s.lim.warn("authentication failed", "peer", c.peer, "reason", "PING over 16 KiB")
		return false
	}
	if err != nil {
		c.readError(err)
		if c.fr.Buffered() == 0 && !c.stopping.Load() {
			s.stats.authFailures.Add(1)
			s.lim.warn("authentication failed", "peer", c.peer, "reason", "no PING")
		}
		return false
	}
	ping, err := codec.DecodePing(frame)
	var reason, key string
	if err != nil {
		reason = "invalid ping message"
	} else {
		reason, key = c.checkPing(ping, nonce, authSalt)
	}
	ip := peerIP(c.nc.RemoteAddr())
	if reason != "" {
		s.stats.authFailures.Add(1)
		d := s.auth.failed(ip, time.Now())
		s.lim.warn("authentication failed", "peer", c.peer, "hostname", clip(ping.Hostname), "username", clip(ping.Username),
			"reason", clip(reason), "delay", d)
		s.pause(d) // ends when the server stops
		c.write(codec.AppendPong(nil, codec.Pong{Reason: reason}))
		return false
	}
	s.auth.succeeded(ip)
	pong := codec.AppendPong(nil, codec.Pong{
		OK:              true,
		Hostname:        sec.SelfHostname,
		SharedKeyDigest: codec.SharedKeyDigest(ping.SharedKeySalt, sec.SelfHostname, nonce, key),
	})
	return c.write(pong) == nil
}

// checkPing returns the reason of a failure ("" for success) and the shared
// key the client proved to know.
func (c *conn) checkPing(p codec.Ping, nonce, authSalt []byte) (reason, key string) {
	sec := c.s.cfg.Security
	var rule *client
	if ap, ok := c.nc.RemoteAddr().(*net.TCPAddr); ok {
		for i := range c.s.clients {
			if c.s.clients[i].network.Contains(ap.IP) {
				rule = &c.s.clients[i]
				break
			}
		}
	}
	key = sec.SharedKey
	if rule != nil {
		key = rule.sharedKey
	} else if !sec.AllowAnonymousSource {
		host, _, _ := net.SplitHostPort(c.peer)
		return "anonymous source host '" + host + "' denied", ""
	}
	want := codec.SharedKeyDigest(p.SharedKeySalt, p.Hostname, nonce, key)
	if subtle.ConstantTimeCompare([]byte(want), []byte(p.SharedKeyDigest)) != 1 {
		return "shared_key mismatch", ""
	}
	if sec.UserAuth {
		ok := false
		for _, u := range sec.Users {
			if u.Username != p.Username || rule != nil && len(rule.users) > 0 && !slices.Contains(rule.users, u.Username) {
				continue
			}
			d := codec.PasswordDigest(authSalt, u.Username, u.Password)
			if subtle.ConstantTimeCompare([]byte(d), []byte(p.PasswordDigest)) == 1 {
				ok = true
			}
		}
		if !ok {
			return "username/password mismatch", ""
		}
	}
	return "", key
}

// peerIP returns the address of a peer, without its port.
func peerIP(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}
