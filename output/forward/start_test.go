package forward

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/barge-dev/barge/forwarder"
)

// TestVerifyConnectionAtStartup shows Start connecting to every server,
// with the <security> handshake, and naming each one that fails; with
// ignore_network_errors_at_startup the failures are warnings.
func TestVerifyConnectionAtStartup(t *testing.T) {
	secure := func(c *forwarder.Config) {
		c.Security = &forwarder.SecurityConfig{SelfHostname: "receiver", SharedKey: "k", AllowAnonymousSource: true}
	}
	_, good, _ := startKillable(t, "127.0.0.1", 0, secure, newSink())
	_, wrongKey, _ := startKillable(t, "127.0.0.1", 0, secure, newSink())
	dead := refusedPort(t)
	for _, tt := range []struct {
		name    string
		verify  bool
		ignore  bool
		servers []int
		fail    []int // servers named in the error
	}{
		{"all up", true, false, []int{good}, nil},
		{"dead and wrong key", true, false, []int{good, dead, wrongKey}, []int{dead, wrongKey}},
		{"ignored", true, true, []int{good, dead, wrongKey}, nil},
		{"not verified", false, false, []int{good, dead}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			o := newOutput(t, func(c *Config) {
				c.Servers = nil
				for _, p := range tt.servers {
					s := server(p)
					if p == wrongKey {
						s.SharedKey = "wrong"
					}
					c.Servers = append(c.Servers, s)
				}
				c.Security = &SecurityConfig{SelfHostname: "sender", SharedKey: "k"}
				c.VerifyConnectionAtStartup = tt.verify
				c.IgnoreNetworkErrorsAtStartup = tt.ignore
				c.HeartbeatType = "none"
			}, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			err := o.Start(context.Background())
			if len(tt.fail) == 0 {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				if err == nil {
					t.Fatal("Start succeeded")
				}
				for _, p := range tt.fail {
					if !strings.Contains(err.Error(), "server 127.0.0.1:"+itoa(p)) {
						t.Errorf("err = %v, want it naming 127.0.0.1:%d", err, p)
					}
				}
				if strings.Contains(err.Error(), "127.0.0.1:"+itoa(good)) {
					t.Errorf("err = %v names the good server", err)
				}
				if !errors.Is(err, errAuth) {
					t.Errorf("err = %v, want the wrong key's authentication failure", err)
				}
			}
			if tt.ignore && strings.Count(logs.String(), "server unreachable at startup") != 2 {
				t.Errorf("logs %q, want two warnings", logs.String())
			}
		})
	}
}
