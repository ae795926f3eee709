package forwarder

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/barge-dev/barge/buffer/event"
)

// Config is the <source> section of @type forward. Names and defaults are
// Fluentd's in_forward ones, except where noted.
type Config struct {
	Type string `conf:"@type"`
	ID   string `conf:"@id"`
	// Bind is the address to listen on (TCP, and UDP for heartbeats).
	Bind string `conf:"bind"`
	Port int    `conf:"port"`
	// ChunkSizeLimit bounds one message (and its decompressed payload, and
	// its entries once re-encoded). Fluentd's default is unlimited; barge's
	// is 32m so memory stays bounded.
	ChunkSizeLimit int64 `conf:"chunk_size_limit,size"`
	// ChunkSizeWarnLimit logs a warning for messages above it (0: off).
	ChunkSizeWarnLimit int64 `conf:"chunk_size_warn_limit,size"`
	// SkipInvalidEvent drops invalid entries (records nested deeper than
	// event.MaxDepth included) instead of rejecting the message.
	SkipInvalidEvent  bool   `conf:"skip_invalid_event"`
	SourceAddressKey  string `conf:"source_address_key"`
	SourceHostnameKey string `conf:"source_hostname_key"`
	// ResolveHostname is accepted for compatibility: as in Fluentd, the
	// peer's name is resolved (once per connection) whenever
	// source_hostname_key is set.
	ResolveHostname bool `conf:"resolve_hostname"`
	// LingerTimeout sets SO_LINGER on accepted connections. Unlike Fluentd
	// (whose 0 sends RST and may discard a final ack), 0 keeps the OS default.
	LingerTimeout time.Duration `conf:"linger_timeout"`
	// AddTagPrefix is prepended to every tag, with a dot. Tags are checked
	// with it (event.CheckTag: at most event.MaxTagLen bytes of UTF-8
	// without control characters); a message whose tag fails is refused and
	// its connection closed.
	AddTagPrefix string `conf:"add_tag_prefix"`
	// DenyKeepalive closes a connection after its first message.
	DenyKeepalive bool `conf:"deny_keepalive"`

	// MaxConnections is how many connections are served at once (barge
	// extension; default 1024). A new connection beyond it closes the one
	// idle the longest (between messages, or waiting for its handshake's
	// PING, never mid-message), and is refused only when none is idle; so
	// idle clients cannot lock new ones out.
	MaxConnections int `conf:"max_connections"`
	// IdleTimeout closes a connection silent between messages this long
	// (barge extension; default 10m).
	IdleTimeout time.Duration `conf:"idle_timeout"`
	// ReadTimeout bounds the time to receive one message once its first
	// byte arrived (waits for memory_limit included), and the TLS and
	// authentication handshakes (barge extension; default 60s).
	ReadTimeout time.Duration `conf:"read_timeout"`
	// MemoryLimit bounds the buffers all connections hold together beyond
	// 64 KiB each: frames being read, decompressed payloads, re-encoded
	// entries (barge extension). A connection needing more than is free
	// waits, not reading, until memory is given back (its read_timeout
	// still runs); clients sending small messages never wait. It must be at
	// least 2 x chunk_size_limit, so that a message as large as
	// chunk_size_limit fits, decompressed. 0 (the default) means 64m, or 2 x
	// chunk_size_limit when that is larger, so a config that raises
	// chunk_size_limit alone stays valid.
	MemoryLimit int64 `conf:"memory_limit,size"`

	Security  *SecurityConfig  `conf:"<security>"`
	Transport *TransportConfig `conf:"<transport>"`
}

// SecurityConfig is the <security> section: the shared-key handshake.
type SecurityConfig struct {
	SelfHostname         string         `conf:"self_hostname" required:"true"`
	SharedKey            string         `conf:"shared_key" required:"true"`
	UserAuth             bool           `conf:"user_auth"`
	AllowAnonymousSource bool           `conf:"allow_anonymous_source" default:"true"`
	Users                []UserConfig   `conf:"<user>"`
	Clients              []ClientConfig `conf:"<client>"`
}

// UserConfig is a <user> section.
type UserConfig struct {
	Username string `conf:"username" required:"true"`
	Password string `conf:"password" required:"true"`
}

// ClientConfig is a <client> section: which peers may connect, with an
// optional per-client shared key and user list.
type ClientConfig struct {
	Host      string   `conf:"host"`
	Network   string   `conf:"network"`
	SharedKey string   `conf:"shared_key"`
	Users     []string `conf:"users"`
}

// TransportConfig is the <transport tls> section.
type TransportConfig struct {
	Protocol       string `conf:",arg"` // "tls" (or "tcp": no TLS)
	CertPath       string `conf:"cert_path"`
	PrivateKeyPath string `conf:"private_key_path"`
	// PrivateKeyPassphrase decrypts a legacy PEM-encrypted key.
	PrivateKeyPassphrase string `conf:"private_key_passphrase"`
	ClientCertAuth       bool   `conf:"client_cert_auth"`
	CAPath               string `conf:"ca_path"`
	// Version is Fluentd's version: the lowest TLS version accepted
	// (TLSv1_2 by default); MinVersion and MaxVersion, when set, bound it.
	// Fluentd's names TLSv1_2 and TLS1_2 are the same. TLS 1.1 needs
	// Insecure, as in Fluentd.
	Version    string `conf:"version" enum:"TLS1_1,TLS1_2,TLS1_3,TLSv1_1,TLSv1_2,TLSv1_3"`
	MinVersion string `conf:"min_version" enum:"TLS1_1,TLS1_2,TLS1_3,TLSv1_1,TLSv1_2,TLSv1_3"`
	MaxVersion string `conf:"max_version" enum:"TLS1_1,TLS1_2,TLS1_3,TLSv1_1,TLSv1_2,TLSv1_3"`
	// Ciphers is an OpenSSL cipher list: its cipher names restrict the TLS
	// 1.2 suites (Go's names for them are accepted too); OpenSSL's
	// keywords (ALL, HIGH, DEFAULT, !aNULL...) keep Go's secure default
	// set. TLS 1.3 suites are not configurable.
	Ciphers  string `conf:"ciphers"`
	Insecure bool   `conf:"insecure"`
}

// memoryLimit is memory_limit with its default resolved.
func (c *Config) memoryLimit() int64 {
	if c.MemoryLimit > 0 {
		return c.MemoryLimit
	}
	return max(64<<20, 2*c.ChunkSizeLimit)
}

// DefaultConfig returns in_forward's defaults plus barge's limits.
func DefaultConfig() Config {
	return Config{
		Type:           "forward",
		Bind:           "0.0.0.0",
		Port:           24224,
		ChunkSizeLimit: 32 << 20,
		MaxConnections: 1024,
		IdleTimeout:    10 * time.Minute,
		ReadTimeout:    60 * time.Second,
	}
}

// DefaultSecurityConfig returns <security>'s defaults.
func DefaultSecurityConfig() SecurityConfig {
	return SecurityConfig{AllowAnonymousSource: true}
}

// Validate checks cross-field rules. Messages start with the quoted key.
func (c *Config) Validate() error {
	var errs []error
	if c.Bind == "" || net.ParseIP(c.Bind) == nil && strings.ContainsAny(c.Bind, " /") {
		errs = append(errs, fmt.Errorf("'bind' %q is not an address", c.Bind))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("'port' %d is out of range 0..65535", c.Port))
	}
	if c.ChunkSizeLimit < 1024 {
		errs = append(errs, fmt.Errorf("'chunk_size_limit' %d is below 1024 bytes", c.ChunkSizeLimit))
	}
	if c.ChunkSizeLimit > 1<<30 {
		errs = append(errs, fmt.Errorf("'chunk_size_limit' %d is above 1g", c.ChunkSizeLimit))
	}
	if c.MemoryLimit < 0 || c.MemoryLimit > 0 && c.MemoryLimit < 2*c.ChunkSizeLimit {
		errs = append(errs, fmt.Errorf("'memory_limit' %d must be at least 2 x chunk_size_limit (%d)", c.MemoryLimit, 2*c.ChunkSizeLimit))
	}
	if c.AddTagPrefix != "" {
		if err := event.CheckTag(c.AddTagPrefix); err != nil {
			errs = append(errs, fmt.Errorf("'add_tag_prefix' %q: %w", c.AddTagPrefix, err))
		}
	}
	if c.ChunkSizeWarnLimit < 0 {
		errs = append(errs, errors.New("'chunk_size_warn_limit' must not be negative"))
	}
	if c.MaxConnections < 1 {
		errs = append(errs, fmt.Errorf("'max_connections' %d must be at least 1", c.MaxConnections))
	}
	if c.IdleTimeout <= 0 {
		errs = append(errs, errors.New("'idle_timeout' must be positive"))
	}
	if c.ReadTimeout <= 0 {
		errs = append(errs, errors.New("'read_timeout' must be positive"))
	}
	if c.LingerTimeout < 0 {
		errs = append(errs, errors.New("'linger_timeout' must not be negative"))
	}
	if s := c.Security; s != nil {
		if s.SelfHostname == "" {
			errs = append(errs, errors.New("'self_hostname' is required in <security>"))
		}
		if s.UserAuth && len(s.Users) == 0 {
			errs = append(errs, errors.New("'user_auth' needs at least one <user> section"))
		}
		if !s.AllowAnonymousSource && len(s.Clients) == 0 {
			errs = append(errs, errors.New("'allow_anonymous_source' false needs at least one <client> section"))
		}
		for _, cl := range s.Clients {
			if _, err := cl.prefix(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if t := c.Transport; t != nil {
		switch t.Protocol {
		case "tls":
			if t.CertPath == "" || t.PrivateKeyPath == "" {
				errs = append(errs, errors.New("'cert_path' and 'private_key_path' are required in <transport tls>"))
			}
			if t.ClientCertAuth && t.CAPath == "" {
				errs = append(errs, errors.New("'ca_path' is required with client_cert_auth"))
			}
			if _, _, err := t.versions(); err != nil {
				errs = append(errs, err)
			}
			if _, err := cipherSuites(t.Ciphers); err != nil {
				errs = append(errs, err)
			}
		case "tcp", "":
		default:
			errs = append(errs, fmt.Errorf("'transport' %q is not one of tls, tcp", t.Protocol))
		}
	}
	return errors.Join(errs...)
}

// prefix returns the network a <client> section allows.
func (cl ClientConfig) prefix() (*net.IPNet, error) {
	switch {
	case cl.Host != "" && cl.Network != "":
		return nil, errors.New("'host' and 'network' are both set in <client>")
	case cl.Network != "":
		_, n, err := net.ParseCIDR(cl.Network)
		if err != nil {
			return nil, fmt.Errorf("'network' %q is not a CIDR network", cl.Network)
		}
		return n, nil
	case cl.Host != "":
		ip := net.ParseIP(cl.Host)
		if ip == nil {
			return nil, fmt.Errorf("'host' %q must be an IP address", cl.Host)
		}
		bits := 8 * len(ip.To16())
		if ip4 := ip.To4(); ip4 != nil {
			ip, bits = ip4, 32
		}
		return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
	}
	return nil, errors.New("'host' or 'network' is required in <client>")
}
