package forward

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Config is the configuration of @type forward (output). Names and defaults
// are Fluentd out_forward's, except send_chunk_size (barge's own).
type Config struct {
	Type    string         `conf:"@type"`
	Servers []ServerConfig `conf:"<server>"`

	// SendTimeout bounds each write to a server (60s).
	SendTimeout time.Duration `conf:"send_timeout"`
	// ConnectTimeout bounds the connection: dial, TLS and the <security>
	// handshake (0: send_timeout).
	ConnectTimeout time.Duration `conf:"connect_timeout"`
	// HardTimeout marks a server down when it answered no heartbeat for
	// that long (60s; 0: off).
	HardTimeout time.Duration `conf:"hard_timeout"`
	// HeartbeatType is transport (default: a TCP connect each
	// heartbeat_interval), udp (a UDP packet to host:port, answered by the
	// receiver) or none (no heartbeats; servers are never marked down).
	// With transport and udp a failed connect, send or ack also marks the
	// server down for recover_wait. Heartbeats run only after Start.
	HeartbeatType string `conf:"heartbeat_type" enum:"transport,udp,none"`
	// HeartbeatInterval is the time between heartbeats (1s).
	HeartbeatInterval time.Duration `conf:"heartbeat_interval"`
	// RecoverWait is how long a server marked down by a failed send is
	// left out (10s); a server marked down by heartbeats comes back after
	// recover_wait/heartbeat_interval heartbeats in a row (as Fluentd).
	RecoverWait time.Duration `conf:"recover_wait"`
	// PhiFailureDetector marks a server down when the phi accrual failure
	// detector over its heartbeats' arrival intervals exceeds PhiThreshold
	// (true, 16).
	PhiFailureDetector bool `conf:"phi_failure_detector"`
	PhiThreshold       int  `conf:"phi_threshold"`

	// VerifyConnectionAtStartup makes Start connect to every server (TLS
	// and <security> handshake included) and fail naming those it could
	// not reach. IgnoreNetworkErrorsAtStartup logs those failures (and DNS
	// failures at Start) as warnings instead.
	VerifyConnectionAtStartup    bool `conf:"verify_connection_at_startup"`
	IgnoreNetworkErrorsAtStartup bool `conf:"ignore_network_errors_at_startup"`
	// DNSRoundRobin resolves each server's host to all its addresses and
	// connects to them in turn. ExpireDNSCache is how long a resolution is
	// kept: 0 resolves at every connection, negative (the default, as
	// Fluentd's unset) keeps it until a connect to the address fails.
	// Without dns_round_robin the host is resolved at each connection.
	DNSRoundRobin  bool          `conf:"dns_round_robin"`
	ExpireDNSCache time.Duration `conf:"expire_dns_cache"`

	RequireAckResponse bool `conf:"require_ack_response"`
	// AckResponseTimeout is how long to wait for each message's ack (190s).
	AckResponseTimeout time.Duration `conf:"ack_response_timeout"`
	// Compress is text (default), gzip (CompressedPackedForward) or zstd
	// (as Fluentd 1.19 sends it, outside the v1 spec).
	Compress      string `conf:"compress" enum:"text,gzip,zstd"`
	TimeAsInteger bool   `conf:"time_as_integer"`
	// Keepalive reuses connections between flushes; KeepaliveTimeout closes
	// one idle longer than that instead (0: no limit).
	Keepalive        bool          `conf:"keepalive"`
	KeepaliveTimeout time.Duration `conf:"keepalive_timeout"`
	// SendChunkSize is the most bytes of entries in one message (barge's
	// own; 8m). A larger chunk is sent as several messages.
	SendChunkSize int64 `conf:"send_chunk_size,size"`

	// Transport is tcp (default) or tls, with the tls_* parameters below
	// (Fluentd out_forward's top-level names).
	Transport               string   `conf:"transport" enum:"tcp,tls"`
	TLSCertPath             []string `conf:"tls_cert_path"` // CA certificates (PEM); none: the system's
	TLSClientCertPath       string   `conf:"tls_client_cert_path"`
	TLSClientPrivateKeyPath string   `conf:"tls_client_private_key_path"`
	TLSVerifyHostname       bool     `conf:"tls_verify_hostname"`
	TLSInsecureMode         bool     `conf:"tls_insecure_mode"`
	TLSVersion              string   `conf:"tls_version" enum:"TLSv1_2,TLSv1_3"`

	Security *SecurityConfig `conf:"<security>"`
}

// ServerConfig is a <server> section.
type ServerConfig struct {
	Host string `conf:"host" required:"true"`
	Port int    `conf:"port" default:"24224"`
	// Name is the server's name in logs and stats (default host:port).
	Name      string `conf:"name"`
	Weight    int    `conf:"weight" default:"60"`
	Standby   bool   `conf:"standby"`
	SharedKey string `conf:"shared_key"` // overrides <security> shared_key
	Username  string `conf:"username"`
	Password  string `conf:"password"`
}

// SecurityConfig is the client's <security> section.
type SecurityConfig struct {
	SelfHostname string `conf:"self_hostname" required:"true"`
	SharedKey    string `conf:"shared_key" required:"true"`
}

// DefaultConfig returns out_forward's defaults, with no server.
func DefaultConfig() Config {
	return Config{
		Type:               "forward",
		SendTimeout:        60 * time.Second,
		HardTimeout:        60 * time.Second,
		HeartbeatType:      "transport",
		HeartbeatInterval:  time.Second,
		RecoverWait:        10 * time.Second,
		PhiFailureDetector: true,
		PhiThreshold:       16,
		ExpireDNSCache:     -1,
		AckResponseTimeout: 190 * time.Second,
		Compress:           "text",
		SendChunkSize:      256 << 10,
		Transport:          "tcp",
		TLSVerifyHostname:  true,
		TLSVersion:         "TLSv1_2",
	}
}

// DefaultServerConfig returns a <server>'s defaults for host.
func DefaultServerConfig(host string) ServerConfig {
	return ServerConfig{Host: host, Port: 24224, Weight: 60}
}

// addr is host:port.
func (s *ServerConfig) addr() string {
	if strings.Contains(s.Host, ":") && !strings.HasPrefix(s.Host, "[") {
		return fmt.Sprintf("[%s]:%d", s.Host, s.Port)
	}
	return fmt.Sprintf("%s:%d", s.Host, s.Port)
}

// Validate checks the configuration. Messages start with the quoted key.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Servers) == 0 {
		errs = append(errs, errors.New("at least one <server> is required"))
	}
	regular := 0
	for i, s := range c.Servers {
		at := fmt.Sprintf("<server> %d", i+1)
		if s.Host == "" {
			errs = append(errs, fmt.Errorf("'host' is required in %s", at))
		}
		if s.Port < 1 || s.Port > 65535 {
			errs = append(errs, fmt.Errorf("'port' %d is out of range 1..65535 in %s", s.Port, at))
		}
		if s.Weight < 0 {
			errs = append(errs, fmt.Errorf("'weight' %d must not be negative in %s", s.Weight, at))
		}
		if !s.Standby && s.Weight > 0 {
			regular++
		}
		if s.Username != "" && c.Security == nil {
			errs = append(errs, fmt.Errorf("'username' in %s needs a <security> section", at))
		}
		if (s.Username == "") != (s.Password == "") {
			errs = append(errs, fmt.Errorf("'username' and 'password' go together in %s", at))
		}
	}
	if len(c.Servers) > 0 && regular == 0 {
		errs = append(errs, errors.New("at least one <server> must be neither 'standby' nor of 'weight' 0"))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"send_timeout", c.SendTimeout}, {"recover_wait", c.RecoverWait}, {"ack_response_timeout", c.AckResponseTimeout}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("'%s' must be positive", d.key))
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"connect_timeout", c.ConnectTimeout}, {"hard_timeout", c.HardTimeout}, {"heartbeat_interval", c.HeartbeatInterval}, {"keepalive_timeout", c.KeepaliveTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("'%s' must not be negative", d.key))
		}
	}
	switch c.HeartbeatType {
	case "transport", "none":
	case "udp":
		if c.DNSRoundRobin {
			errs = append(errs, errors.New("'heartbeat_type' udp is not available with 'dns_round_robin': use transport or none"))
		}
	default:
		errs = append(errs, fmt.Errorf("'heartbeat_type' %q must be one of transport, udp, none", c.HeartbeatType))
	}
	if c.HeartbeatType != "none" && c.HeartbeatInterval <= 0 {
		errs = append(errs, errors.New("'heartbeat_interval' must be positive"))
	}
	if c.PhiFailureDetector && c.PhiThreshold <= 0 {
		errs = append(errs, fmt.Errorf("'phi_threshold' %d must be positive", c.PhiThreshold))
	}
	switch c.Compress {
	case "text", "gzip", "zstd":
	default:
		errs = append(errs, fmt.Errorf("'compress' %q must be one of text, gzip, zstd", c.Compress))
	}
	if c.SendChunkSize < 1024 {
		errs = append(errs, fmt.Errorf("'send_chunk_size' %d is below 1024 bytes", c.SendChunkSize))
	}
	switch c.Transport {
	case "tcp", "":
		if len(c.TLSCertPath) > 0 || c.TLSClientCertPath != "" {
			errs = append(errs, errors.New("'tls_cert_path' and 'tls_client_cert_path' need 'transport' tls"))
		}
	case "tls":
		if (c.TLSClientCertPath == "") != (c.TLSClientPrivateKeyPath == "") {
			errs = append(errs, errors.New("'tls_client_cert_path' and 'tls_client_private_key_path' go together"))
		}
		switch c.TLSVersion {
		case "", "TLSv1_2", "TLSv1_3":
		default:
			errs = append(errs, fmt.Errorf("'tls_version' %q must be one of TLSv1_2, TLSv1_3", c.TLSVersion))
		}
	default:
		errs = append(errs, fmt.Errorf("'transport' %q must be one of tcp, tls", c.Transport))
	}
	if s := c.Security; s != nil {
		if s.SelfHostname == "" {
			errs = append(errs, errors.New("'self_hostname' is required in <security>"))
		}
		if s.SharedKey == "" {
			for i, sv := range c.Servers {
				if sv.SharedKey == "" {
					errs = append(errs, fmt.Errorf("'shared_key' is required in <security> or in <server> %d", i+1))
				}
			}
		}
	}
	return errors.Join(errs...)
}
