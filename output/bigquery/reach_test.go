package bigquery

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// reachLog logs the first failure of an outage once, what it was working
// on and the endpoint, and the recovery once.
func TestReachLogLogsTheFirstFailureOnce(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	var buf bytes.Buffer
	rl := &reachLog{base: http.DefaultTransport, log: slog.New(slog.NewTextHandler(&buf, nil)), service: "BigQuery", what: []any{"table", "p:d.t"}}
	c := &http.Client{Transport: rl}
	get := func(url string) {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
		}
	}
	for range 3 {
		get(srv.URL + "/projects/p/jobs")
	}
	fail.Store(false)
	get(srv.URL + "/projects/p/jobs")
	get(srv.URL + "/projects/p/jobs")
	out := buf.String()
	if n := strings.Count(out, `msg="BigQuery answers 503 Service Unavailable: the client retries until request_timeout"`); n != 1 {
		t.Fatalf("failure logged %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "endpoint="+srv.URL) || !strings.Contains(out, "table=p:d.t") {
		t.Fatalf("log lacks the endpoint or the table:\n%s", out)
	}
	if n := strings.Count(out, `msg="BigQuery reachable again"`); n != 1 {
		t.Fatalf("recovery logged %d times, want once:\n%s", n, out)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	buf.Reset()
	get(closed + "/x")
	if !strings.Contains(buf.String(), `msg="cannot reach BigQuery: the client retries until request_timeout"`) || !strings.Contains(buf.String(), "connection refused") {
		t.Fatalf("no connection is not logged as such:\n%s", buf.String())
	}
}
