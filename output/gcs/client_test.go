package gcs

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const authorizedUser = `{"type":"authorized_user","client_id":"x","client_secret":"y","refresh_token":"z"}`

// writeKey writes a credentials file and returns its path.
func writeKey(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The output's client takes an authorized_user keyfile; making the client
// dials nothing (the token is fetched with the first request).
func TestOutputClientAcceptsAnAuthorizedUserKeyfile(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	o := newOutput(t, func(c *Config) { c.Keyfile = writeKey(t, authorizedUser) })
	opts, err := o.clientOptions()
	if err != nil || len(opts) != 2 {
		t.Fatalf("%d options, %v; want the user agent and the key", len(opts), err)
	}
	c, err := o.storageClient(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c == nil {
		t.Fatal("no client")
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCredentials(t *testing.T) {
	for _, typ := range []string{"service_account", "authorized_user", "impersonated_service_account", "external_account"} {
		key := `{"type":"` + typ + `"}`
		for _, cfg := range []ClientConfig{{Keyfile: writeKey(t, key)}, {KeyJSON: []byte(key), Param: "json_key"}} {
			if opts, err := Credentials(cfg); err != nil || len(opts) != 1 {
				t.Errorf("%s (%+v): %d options, %v", typ, cfg, len(opts), err)
			}
		}
	}
	if opts, err := Credentials(ClientConfig{}); err != nil || opts != nil {
		t.Errorf("no key: %v, %v; want Application Default Credentials", opts, err)
	}
	missing := filepath.Join(t.TempDir(), "missing.json")
	apiKey := writeKey(t, `{"type":"api_key"}`)
	for _, tc := range []struct {
		cfg  ClientConfig
		want string
	}{
		{ClientConfig{Keyfile: missing}, "'keyfile': open " + missing},
		{ClientConfig{Keyfile: apiKey}, `'keyfile' "` + apiKey + `" has type "api_key", not service_account, authorized_user, impersonated_service_account or external_account`},
		{ClientConfig{Keyfile: writeKey(t, "not json")}, "is not a credentials JSON file"},
		{ClientConfig{KeyJSON: []byte(`{"type":"api_key","key":"s3cr3t"}`), Param: "json_key"}, `'json_key' has type "api_key"`},
	} {
		_, err := Credentials(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%+v: err %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

type countingTransport struct{ n int }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n++
	return nil, errors.New("no network in this test")
}

func TestClientOptions(t *testing.T) {
	key := writeKey(t, authorizedUser)
	ctx := context.Background()
	t.Run("emulator", func(t *testing.T) {
		t.Setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:1")
		// The key is not read against an emulator.
		cfg := ClientConfig{Keyfile: filepath.Join(t.TempDir(), "missing.json"), UserAgent: "barge/test"}
		if opts, err := ClientOptions(ctx, cfg); err != nil || len(opts) != 2 {
			t.Errorf("%d options, %v; want the user agent and no authentication", len(opts), err)
		}
		cfg.Transport = &countingTransport{}
		if opts, err := ClientOptions(ctx, cfg); err != nil || len(opts) != 1 {
			t.Errorf("with a transport: %d options, %v; want one HTTP client", len(opts), err)
		}
	})
	t.Run("key", func(t *testing.T) {
		t.Setenv("STORAGE_EMULATOR_HOST", "")
		tr := &countingTransport{}
		cfg := ClientConfig{Keyfile: key, UserAgent: "barge/test", Scopes: []string{"https://www.googleapis.com/auth/devstorage.full_control"}, Transport: tr}
		c, err := NewClient(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if tr.n != 0 {
			t.Errorf("making the client sent %d requests", tr.n)
		}
		cfg.Keyfile = writeKey(t, `{"type":"api_key"}`)
		if _, err := NewClient(ctx, cfg); err == nil || !strings.Contains(err.Error(), "'keyfile'") {
			t.Errorf("api_key: %v", err)
		}
	})
}
