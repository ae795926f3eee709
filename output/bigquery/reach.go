package bigquery

import (
	"log/slog"
	"net/http"
	"sync"
)

// reachLog is the transport under the BigQuery and GCS clients. The
// clients retry a failed request (no connection, 5xx, 429) quietly until
// request_timeout; reachLog logs the first failure of each outage at once
// (no connection, or an answer of 5xx or 429),
// naming the endpoint and what the loader was working on, and the
// recovery when a request succeeds again.
type reachLog struct {
	base    http.RoundTripper
	log     *slog.Logger
	service string // "BigQuery", "GCS"
	what    []any  // attributes: the table, the bucket

	mu      sync.Mutex
	failing bool
}

func (r *reachLog) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	var problem, msg string
	switch {
	case err != nil && req.Context().Err() == nil:
		problem, msg = err.Error(), "cannot reach "+r.service+": the client retries until request_timeout"
	case err == nil && (resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests):
		problem, msg = resp.Status, r.service+" answers "+resp.Status+": the client retries until request_timeout"
	}
	endpoint := req.URL.Scheme + "://" + req.URL.Host
	r.mu.Lock()
	was := r.failing
	switch {
	case problem != "":
		r.failing = true
	case err == nil:
		r.failing = false
	}
	r.mu.Unlock()
	switch {
	case problem != "" && !was:
		attrs := append([]any{"endpoint", endpoint}, r.what...)
		attrs = append(attrs, "request", req.Method+" "+req.URL.Path, "err", problem)
		r.log.Warn(msg, attrs...)
	case problem == "" && err == nil && was:
		r.log.Info(r.service+" reachable again", append([]any{"endpoint", endpoint}, r.what...)...)
	}
	return resp, err
}
