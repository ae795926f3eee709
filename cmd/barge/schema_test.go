package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/barge-dev/barge/output/bigquery"
)

// An authorized_user keyfile, which the gcs output takes, is taken by
// barge schema infer and by a loader too: one set of credential rules.
// Making the clients dials nothing.
func TestAuthorizedUserKeyfile(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	key := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(key, []byte(`{"type":"authorized_user","client_id":"x","client_secret":"y","refresh_token":"z"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := inferClient(context.Background(), key)
	if err != nil {
		t.Fatalf("schema infer: %v", err)
	}
	c.Close()

	cfg := bigquery.DefaultConfig()
	cfg.Name, cfg.Project, cfg.Dataset, cfg.Table, cfg.Source, cfg.JSONKey = "bq", "proj", "logs", "events", "gs://archive/logs/", key
	l, err := bigquery.New(cfg, bigquery.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Open(context.Background()); err != nil {
		t.Fatalf("loader: %v", err)
	}
}
