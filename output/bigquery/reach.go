package bigquery

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/storage"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"
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

// httpClient makes the HTTP client of a Google API client: credentials
// (unless none), then reachLog, then a plain transport.
func (l *Loader) httpClient(ctx context.Context, service string, what []any, auth bool, opts ...option.ClientOption) (*http.Client, func(), error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	var rt http.RoundTripper = &reachLog{base: base, log: l.log, service: service, what: what}
	if auth {
		var err error
		if rt, err = htransport.NewTransport(ctx, rt, opts...); err != nil {
			return nil, nil, fmt.Errorf("%s credentials: %w", strings.ToLower(service), err)
		}
	}
	return &http.Client{Transport: rt}, base.CloseIdleConnections, nil
}

// bigQueryOptions are the client options of the BigQuery client.
func (l *Loader) bigQueryOptions(ctx context.Context) ([]option.ClientOption, func(), error) {
	auth := !strings.HasPrefix(l.cfg.Endpoint, "http://")
	opts := []option.ClientOption{option.WithUserAgent("barge/" + l.version), option.WithScopes(bq.Scope, "https://www.googleapis.com/auth/cloud-platform")}
	if auth {
		o, err := l.credentials()
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, o...)
	}
	hc, closeIdle, err := l.httpClient(ctx, "BigQuery", []any{"table", l.cfg.Project + ":" + l.table}, auth, opts...)
	if err != nil {
		return nil, nil, err
	}
	// The credentials go along for project detection (project unset);
	// requests use the HTTP client.
	out := append(opts[2:len(opts):len(opts)], option.WithHTTPClient(hc))
	if l.cfg.Endpoint != "" {
		out = append(out, option.WithEndpoint(l.cfg.Endpoint))
	}
	return out, closeIdle, nil
}

// storageOptions are the client options of the GCS client.
func (l *Loader) storageOptions(ctx context.Context, emulator bool) ([]option.ClientOption, func(), error) {
	opts := []option.ClientOption{option.WithUserAgent("barge/" + l.version), option.WithScopes(storage.ScopeFullControl)}
	if !emulator {
		o, err := l.credentials()
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, o...)
	}
	what := []any{"bucket", l.bucket}
	if l.s3src {
		what = []any{"bucket", l.stageBucket}
	}
	hc, closeIdle, err := l.httpClient(ctx, "GCS", what, !emulator, opts...)
	if err != nil {
		return nil, nil, err
	}
	// JSON reads carry the generation that ledger writes are conditioned
	// on, on GCS and on emulators alike.
	return []option.ClientOption{option.WithHTTPClient(hc), storage.WithJSONReads()}, closeIdle, nil
}
