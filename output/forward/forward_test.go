package forward

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/forwarder"
)

// checkRecords checks that got holds, in order, the entries of entries()
// for the frames (tag, n) given, with their times.
func checkRecords(t *testing.T, got []rec, intTime bool, want ...frame) {
	t.Helper()
	i := 0
	for _, w := range want {
		in := decodeEntries(t, w.tag, w.entries)
		for j := range in {
			if i >= len(got) {
				t.Fatalf("%d records, want more", len(got))
			}
			r := got[i]
			seq, _ := r.r["seq"].(int64)
			if r.tag != w.tag || int(seq) != j || r.sec != int64(baseSec+j) {
				t.Fatalf("record %d: %s %d %+v, want %s seq %d", i, r.tag, r.sec, r.r, w.tag, j)
			}
			if intTime {
				if r.nsec != 0 || r.raw[0] == 0xd7 {
					t.Fatalf("record %d: time %x, want integer seconds", i, r.raw)
				}
			} else if r.nsec != in[j].nsec || r.raw[0] != 0xd7 || r.raw[1] != 0 {
				t.Fatalf("record %d: time %x (%d ns), want an EventTime of %d ns", i, r.raw, r.nsec, in[j].nsec)
			}
			i++
		}
	}
	if i != len(got) {
		t.Fatalf("%d records, want %d", len(got), i)
	}
}

func TestToForwarder(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  func(*Config)
	}{
		{"plain", nil},
		{"time_as_integer", func(c *Config) { c.TimeAsInteger = true }},
		{"ack", func(c *Config) { c.RequireAckResponse = true }},
		{"gzip", func(c *Config) { c.Compress = "gzip" }},
		{"gzip_ack_keepalive", func(c *Config) { c.Compress = "gzip"; c.RequireAckResponse = true; c.Keepalive = true }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sk := newSink()
			srv, port := startServer(t, nil, sk)
			var intTime bool
			o := newOutput(t, func(c *Config) {
				c.Servers = []ServerConfig{server(port)}
				if tt.mod != nil {
					tt.mod(c)
				}
				intTime = c.TimeAsInteger
			}, Options{})
			fs := []frame{{"app.a", entries(0, 100, false)}, {"app.b", entries(0, 50, true)}}
			c := holdChunk(t, fs...)
			if err := o.Flush(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			sk.wait(t, 150)
			checkRecords(t, sk.all(t), intTime, fs...)
			st := o.Stats()
			if st.Records != 150 || st.Messages != 2 || st.Servers[0].Records != 150 || st.Errors != 0 {
				t.Errorf("stats %+v", st)
			}
			if o.cfg.RequireAckResponse {
				if st.Acks != 2 || srv.Stats().Acks != 2 {
					t.Errorf("acks: ours %d, server's %d, want 2", st.Acks, srv.Stats().Acks)
				}
			}
		})
	}
}

func TestSecurityUserAuth(t *testing.T) {
	sk := newSink()
	_, port := startServer(t, func(c *forwarder.Config) {
		c.Security = &forwarder.SecurityConfig{SelfHostname: "receiver", SharedKey: "s3cret", UserAuth: true, AllowAnonymousSource: true,
			Users: []forwarder.UserConfig{{Username: "alice", Password: "wonder"}}}
	}, sk)
	fs := []frame{{"sec.t", entries(0, 10, false)}}
	c := holdChunk(t, fs...)
	for _, tt := range []struct {
		name, password, wantErr string
	}{
		{"good", "wonder", ""},
		{"bad_password", "guess", "username/password mismatch"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := newOutput(t, func(cfg *Config) {
				s := server(port)
				s.Username, s.Password = "alice", tt.password
				cfg.Servers = []ServerConfig{s}
				cfg.RequireAckResponse = true
				cfg.Security = &SecurityConfig{SelfHostname: "sender", SharedKey: "s3cret"}
			}, Options{})
			err := o.Flush(context.Background(), c)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				checkRecords(t, sk.all(t), false, fs...)
				if st := o.Stats(); st.Connects != 1 || st.HandshakeFailures != 0 {
					t.Errorf("stats %+v: want 1 connection, no handshake failure", st)
				}
				return
			}
			if st := o.Stats(); st.Connects != 0 || st.HandshakeFailures == 0 {
				t.Errorf("stats %+v: want the failed handshakes counted, no connection", st)
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "127.0.0.1:") || !strings.Contains(err.Error(), c.ID) {
				t.Fatalf("err = %v, want %q naming the server and chunk", err, tt.wantErr)
			}
			if !o.Stats().Servers[0].Down {
				t.Error("server not marked down")
			}
		})
	}
}

// pki is a CA and a server certificate for 127.0.0.1, in files.
type pki struct {
	caCert, serverCert, serverKey string
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "forward test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "receiver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	write := func(name string, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return pki{
		caCert:     write("ca.crt", "CERTIFICATE", caDER),
		serverCert: write("server.crt", "CERTIFICATE", der),
		serverKey:  write("server.key", "EC PRIVATE KEY", kder),
	}
}

func TestTLS(t *testing.T) {
	p := newPKI(t)
	sk := newSink()
	_, port := startServer(t, func(c *forwarder.Config) {
		c.Transport = &forwarder.TransportConfig{Protocol: "tls", CertPath: p.serverCert, PrivateKeyPath: p.serverKey}
		c.Security = &forwarder.SecurityConfig{SelfHostname: "receiver", SharedKey: "k", AllowAnonymousSource: true}
	}, sk)
	fs := []frame{{"tls.t", entries(0, 20, false)}}
	c := holdChunk(t, fs...)

	o := newOutput(t, func(cfg *Config) {
		cfg.Servers = []ServerConfig{server(port)}
		cfg.RequireAckResponse = true
		cfg.Transport = "tls"
		cfg.TLSCertPath = []string{p.caCert}
		cfg.Security = &SecurityConfig{SelfHostname: "sender", SharedKey: "k"}
	}, Options{})
	if err := o.Flush(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, sk.all(t), false, fs...)

	// Without the CA the server's certificate is refused.
	o = newOutput(t, func(cfg *Config) {
		cfg.Servers = []ServerConfig{server(port)}
		cfg.Transport = "tls"
		cfg.Security = &SecurityConfig{SelfHostname: "sender", SharedKey: "k"}
	}, Options{})
	var uerr x509.UnknownAuthorityError
	if err := o.Flush(context.Background(), c); !errors.As(err, &uerr) {
		t.Fatalf("err = %v, want an unknown authority", err)
	}
}

// TestSendChunkSize sends a chunk of several MiB as several messages, each
// acked by the real forward input.
func TestSendChunkSize(t *testing.T) {
	sk := newSink()
	srv, port := startServer(t, nil, sk)
	o := newOutput(t, func(c *Config) {
		c.Servers = []ServerConfig{server(port)}
		c.RequireAckResponse = true
		c.SendChunkSize = 1 << 20
	}, Options{})
	fs := []frame{{"big", entries(0, 60000, false)}, {"big", entries(0, 30000, false)}}
	size := len(fs[0].entries) + len(fs[1].entries)
	if size < 3<<20 {
		t.Fatalf("chunk of %d bytes, want several MiB", size)
	}
	c := holdChunk(t, fs...)
	if err := o.Flush(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, sk.all(t), false, fs...)
	st := o.Stats()
	want := int64((size + 1<<20 - 1) / (1 << 20))
	if st.Messages < want || st.Acks != st.Messages || srv.Stats().Acks != st.Messages {
		t.Fatalf("%d messages, %d acks (server %d); want at least %d, each acked", st.Messages, st.Acks, srv.Stats().Acks, want)
	}
	sk.mu.Lock()
	for i, e := range sk.entries {
		if len(e) > 1<<20 {
			t.Errorf("message %d holds %d bytes of entries, over send_chunk_size", i, len(e))
		}
	}
	sk.mu.Unlock()
}
