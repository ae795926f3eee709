package bqtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"go.uber.org/goleak"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The storage and BigQuery clients' HTTP/2-capable transports keep
		// idle connections whose goroutines end a moment after the servers
		// close them; OpenCensus starts a worker on import.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	)
}

const (
	bucket  = "archive"
	dsID    = "logs"
	tableID = "events"
)

// env is fake-gcs-server and the BigQuery test server on 127.0.0.1, with
// real clients of both.
type env struct {
	t   *testing.T
	gcs *storage.Client
	srv *Server
	bq  *bigquery.Client
}

// newEnv reads objects with storage.WithJSONReads (which cannot read
// compressed bytes: the server decompresses Content-Encoding gzip objects).
func newEnv(t *testing.T) *env { return newEnvReads(t, true) }

// newEnvReads with jsonReads false uses XML reads (which read stored bytes
// as they are) through PublicHost 127.0.0.1. (fake-gcs-server's own
// Client() sends Host storage.googleapis.com: its XML reads 404 when
// PublicHost is 127.0.0.1.)
func newEnvReads(t *testing.T, jsonReads bool) *env {
	t.Helper()
	opts := fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0, Writer: io.Discard}
	if !jsonReads {
		opts.PublicHost = "127.0.0.1"
	}
	fake, err := fakestorage.NewServerWithOptions(opts)
	if err != nil {
		t.Fatalf("start fake-gcs-server: %v", err)
	}
	t.Cleanup(fake.Stop)
	fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	copts := []option.ClientOption{option.WithEndpoint(fake.URL() + "/storage/v1/"), option.WithoutAuthentication()}
	if jsonReads {
		copts = append(copts, storage.WithJSONReads())
	}
	gcs, err := storage.NewClient(context.Background(), copts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gcs.Close() })
	srv := Start(t, Options{Project: "proj", Storage: gcs})
	return &env{t: t, gcs: gcs, srv: srv, bq: srv.Client(t)}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

var eventSchema = bigquery.Schema{
	{Name: "time", Type: bigquery.TimestampFieldType, Required: true},
	{Name: "seq", Type: bigquery.IntegerFieldType},
	{Name: "message", Type: bigquery.StringFieldType},
}

// createTable makes the dataset and an HOUR-partitioned table on time.
func (e *env) createTable() {
	e.t.Helper()
	if err := e.bq.Dataset(dsID).Create(ctx(e.t), nil); err != nil {
		e.t.Fatal(err)
	}
	md := &bigquery.TableMetadata{Schema: eventSchema,
		TimePartitioning: &bigquery.TimePartitioning{Type: bigquery.HourPartitioningType, Field: "time"}}
	if err := e.bq.Dataset(dsID).Table(tableID).Create(ctx(e.t), md); err != nil {
		e.t.Fatal(err)
	}
}

// ndjson renders rows of the event table, one per time.
func ndjson(times ...string) []byte {
	var b bytes.Buffer
	for i, ts := range times {
		fmt.Fprintf(&b, `{"time":%q,"seq":%d,"message":"m%d"}`+"\n", ts, i, i)
	}
	return b.Bytes()
}

func gz(data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

// put stores an object and returns its gs:// URI.
func (e *env) put(name string, data []byte, contentEncoding string) string {
	e.t.Helper()
	w := e.gcs.Bucket(bucket).Object(name).NewWriter(ctx(e.t))
	w.ContentType = "application/json"
	if contentEncoding != "" {
		w.ContentType = "application/gzip"
		w.ContentEncoding = contentEncoding
	}
	if _, err := w.Write(data); err != nil {
		e.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		e.t.Fatalf("put %s: %v", name, err)
	}
	return "gs://" + bucket + "/" + name
}

// loader is a JSON load of uris into dest, configured by opts.
func (e *env) loader(dest, id string, uris []string, opts ...func(*bigquery.GCSReference, *bigquery.Loader)) *bigquery.Loader {
	ref := bigquery.NewGCSReference(uris...)
	ref.SourceFormat = bigquery.JSON
	ld := e.bq.Dataset(dsID).Table(dest).LoaderFrom(ref)
	ld.JobID = id
	ld.Location = "US"
	for _, o := range opts {
		o(ref, ld)
	}
	return ld
}

// load runs a load job to its end and returns its final status; it fails
// the test when the job could not be run (not when it failed).
func (e *env) load(dest, id string, uris []string, opts ...func(*bigquery.GCSReference, *bigquery.Loader)) *bigquery.JobStatus {
	e.t.Helper()
	job, err := e.loader(dest, id, uris, opts...).Run(ctx(e.t))
	if err != nil {
		e.t.Fatalf("run load %s: %v", id, err)
	}
	st, err := job.Wait(ctx(e.t))
	if err != nil {
		e.t.Fatalf("wait for load %s: %v", id, err)
	}
	return st
}

// mustSucceed fails the test unless the job succeeded.
func mustSucceed(t *testing.T, st *bigquery.JobStatus) {
	t.Helper()
	if st.Err() != nil {
		t.Fatalf("job failed: %v (errors %v)", st.Err(), st.Errors)
	}
}

// mustFail fails the test unless the job failed with a message containing
// want.
func mustFail(t *testing.T, st *bigquery.JobStatus, want string) {
	t.Helper()
	if !st.Done() {
		t.Fatalf("job not done: %v", st.State)
	}
	if st.Err() == nil || !strings.Contains(st.Err().Error(), want) {
		t.Fatalf("job error %v, want one containing %q", st.Err(), want)
	}
}

// countByPartition counts a table's rows per partition id.
func (e *env) countByPartition(table string) map[string]int {
	out := map[string]int{}
	for _, r := range e.srv.Rows(dsID, table) {
		out[r["_PARTITION"].(string)]++
	}
	return out
}

func apiCode(err error) (int, string) {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return 0, ""
	}
	reason := ""
	if len(ge.Errors) > 0 {
		reason = ge.Errors[0].Reason
	}
	return ge.Code, reason
}
