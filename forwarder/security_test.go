package forwarder

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/barge-dev/barge/forwarder/codec"
	"github.com/tinylib/msgp/msgp"
)

// handshake runs the client side of the <security> handshake.
func (c *testClient) handshake(hostname, key, user, pass string) codec.Pong {
	c.t.Helper()
	b, err := c.read(10 * time.Second)
	if err != nil {
		c.t.Fatalf("reading HELO: %v", err)
	}
	helo, err := codec.DecodeHelo(b)
	if err != nil {
		c.t.Fatal(err)
	}
	helo.Nonce = bytes.Clone(helo.Nonce) // the next read reuses the buffer
	helo.Auth = bytes.Clone(helo.Auth)
	if len(helo.Nonce) != 16 || !helo.Keepalive {
		c.t.Fatalf("HELO %+v", helo)
	}
	salt := []byte("0123456789abcdef")
	c.send(codec.AppendPing(nil, codec.Ping{
		Hostname: hostname, SharedKeySalt: salt,
		SharedKeyDigest: codec.SharedKeyDigest(salt, hostname, helo.Nonce, key),
		Username:        user, PasswordDigest: codec.PasswordDigest(helo.Auth, user, pass),
	}))
	if b, err = c.read(10 * time.Second); err != nil {
		c.t.Fatalf("reading PONG: %v", err)
	}
	pong, err := codec.DecodePong(b)
	if err != nil {
		c.t.Fatal(err)
	}
	if pong.OK && pong.SharedKeyDigest != codec.SharedKeyDigest(salt, pong.Hostname, helo.Nonce, key) {
		c.t.Fatal("server's PONG digest does not prove the shared key")
	}
	return pong
}

func TestHandshake(t *testing.T) {
	cases := []struct {
		name, key, user, pass string
		userAuth              bool
		reason                string
	}{
		{"right key", "secret", "", "", false, ""},
		{"wrong key", "guess", "", "", false, "shared_key mismatch"},
		{"right user", "secret", "alice", "pw", true, ""},
		{"wrong password", "secret", "alice", "nope", true, "username/password mismatch"},
		{"unknown user", "secret", "mallory", "pw", true, "username/password mismatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			sec := DefaultSecurityConfig()
			sec.SelfHostname, sec.SharedKey, sec.UserAuth = "server.example", "secret", tc.userAuth
			sec.Users = []UserConfig{{Username: "alice", Password: "pw"}}
			cfg.Security = &sec
			sink := newSink()
			s, addr, lb := start(t, cfg, sink)
			c := dial(t, addr)
			pong := c.handshake("client.example", tc.key, tc.user, tc.pass)
			if tc.reason != "" {
				if pong.OK || pong.Reason != tc.reason {
					t.Fatalf("PONG %+v, want failure %q", pong, tc.reason)
				}
				c.closed()
				if s.Stats().AuthFailures != 1 {
					t.Fatalf("stats %+v", s.Stats())
				}
				lb.Has(t, "authentication failed", "peer=127.0.0.1:", tc.reason)
				return
			}
			if !pong.OK || pong.Hostname != "server.example" {
				t.Fatalf("PONG %+v", pong)
			}
			c.send(message("t", 1, record("a", "b"), chunkOpt(msgp.AppendString(nil, "x"))))
			c.ack()
		})
	}
}

func TestHandshakeClientRules(t *testing.T) {
	cfg := testConfig()
	sec := DefaultSecurityConfig()
	sec.SelfHostname, sec.SharedKey = "server.example", "secret"
	sec.AllowAnonymousSource = false
	sec.Clients = []ClientConfig{{Network: "10.0.0.0/8"}}
	cfg.Security = &sec
	_, addr, _ := start(t, cfg, newSink())
	c := dial(t, addr)
	if pong := c.handshake("c", "secret", "", ""); pong.OK || pong.Reason != "anonymous source host '127.0.0.1' denied" {
		t.Fatalf("PONG %+v", pong)
	}
	sec.Clients = []ClientConfig{{Host: "127.0.0.1", SharedKey: "per-client"}}
	_, addr, _ = start(t, cfg, newSink())
	if pong := dial(t, addr).handshake("c", "per-client", "", ""); !pong.OK {
		t.Fatalf("PONG %+v", pong)
	}
}

// pki writes a CA, a server and a client certificate into dir.
type pki struct {
	dir                           string
	caPool                        *x509.CertPool
	client                        tls.Certificate
	serverCert, serverKey, caCert string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	p := &pki{dir: dir, caPool: x509.NewCertPool()}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "barge test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p.caPool.AddCert(ca)
	issue := func(serial int64, usage x509.ExtKeyUsage, name string) (certPEM, keyPEM []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	}
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	sc, sk := issue(2, x509.ExtKeyUsageServerAuth, "server")
	p.serverCert, p.serverKey = write("server.crt", sc), write("server.key", sk)
	p.caCert = write("ca.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	cc, ck := issue(3, x509.ExtKeyUsageClientAuth, "client")
	if p.client, err = tls.X509KeyPair(cc, ck); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTLS(t *testing.T) {
	p := newPKI(t)
	cfg := testConfig()
	cfg.Transport = &TransportConfig{Protocol: "tls", CertPath: p.serverCert, PrivateKeyPath: p.serverKey}
	sink := newSink()
	_, addr, _ := start(t, cfg, sink)
	nc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.caPool})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := wrap(t, nc)
	c.send(message("t", 1, record("a", "b"), chunkOpt(msgp.AppendString(nil, "tls"))))
	c.ack()
}

func TestTLSClientCert(t *testing.T) {
	p := newPKI(t)
	cfg := testConfig()
	cfg.Transport = &TransportConfig{Protocol: "tls", CertPath: p.serverCert, PrivateKeyPath: p.serverKey,
		ClientCertAuth: true, CAPath: p.caCert, MinVersion: "TLS1_3"}
	sec := DefaultSecurityConfig()
	sec.SelfHostname, sec.SharedKey = "server.example", "secret"
	cfg.Security = &sec // TLS and the handshake together
	s, addr, lb := start(t, cfg, newSink())

	nc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.caPool, Certificates: []tls.Certificate{p.client}})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := wrap(t, nc)
	if pong := c.handshake("client", "secret", "", ""); !pong.OK {
		t.Fatalf("PONG %+v", pong)
	}
	c.send(message("t", 1, record("a", "b"), chunkOpt(msgp.AppendString(nil, "x"))))
	c.ack()

	// without a client certificate: TLS 1.3 reports the refusal on first read
	nc2, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.caPool})
	if err != nil {
		t.Fatalf("TLS 1.3 client handshake: %v", err)
	}
	defer nc2.Close()
	wrap(t, nc2).closed()
	// the server's handshake returns (and counts) just after its alert
	eventually(t, func() bool { return s.Stats().TLSErrors == 1 })
	lb.Has(t, "tls handshake", "peer=127.0.0.1:")
}
