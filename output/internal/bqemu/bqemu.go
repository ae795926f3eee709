package bqemu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"

	"github.com/barge-dev/barge/output/internal/testproc"
)

// readyTimeout bounds the wait for the emulator's REST port to answer.
const readyTimeout = 60 * time.Second

// Options configure an emulator.
type Options struct {
	// Project is the project the emulator serves; "test" if empty.
	Project string
	// StorageEmulatorHost is fake-gcs-server's base URL,
	// "http://127.0.0.1:PORT" (scheme included, unlike what the Go storage
	// client takes), given to the emulator as STORAGE_EMULATOR_HOST so
	// that load jobs read their gs:// URIs from it. Empty: no GCS.
	StorageEmulatorHost string
}

// Emulator is a running BigQuery emulator.
type Emulator struct {
	URL     string // http://127.0.0.1:PORT, for option.WithEndpoint
	Project string

	tr *http.Transport
}

// Start starts an in-memory emulator for the test and stops it in
// t.Cleanup. Its output goes to a file in t.TempDir() that is logged if
// the test fails.
func Start(t testing.TB, opts Options) *Emulator {
	t.Helper()
	bin := Binary(t)
	e := &Emulator{Project: opts.Project}
	if e.Project == "" {
		e.Project = "test"
	}
	e.tr = http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(e.tr.CloseIdleConnections)
	var lastErr error
	for range 3 { // a port taken between picking and binding gets a second chance
		err := e.start(t, bin, opts.StorageEmulatorHost)
		if err == nil {
			return e
		}
		lastErr = err
	}
	t.Fatalf("bqemu: %v", lastErr)
	return nil
}

func (e *Emulator) start(t testing.TB, bin, gcsHost string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	grpcPort, err := freePort()
	if err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "bigquery-emulator.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin,
		"--project", e.Project,
		"--host", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--grpc-port", strconv.Itoa(grpcPort),
		"--log-level", "info",
	)
	// The emulator's GCS client uses Application Default Credentials unless
	// STORAGE_EMULATOR_HOST is set: never let it reach for real ones.
	cmd.Env = append(os.Environ(), "GOOGLE_APPLICATION_CREDENTIALS=", "STORAGE_EMULATOR_HOST="+gcsHost)
	cmd.Stdout, cmd.Stderr = logf, logf
	exited, stop, err := testproc.Start(cmd)
	if err != nil {
		return err
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := e.waitReady(url, exited); err != nil {
		stop()
		out, _ := os.ReadFile(logf.Name())
		return fmt.Errorf("%w; emulator log:\n%s", err, tail(out, buildTail))
	}
	e.URL = url
	logName := logf.Name()
	t.Cleanup(func() { // runs after stop, so the log is complete
		if t.Failed() {
			out, _ := os.ReadFile(logName)
			t.Logf("bqemu: emulator log %s:\n%s", logName, tail(out, buildTail))
		}
	})
	t.Cleanup(stop)
	return nil
}

// waitReady polls the emulator's datasets.list for its project until it
// answers 200, the process exits or readyTimeout passes.
func (e *Emulator) waitReady(url string, exited <-chan struct{}) error {
	client := &http.Client{Transport: e.tr, Timeout: 2 * time.Second}
	probe := url + "/bigquery/v2/projects/" + e.Project + "/datasets"
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	backoff := 10 * time.Millisecond
	for {
		resp, err := client.Get(probe)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("emulator exited before it was ready")
		case <-deadline.C:
			return fmt.Errorf("emulator not ready after %v", readyTimeout)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Client returns a BigQuery client for the emulator's project, without
// authentication, closed when the test ends. Put a deadline on every call:
// the emulator answers some errors with HTTP 500, which the client retries
// until its context ends.
func (e *Emulator) Client(t testing.TB) *bigquery.Client {
	t.Helper()
	c, err := bigquery.NewClient(context.Background(), e.Project,
		option.WithEndpoint(e.URL),
		option.WithoutAuthentication(),
		option.WithHTTPClient(&http.Client{Transport: e.tr}),
	)
	if err != nil {
		t.Fatalf("bqemu: new client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
