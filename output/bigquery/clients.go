package bigquery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/storage"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"

	"github.com/barge-dev/barge/output/bigquery/bqschema"
	"github.com/barge-dev/barge/output/gcs"
	s3out "github.com/barge-dev/barge/output/s3"
)

// The clients of a loader: GCS (the source, or the staging bucket of an S3
// source, and the ledger), BigQuery, and S3 for an S3 source. Each
// request goes through reachLog (reach.go), which logs outages.

// Open makes the clients and reads the schema file. It is called by Run
// and by the one-shot commands.
func (l *Loader) Open(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.store != nil {
		return nil
	}
	if l.cfg.SchemaPath != "" {
		s, err := bqschema.ParseFile(l.cfg.SchemaPath)
		if err != nil {
			return fmt.Errorf("'schema_path': %w", err)
		}
		l.schema = s.BigQuery()
	}
	if l.gcs == nil {
		c, closeIdle, err := l.storageClient(ctx)
		if err != nil {
			return err
		}
		// A request is retried for request_timeout, not until the
		// caller gives up (a listing has no deadline of its own).
		c.SetRetry(storage.WithMaxRetryDuration(l.cfg.RequestTimeout))
		l.gcs = c
		l.own = append(l.own, c.Close, func() error { closeIdle(); return nil })
	}
	if l.bq == nil {
		opts, closeIdle, err := l.bigQueryOptions(ctx)
		if err != nil {
			return err
		}
		project := l.cfg.Project
		if project == "" {
			project = bq.DetectProjectID
		}
		c, err := bq.NewClient(context.WithoutCancel(ctx), project, opts...)
		if err != nil {
			return fmt.Errorf("bigquery client: %w", err)
		}
		l.bq = c
		l.own = append(l.own, c.Close, func() error { closeIdle(); return nil })
	}
	if l.s3src && l.s3 == nil {
		cc := s3out.ClientConfig{Region: l.cfg.S3Region, Endpoint: l.cfg.S3Endpoint,
			ForcePathStyle: l.cfg.ForcePathStyle, SSLVerifyPeer: l.cfg.SSLVerifyPeer, ProxyURI: l.cfg.ProxyURI,
			AWSKeyID: l.cfg.AWSKeyID, AWSSecKey: l.cfg.AWSSecKey, SharedCredentials: l.cfg.SharedCredentials, AssumeRole: l.cfg.AssumeRole}
		if f := l.cfg.FollowedCredentials; f != nil {
			cc.CredentialProcess, cc.WebIdentity, cc.InstanceProfile, cc.IAMRetries = f.CredentialProcess, f.WebIdentity, f.InstanceProfile, f.IAMRetries
		}
		c, tr, err := s3out.NewClient(context.WithoutCancel(ctx), cc)
		if err != nil {
			return fmt.Errorf("s3 client: %w", err)
		}
		l.s3, l.s3tr = c, tr
		l.own = append(l.own, func() error { tr.CloseIdleConnections(); return nil })
	}
	l.store = &ledgerStore{gcs: l.gcs, bucket: l.ledgerBucket, prefix: l.ledgerPrefix}
	return nil
}

// keyConfig is json_key as gcs.Credentials reads it: the key's JSON, or
// the path of its file.
func (l *Loader) keyConfig() gcs.ClientConfig {
	k := strings.TrimSpace(l.cfg.JSONKey)
	c := gcs.ClientConfig{Param: "json_key"}
	if strings.HasPrefix(k, "{") {
		c.KeyJSON = []byte(k)
	} else {
		c.Keyfile = k
	}
	return c
}

// credentials reads json_key with the gcs output's rules (gcs.Credentials):
// nil for Application Default Credentials.
func (l *Loader) credentials() ([]option.ClientOption, error) {
	return gcs.Credentials(l.keyConfig())
}

// storageClient makes the GCS client as every storage client of barge is
// made (gcs.NewClient: json_key, or no credentials against an emulator),
// its requests going through reachLog. closeIdle closes the idle
// connections of its transport.
func (l *Loader) storageClient(ctx context.Context) (c *storage.Client, closeIdle func(), err error) {
	what := []any{"bucket", l.bucket}
	if l.s3src {
		what = []any{"bucket", l.stageBucket}
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	cfg := l.keyConfig()
	cfg.UserAgent = "barge/" + l.version
	cfg.Scopes = []string{storage.ScopeFullControl}
	cfg.Transport = &reachLog{base: base, log: l.log, service: "GCS", what: what}
	// JSON reads carry the generation that ledger writes are conditioned
	// on, on GCS and on emulators alike.
	c, err = gcs.NewClient(ctx, cfg, storage.WithJSONReads())
	if err != nil {
		return nil, nil, err
	}
	return c, base.CloseIdleConnections, nil
}

// bigQueryOptions are the client options of the BigQuery client:
// json_key's credentials (none for a plain-http endpoint, an emulator)
// under reachLog.
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
	base := http.DefaultTransport.(*http.Transport).Clone()
	var rt http.RoundTripper = &reachLog{base: base, log: l.log, service: "BigQuery", what: []any{"table", l.cfg.Project + ":" + l.table}}
	if auth {
		var err error
		if rt, err = htransport.NewTransport(ctx, rt, opts...); err != nil {
			return nil, nil, fmt.Errorf("bigquery credentials: %w", err)
		}
	}
	// The credentials go along for project detection (project unset);
	// requests use the HTTP client.
	out := append(opts[2:len(opts):len(opts)], option.WithHTTPClient(&http.Client{Transport: rt}))
	if l.cfg.Endpoint != "" {
		out = append(out, option.WithEndpoint(l.cfg.Endpoint))
	}
	return out, base.CloseIdleConnections, nil
}

// Close closes the clients the loader made. It is idempotent.
func (l *Loader) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, c := range l.own {
		errs = append(errs, c())
	}
	l.own = nil
	return errors.Join(errs...)
}
