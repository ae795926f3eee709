package forwarder

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
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
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.MinVersion == "TLS1_3" {
		tc.MinVersion = tls.VersionTLS13
	}
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
