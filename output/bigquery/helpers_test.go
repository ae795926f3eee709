package bigquery

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/klauspost/compress/gzip"
	"google.golang.org/api/option"

	"github.com/barge-dev/barge/output/internal/bqtest"
	"github.com/barge-dev/barge/output/objkey"
)

const (
	testBucket  = "archive"
	testDataset = "logs"
	testTable   = "events"
)

// env is fake-gcs-server and the BigQuery test server, on 127.0.0.1.
type env struct {
	t     testing.TB
	gcs   *storage.Client
	bqs   *bqtest.Server
	clock *fakeClock
	seq   int
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, bqtest.Options{Project: "proj"})
}

func newEnvWith(t testing.TB, opts bqtest.Options) *env {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0, Writer: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: testBucket})
	gcs, err := storage.NewClient(context.Background(), option.WithEndpoint(srv.URL()+"/storage/v1/"), option.WithoutAuthentication(), storage.WithJSONReads())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gcs.Close() })
	e := &env{t: t, gcs: gcs, clock: &fakeClock{now: time.Date(2026, 11, 22, 13, 30, 0, 0, time.UTC)}}
	if opts.Storage == nil {
		opts.Storage = gcs
	}
	e.bqs = bqtest.Start(t, opts)
	return e
}

// client is a BigQuery client of the test server.
func (e *env) client() *bq.Client { return e.bqs.Client(e.t) }

// createTable makes the dataset and an HOUR-partitioned table (on time,
// or by ingestion time when field is empty).
func (e *env) createTable(field string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := e.client()
	if err := c.Dataset(testDataset).Create(ctx, nil); err != nil {
		e.t.Fatal(err)
	}
	md := &bq.TableMetadata{
		Schema: bq.Schema{
			{Name: "time", Type: bq.TimestampFieldType},
			{Name: "seq", Type: bq.IntegerFieldType},
			{Name: "message", Type: bq.StringFieldType},
		},
		TimePartitioning: &bq.TimePartitioning{Type: bq.HourPartitioningType, Field: field},
	}
	if err := c.Dataset(testDataset).Table(testTable).Create(ctx, md); err != nil {
		e.t.Fatal(err)
	}
}

// upload writes a barge-like object holding n records of the hour of at,
// gzip NDJSON with barge's metadata; bad adds a record BigQuery refuses.
func (e *env) upload(at time.Time, n int, bad bool) string {
	e.t.Helper()
	e.seq++
	var raw bytes.Buffer
	for i := 0; i < n; i++ {
		ts := at.Add(time.Duration(i) * time.Millisecond)
		fmt.Fprintf(&raw, `{"time":%q,"seq":%d,"message":"m%d"}`+"\n", ts.Format(time.RFC3339Nano), e.seq*1000+i, i)
	}
	if bad {
		fmt.Fprintf(&raw, `{"time":%q,"seq":"not a number","message":"bad"}`+"\n", at.Format(time.RFC3339Nano))
		n++
	}
	return e.uploadRaw(at, raw.Bytes(), n)
}

// uploadRaw writes n NDJSON records (raw) of the hour of at as a barge-like
// gzip object named after e.seq (callers advance it) and returns its name.
func (e *env) uploadRaw(at time.Time, raw []byte, n int) string {
	e.t.Helper()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	name := fmt.Sprintf("logs/%s/%06d.json.gz", at.UTC().Format("2006010215"), e.seq)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w := e.gcs.Bucket(testBucket).Object(name).NewWriter(ctx)
	w.ContentType = "application/gzip"
	w.Metadata = map[string]string{
		objkey.MetaChunkID:  fmt.Sprintf("%032x", e.seq),
		objkey.MetaRecords:  strconv.Itoa(n),
		objkey.MetaFirst:    at.UTC().Format(time.RFC3339Nano),
		objkey.MetaLast:     at.Add(time.Duration(n) * time.Millisecond).UTC().Format(time.RFC3339Nano),
		objkey.MetaFormat:   "json",
		objkey.MetaCompress: "gzip",
	}
	if _, err := w.Write(gz.Bytes()); err != nil {
		e.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		e.t.Fatal(err)
	}
	return name
}

// loader makes a loader of the test table with its own BigQuery client.
func (e *env) loader(edit func(*Config)) *Loader {
	e.t.Helper()
	cfg := DefaultConfig()
	cfg.Name = "bq"
	cfg.Project = "proj"
	cfg.Dataset = testDataset
	cfg.Table = testTable
	cfg.Source = "gs://" + testBucket + "/logs/"
	cfg.PartitionType = "HOUR"
	cfg.PartitionField = "time"
	cfg.PollInterval = 10 * time.Millisecond
	if edit != nil {
		edit(&cfg)
	}
	l, err := New(cfg, Options{Now: e.clock.Now, Storage: e.gcs, BigQuery: e.client(), Host: "test"})
	if err != nil {
		e.t.Fatal(err)
	}
	t := e.t
	t.Cleanup(func() { l.Close() })
	return l
}

func (e *env) cycle(l *Loader) CycleResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := l.Cycle(ctx)
	if err != nil {
		e.t.Fatalf("cycle: %v", err)
	}
	return res
}

// rows counts the table's rows per partition.
func (e *env) rows() map[string]int {
	out := map[string]int{}
	for _, r := range e.bqs.Rows(testDataset, testTable) {
		out[fmt.Sprint(r["_PARTITION"])]++
	}
	return out
}

// seqs counts each seq value in the table: a value seen twice was loaded twice.
func (e *env) seqs() map[string]int {
	out := map[string]int{}
	for _, r := range e.bqs.Rows(testDataset, testTable) {
		out[fmt.Sprint(r["seq"])]++
	}
	return out
}
