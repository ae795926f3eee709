package forward

import (
	"io"
	"strings"
	"testing"

	"github.com/barge-dev/barge/buffer/event"
)

func TestValidate(t *testing.T) {
	good := func() Config {
		c := DefaultConfig()
		c.Servers = []ServerConfig{DefaultServerConfig("10.0.0.1")}
		return c
	}
	for _, tt := range []struct {
		name string
		mod  func(*Config)
		want string // "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"no server", func(c *Config) { c.Servers = nil }, "at least one <server>"},
		{"no host", func(c *Config) { c.Servers[0].Host = "" }, "'host' is required in <server> 1"},
		{"bad port", func(c *Config) { c.Servers[0].Port = 70000 }, "'port' 70000 is out of range"},
		{"negative weight", func(c *Config) { c.Servers[0].Weight = -1 }, "'weight' -1 must not be negative"},
		{"only standby", func(c *Config) { c.Servers[0].Standby = true }, "neither 'standby' nor of 'weight' 0"},
		{"udp", func(c *Config) { c.HeartbeatType = "udp" }, ""},
		{"udp with dns_round_robin", func(c *Config) { c.HeartbeatType, c.DNSRoundRobin = "udp", true }, "'heartbeat_type' udp is not available with 'dns_round_robin'"},
		{"heartbeat type", func(c *Config) { c.HeartbeatType = "tcp" }, "must be one of transport, udp, none"},
		{"heartbeat_interval", func(c *Config) { c.HeartbeatInterval = 0 }, "'heartbeat_interval' must be positive"},
		{"heartbeat_interval none", func(c *Config) { c.HeartbeatType, c.HeartbeatInterval = "none", 0 }, ""},
		{"phi_threshold", func(c *Config) { c.PhiThreshold = 0 }, "'phi_threshold' 0 must be positive"},
		{"compress", func(c *Config) { c.Compress = "lz4" }, "'compress' \"lz4\" must be one of text, gzip, zstd"},
		{"send_chunk_size", func(c *Config) { c.SendChunkSize = 10 }, "'send_chunk_size' 10 is below"},
		{"send_timeout", func(c *Config) { c.SendTimeout = 0 }, "'send_timeout' must be positive"},
		{"ack timeout", func(c *Config) { c.AckResponseTimeout = 0 }, "'ack_response_timeout' must be positive"},
		{"user without security", func(c *Config) { c.Servers[0].Username, c.Servers[0].Password = "u", "p" }, "'username' in <server> 1 needs a <security> section"},
		{"user without password", func(c *Config) {
			c.Security = &SecurityConfig{SelfHostname: "h", SharedKey: "k"}
			c.Servers[0].Username = "u"
		}, "'username' and 'password' go together"},
		{"security without key", func(c *Config) { c.Security = &SecurityConfig{SelfHostname: "h"} }, "'shared_key' is required"},
		{"security with server key", func(c *Config) {
			c.Security = &SecurityConfig{SelfHostname: "h"}
			c.Servers[0].SharedKey = "k"
		}, ""},
		{"tls files without tls", func(c *Config) { c.TLSCertPath = []string{"ca.pem"} }, "need 'transport' tls"},
		{"tls client cert alone", func(c *Config) { c.Transport = "tls"; c.TLSClientCertPath = "c.pem" }, "go together"},
		{"transport", func(c *Config) { c.Transport = "quic" }, "'transport' \"quic\" must be one of tcp, tls"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.mod(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestNewReadsTLSFiles(t *testing.T) {
	c := DefaultConfig()
	c.Servers = []ServerConfig{DefaultServerConfig("h")}
	c.Transport = "tls"
	c.TLSCertPath = []string{t.TempDir() + "/missing.pem"}
	if _, err := New(c, Options{}); err == nil || !strings.Contains(err.Error(), "tls_cert_path") {
		t.Fatalf("err = %v, want one naming tls_cert_path", err)
	}
}

// frameList serves (tag, entries) frames.
type frameList []frame

func (f *frameList) Next() (string, []byte, error) {
	if len(*f) == 0 {
		return "", nil, io.EOF
	}
	x := (*f)[0]
	*f = (*f)[1:]
	return x.tag, x.entries, nil
}

// TestSplitter: parts end at a tag change and before send_chunk_size; an
// entry larger than that is a part of its own; frames of one tag are joined.
func TestSplitter(t *testing.T) {
	big := event.AppendEntry(nil, event.AppendEventTime(nil, baseSec, 0),
		append([]byte{0x81, 0xa1, 'b', 0xc5, 0x08, 0x00}, make([]byte, 2048)...))
	fl := frameList{{"a", entries(0, 10, false)}, {"a", entries(10, 10, false)}, {"b", entries(0, 3, false)}, {"b", big}, {"b", entries(3, 1, false)}}
	sp := &splitter{r: &fl, limit: 1024}
	type part struct {
		tag     string
		records int
	}
	var got []part
	for {
		tag, e, n, err := sp.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(e) > 1024 && n > 1 {
			t.Errorf("part of %d records holds %d bytes", n, len(e))
		}
		if c, _, _, _ := event.Count(e); c != n {
			t.Errorf("part says %d records, holds %d", n, c)
		}
		got = append(got, part{tag, n})
	}
	want := []part{{"a", 20}, {"b", 3}, {"b", 1}, {"b", 1}}
	if len(got) != len(want) {
		t.Fatalf("parts %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("parts %v, want %v", got, want)
		}
	}
}
