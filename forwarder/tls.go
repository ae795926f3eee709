package forwarder

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
)

// loadTLS builds the server's TLS configuration from <transport tls>.
func loadTLS(t *TransportConfig) (*tls.Config, error) {
	certPEM, err := os.ReadFile(t.CertPath)
	if err != nil {
		return nil, fmt.Errorf("read cert_path: %w", err)
	}
	keyPEM, err := os.ReadFile(t.PrivateKeyPath)
	if err != nil {
		return nil, fmt.Errorf("read private_key_path: %w", err)
	}
	if t.PrivateKeyPassphrase != "" {
		if keyPEM, err = decryptKey(keyPEM, t.PrivateKeyPassphrase); err != nil {
			return nil, err
		}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load certificate %s: %w", t.CertPath, err)
	}
	minV, maxV, err := t.versions()
	if err != nil {
		return nil, err
	}
	suites, err := cipherSuites(t.Ciphers)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: minV, MaxVersion: maxV, CipherSuites: suites}
	if t.CAPath != "" {
		caPEM, err := os.ReadFile(t.CAPath)
		if err != nil {
			return nil, fmt.Errorf("read ca_path: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("ca_path %s: no PEM certificate", t.CAPath)
		}
		tc.ClientCAs = pool
	}
	if t.ClientCertAuth {
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// decryptKey decrypts a legacy (RFC 1423) PEM-encrypted private key.
func decryptKey(keyPEM []byte, passphrase string) ([]byte, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("private_key_path: no PEM block")
	}
	//lint:ignore SA1019 legacy encrypted PEM is what Fluentd users have
	if !x509.IsEncryptedPEMBlock(block) { //nolint:staticcheck
		return keyPEM, nil
	}
	der, err := x509.DecryptPEMBlock(block, []byte(passphrase)) //nolint:staticcheck
	if err != nil {
		return nil, fmt.Errorf("private_key_passphrase: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der}), nil
}

// tlsVersions are Fluentd's version names, both spellings.
var tlsVersions = map[string]uint16{
	"TLS1_1": tls.VersionTLS11, "TLSv1_1": tls.VersionTLS11,
	"TLS1_2": tls.VersionTLS12, "TLSv1_2": tls.VersionTLS12,
	"TLS1_3": tls.VersionTLS13, "TLSv1_3": tls.VersionTLS13,
}

// versions returns the lowest and highest TLS versions accepted (0: Go's
// highest): version (TLS 1.2 by default), raised or set by min_version,
// capped by max_version. Below TLS 1.2 needs insecure, as in Fluentd.
func (t *TransportConfig) versions() (lo, hi uint16, err error) {
	lo = tls.VersionTLS12
	if v, ok := tlsVersions[t.Version]; ok {
		lo = v
	}
	if v, ok := tlsVersions[t.MinVersion]; ok {
		lo = v
	}
	if v, ok := tlsVersions[t.MaxVersion]; ok {
		hi = v
	}
	if lo < tls.VersionTLS12 && !t.Insecure {
		return 0, 0, errors.New("'version' TLS 1.1 is insecure: set 'insecure true' in <transport tls> to accept it")
	}
	if hi != 0 && hi < lo {
		return 0, 0, fmt.Errorf("'max_version' %s is below the lowest version accepted", t.MaxVersion)
	}
	return lo, hi, nil
}

// opensslCiphers maps OpenSSL's names of the TLS 1.2 suites Go has to Go's
// suites.
var opensslCiphers = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
}

// cipherSuites reads an OpenSSL cipher list (Fluentd's ciphers): nil when
// it names no suite (only keywords such as Fluentd's default
// "ALL:!aNULL:!eNULL:!SSLv2": Go's default set, which has no anonymous,
// null or SSLv2 suite), else the suites it names, by OpenSSL's or Go's
// name. An unknown name is an error listing what barge takes.
func cipherSuites(list string) ([]uint16, error) {
	goNames := map[string]uint16{}
	for _, s := range tls.CipherSuites() {
		goNames[s.Name] = s.ID
	}
	var out []uint16
	for _, item := range strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		if strings.ContainsAny(item[:1], "!-+@") || !strings.Contains(item, "-") && !strings.HasPrefix(item, "TLS_") {
			continue // a keyword or an exclusion: Go's defaults already exclude what they name
		}
		if id, ok := opensslCiphers[item]; ok {
			out = append(out, id)
			continue
		}
		if id, ok := goNames[item]; ok {
			out = append(out, id)
			continue
		}
		names := slices.Sorted(maps.Keys(opensslCiphers))
		return nil, fmt.Errorf("'ciphers': %q is not a TLS 1.2 cipher barge has (%s)", item, strings.Join(names, ", "))
	}
	return out, nil
}
