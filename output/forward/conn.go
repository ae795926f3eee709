package forward

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/barge-dev/barge/forwarder/codec"
)

// maxResponse bounds a frame read from a server: an ack or a handshake
// message.
const maxResponse = 64 << 10

// conn is a connection to one server.
type conn struct {
	nc       net.Conn
	fr       *codec.FrameReader
	lastUsed time.Time
	reused   bool
	// mismatchLogged: a mismatched ack was logged on this connection.
	mismatchLogged bool
}

func (c *conn) close() { c.nc.Close() }

// pool keeps a server's idle connections (keepalive).
type pool struct {
	mu     sync.Mutex
	idle   []*conn
	closed bool
}

// get returns an idle connection not older than ttl (0: any), closing the
// expired ones, or nil.
func (p *pool) get(now time.Time, ttl time.Duration) *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if ttl > 0 && now.Sub(c.lastUsed) > ttl {
			c.close()
			continue
		}
		c.reused = true
		return c
	}
	return nil
}

// put keeps c for the next flush, or closes it after closeAll.
func (p *pool) put(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.close()
		return
	}
	p.idle = append(p.idle, c)
}

func (p *pool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.idle {
		c.close()
	}
	p.idle = nil
}

// loadTLS builds the client TLS configuration of transport tls.
func loadTLS(cfg *Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.TLSInsecureMode}
	if cfg.TLSVersion == "TLSv1_3" {
		tc.MinVersion = tls.VersionTLS13
	}
	if len(cfg.TLSCertPath) > 0 {
		pool := x509.NewCertPool()
		for _, p := range cfg.TLSCertPath {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("read tls_cert_path: %w", err)
			}
			if !pool.AppendCertsFromPEM(b) {
				return nil, fmt.Errorf("tls_cert_path %s: no PEM certificate", p)
			}
		}
		tc.RootCAs = pool
	}
	if cfg.TLSClientCertPath != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSClientCertPath, cfg.TLSClientPrivateKeyPath)
		if err != nil {
			return nil, fmt.Errorf("load tls_client_cert_path %s: %w", cfg.TLSClientCertPath, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if !cfg.TLSVerifyHostname && !cfg.TLSInsecureMode {
		// Verify the chain but not the name.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: tc.RootCAs, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	return tc, nil
}

// dial connects to n: TCP, TLS, then the <security> handshake, all within
// connect_timeout.
func (o *Output) dial(ctx context.Context, n *node) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, o.connectTimeout)
	defer cancel()
	addr, err := o.address(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		n.dns.expire()
		return nil, fmt.Errorf("connect: %w", err)
	}
	if o.tls != nil {
		tc := o.tls.Clone()
		tc.ServerName = n.cfg.Host
		tlsc := tls.Client(nc, tc)
		if err := tlsc.HandshakeContext(ctx); err != nil {
			nc.Close()
			o.st.handshakeFailures.Add(1)
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		nc = tlsc
	}
	c := &conn{nc: nc, fr: codec.NewFrameReader(nc, maxResponse), lastUsed: o.now()}
	if o.cfg.Security != nil {
		dl, _ := ctx.Deadline()
		nc.SetDeadline(dl)
		stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
		err := o.handshake(c, n)
		stop()
		nc.SetDeadline(time.Time{})
		if err != nil {
			nc.Close()
			o.st.handshakeFailures.Add(1)
			return nil, err
		}
	}
	o.st.connects.Add(1)
	return c, nil
}

// errAuth is wrapped by a refused <security> handshake.
var errAuth = errors.New("forward: authentication failed")

// handshake answers the server's HELO with a PING and checks its PONG.
func (o *Output) handshake(c *conn, n *node) error {
	frame, err := c.fr.Next()
	if err != nil {
		return fmt.Errorf("read HELO: %w", err)
	}
	helo, err := codec.DecodeHelo(frame)
	if err != nil {
		return fmt.Errorf("read HELO: %w", err)
	}
	// helo aliases the reader's buffer, which the PONG overwrites.
	nonce, authSalt := bytes.Clone(helo.Nonce), bytes.Clone(helo.Auth)
	sec := o.cfg.Security
	key := n.cfg.SharedKey
	if key == "" {
		key = sec.SharedKey
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	ping := codec.Ping{
		Hostname:        sec.SelfHostname,
		SharedKeySalt:   salt,
		SharedKeyDigest: codec.SharedKeyDigest(salt, sec.SelfHostname, nonce, key),
	}
	if len(authSalt) > 0 {
		ping.Username = n.cfg.Username
		ping.PasswordDigest = codec.PasswordDigest(authSalt, n.cfg.Username, n.cfg.Password)
	}
	if _, err := c.nc.Write(codec.AppendPing(nil, ping)); err != nil {
		return fmt.Errorf("write PING: %w", err)
	}
	if frame, err = c.fr.Next(); err != nil {
		return fmt.Errorf("read PONG: %w", err)
	}
	pong, err := codec.DecodePong(frame)
	if err != nil {
		return fmt.Errorf("read PONG: %w", err)
	}
	if !pong.OK {
		return fmt.Errorf("%w: %s", errAuth, pong.Reason)
	}
	want := codec.SharedKeyDigest(salt, pong.Hostname, nonce, key)
	if subtle.ConstantTimeCompare([]byte(want), []byte(pong.SharedKeyDigest)) != 1 {
		return fmt.Errorf("%w: the server's shared key digest does not match", errAuth)
	}
	return nil
}
