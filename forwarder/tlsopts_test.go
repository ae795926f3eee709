package forwarder

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// <transport tls> version, min_version, max_version and insecure, as in
// Fluentd: TLS 1.2 at least by default, 1.1 only with insecure.
func TestTLSVersions(t *testing.T) {
	for _, tc := range []struct {
		t      TransportConfig
		lo, hi uint16
		err    string
	}{
		{TransportConfig{}, tls.VersionTLS12, 0, ""},
		{TransportConfig{Version: "TLSv1_3"}, tls.VersionTLS13, 0, ""},
		{TransportConfig{Version: "TLSv1_2", MaxVersion: "TLS1_2"}, tls.VersionTLS12, tls.VersionTLS12, ""},
		{TransportConfig{MinVersion: "TLS1_3"}, tls.VersionTLS13, 0, ""},
		{TransportConfig{Version: "TLSv1_1"}, 0, 0, "set 'insecure true'"},
		{TransportConfig{Version: "TLSv1_1", Insecure: true}, tls.VersionTLS11, 0, ""},
		{TransportConfig{Version: "TLSv1_3", MaxVersion: "TLSv1_2"}, 0, 0, "'max_version' TLSv1_2 is below"},
	} {
		lo, hi, err := tc.t.versions()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: err %v, want %q", tc.t, err, tc.err)
			}
			continue
		}
		if err != nil || lo != tc.lo || hi != tc.hi {
			t.Errorf("%+v: %x, %x, %v; want %x, %x", tc.t, lo, hi, err, tc.lo, tc.hi)
		}
	}
}

// ciphers takes an OpenSSL cipher list: keywords keep Go's secure default
// set, names restrict it, an unknown name is an error.
func TestCipherSuites(t *testing.T) {
	if s, err := cipherSuites("ALL:!aNULL:!eNULL:!SSLv2"); err != nil || s != nil {
		t.Fatalf("Fluentd's default: %v, %v; want Go's default set", s, err)
	}
	s, err := cipherSuites("ECDHE-RSA-AES128-GCM-SHA256:TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:!MD5")
	if err != nil || len(s) != 2 || s[0] != tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 || s[1] != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 {
		t.Fatalf("%v, %v", s, err)
	}
	if _, err := cipherSuites("ECDHE-RSA-DES-CBC3-SHA"); err == nil || !strings.Contains(err.Error(), "is not a TLS 1.2 cipher barge has") {
		t.Fatalf("unknown cipher: %v", err)
	}
}

// A server held to TLS 1.2 and one cipher negotiates exactly those.
func TestTLSVersionAndCipherNegotiated(t *testing.T) {
	p := newPKI(t)
	cfg := testConfig()
	cfg.Transport = &TransportConfig{Protocol: "tls", CertPath: p.serverCert, PrivateKeyPath: p.serverKey,
		Version: "TLSv1_2", MaxVersion: "TLSv1_2", Ciphers: "ECDHE-ECDSA-AES256-GCM-SHA384"}
	_, addr, _ := start(t, cfg, newSink())
	nc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.caPool})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	st := nc.ConnectionState()
	if st.Version != tls.VersionTLS12 || st.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 {
		t.Fatalf("negotiated %s with %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	}
	c := wrap(t, nc)
	c.send(message("t", 1, record("a", "b"), chunkOpt(msgp.AppendString(nil, "v12"))))
	c.ack()
	// a client that only speaks TLS 1.3 is refused
	if nc3, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.caPool, MinVersion: tls.VersionTLS13}); err == nil {
		nc3.Close()
		t.Fatal("a TLS 1.3-only client was accepted by a server held to 1.2")
	}
}
