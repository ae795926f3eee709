package bigquery

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const authorizedUser = `{"type":"authorized_user","client_id":"x","client_secret":"y","refresh_token":"z"}`

// keyLoader is a loader of a real project whose json_key is key: Open
// makes its clients, which dial nothing until a request.
func keyLoader(t *testing.T, key string, log *slog.Logger) *Loader {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Name, cfg.Project, cfg.Dataset, cfg.Table, cfg.Source = "bq", "proj", "logs", "events", "gs://archive/logs/"
	cfg.JSONKey = key
	cfg.RequestTimeout = 500 * time.Millisecond
	l, err := New(cfg, Options{Logger: log, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// The loader's clients take json_key with the gcs output's rules: an
// authorized_user key, as a file or as its JSON, is accepted.
func TestOpenAcceptsAnAuthorizedUserKey(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	path := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(path, []byte(authorizedUser), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{path, authorizedUser, " " + authorizedUser + "\n"} {
		l := keyLoader(t, key, nil)
		if err := l.Open(context.Background()); err != nil {
			t.Errorf("json_key %q: %v", key, err)
		}
		if l.gcs == nil || l.bq == nil {
			t.Errorf("json_key %q: no clients", key)
		}
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestOpenRefusesAnUnusableKey(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	dir := t.TempDir()
	apiKey := filepath.Join(dir, "api.json")
	if err := os.WriteFile(apiKey, []byte(`{"type":"api_key"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ key, want string }{
		{filepath.Join(dir, "missing.json"), "'json_key': open " + filepath.Join(dir, "missing.json")},
		{apiKey, `'json_key' "` + apiKey + `" has type "api_key", not service_account, authorized_user`},
		{`{"type": "api_key", "secret": "s3cr3t"}`, `'json_key' has type "api_key"`},
		{`{not json`, "'json_key' is not a credentials JSON file"},
	} {
		err := keyLoader(t, tc.key, nil).Open(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("json_key %q: err %v, want %q (and not the key)", tc.key, err, tc.want)
		}
	}
}

// Against an emulator the key is not read, and the GCS client's requests
// still go through reachLog and are retried only for request_timeout.
func TestStorageClientAgainstAnEmulator(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(srv.URL, "http://"))
	var (
		mu  sync.Mutex
		buf bytes.Buffer
	)
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil))
	l := keyLoader(t, filepath.Join(t.TempDir(), "missing.json"), log)
	l.cfg.Endpoint = srv.URL // plain http: no BigQuery credentials either
	if err := l.Open(context.Background()); err != nil {
		t.Fatalf("open against the emulator read json_key: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := l.gcs.Bucket("archive").Object("x").Attrs(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("attrs: %v (ctx %v), want the 503 once request_timeout is over", err, ctx.Err())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := buf.String(); !strings.Contains(got, "GCS answers 503 Service Unavailable") || !strings.Contains(got, "bucket=archive") {
		t.Errorf("reachLog did not log the outage:\n%s", got)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
