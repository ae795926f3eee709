package forwarder

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	if c := DefaultConfig(); c.Validate() != nil {
		t.Fatalf("defaults: %v", c.Validate())
	}
	sec := func(f func(*SecurityConfig)) func(*Config) {
		return func(c *Config) {
			s := DefaultSecurityConfig()
			s.SelfHostname, s.SharedKey = "h", "k"
			f(&s)
			c.Security = &s
		}
	}
	cases := []struct {
		name string
		edit func(*Config)
		want string // prefix of the error; "" for valid
	}{
		{"port", func(c *Config) { c.Port = 70000 }, "'port'"},
		{"chunk_size_limit", func(c *Config) { c.ChunkSizeLimit = 10 }, "'chunk_size_limit'"},
		{"max_connections", func(c *Config) { c.MaxConnections = 0 }, "'max_connections'"},
		{"memory_limit", func(c *Config) { c.MemoryLimit = 2*c.ChunkSizeLimit - 1 }, "'memory_limit'"},
		{"memory_limit follows a larger chunk_size_limit", func(c *Config) { c.ChunkSizeLimit = 64 << 20 }, ""},
		{"memory_limit negative", func(c *Config) { c.MemoryLimit = -1 }, "'memory_limit'"},
		{"memory_limit at its least", func(c *Config) { c.ChunkSizeLimit, c.MemoryLimit = 64<<20, 128<<20 }, ""},
		{"add_tag_prefix", func(c *Config) { c.AddTagPrefix = "in.k8s" }, ""},
		{"add_tag_prefix control", func(c *Config) { c.AddTagPrefix = "in\n" }, "'add_tag_prefix'"},
		{"read_timeout", func(c *Config) { c.ReadTimeout = 0 }, "'read_timeout'"},
		{"security ok", sec(func(*SecurityConfig) {}), ""},
		{"self_hostname", sec(func(s *SecurityConfig) { s.SelfHostname = "" }), "'self_hostname'"},
		{"user_auth", sec(func(s *SecurityConfig) { s.UserAuth = true }), "'user_auth'"},
		{"anonymous", sec(func(s *SecurityConfig) { s.AllowAnonymousSource = false }), "'allow_anonymous_source'"},
		{"client both", sec(func(s *SecurityConfig) { s.Clients = []ClientConfig{{Host: "1.2.3.4", Network: "1.0.0.0/8"}} }), "'host'"},
		{"client network", sec(func(s *SecurityConfig) { s.Clients = []ClientConfig{{Network: "nope"}} }), "'network'"},
		{"tls paths", func(c *Config) { c.Transport = &TransportConfig{Protocol: "tls"} }, "'cert_path'"},
		{"tls ca", func(c *Config) {
			c.Transport = &TransportConfig{Protocol: "tls", CertPath: "a", PrivateKeyPath: "b", ClientCertAuth: true}
		}, "'ca_path'"},
		{"transport", func(c *Config) { c.Transport = &TransportConfig{Protocol: "udp"} }, "'transport'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Fatalf("error %v, want prefix %s", err, tc.want)
			}
		})
	}
	if _, err := NewServer(Config{}, newSink(), Options{}); err == nil {
		t.Fatal("NewServer accepted a zero Config")
	}
}
