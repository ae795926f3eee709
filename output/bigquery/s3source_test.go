package bigquery

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/barge-dev/barge/output/internal/minio"
)

// moveToS3 moves an object written by env.upload from the GCS bucket to
// the S3 bucket, with its content type and metadata, as the s3 output
// would have written it.
func (e *env) moveToS3(m *minio.Server, bucket, name string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	obj := e.gcs.Bucket(testBucket).Object(name)
	r, err := obj.NewReader(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := obj.Attrs(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	_, err = m.Client().PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(name),
		Body: bytes.NewReader(data), ContentType: aws.String(a.ContentType), Metadata: a.Metadata})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := obj.Delete(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// TestS3SourceIsRelayedAndLoaded: objects archived on S3 (MinIO) are
// placed by their barge metadata, copied to the GCS staging prefix with
// their checksums verified, loaded from there once, and replayed from
// the S3 archive when the partition is lost, copying again only what the
// staging prefix lacks.
func TestS3SourceIsRelayedAndLoaded(t *testing.T) {
	m := minio.Start(t)
	m.MakeBucket(t, "s3archive")
	e := newEnv(t)
	e.createTable("time")
	var names []string
	for i := 0; i < 3; i++ {
		names = append(names, e.upload(hour13.Add(time.Duration(i)*time.Minute), 10, false))
	}
	names = append(names, e.upload(hour13.Add(-30*time.Minute), 5, false))
	for _, n := range names {
		e.moveToS3(m, "s3archive", n)
	}
	l := e.loader(func(c *Config) {
		c.Source = "s3://s3archive/logs/"
		c.Staging = "gs://" + testBucket + "/staging/"
		c.S3Endpoint, c.S3Region, c.ForcePathStyle = m.Endpoint, m.Region, true
		c.AWSKeyID, c.AWSSecKey = m.AccessKey, m.SecretKey
	})
	res := e.cycle(l)
	if res.Jobs != 2 || res.Objects != 4 || res.Rows != 35 {
		t.Fatalf("cycle: %+v, want 2 jobs, 4 objects, 35 rows", res)
	}
	if got := e.rows(); got["2026112213"] != 30 || got["2026112212"] != 5 {
		t.Fatalf("rows per partition = %v", got)
	}
	for _, j := range e.bqs.Jobs() {
		for _, u := range j.SourceURIs {
			if !strings.HasPrefix(u, "gs://"+testBucket+"/staging/logs/") {
				t.Fatalf("job %s loads %s, want a staging copy", j.ID, u)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range names {
		a, err := e.gcs.Bucket(testBucket).Object("staging/" + n).Attrs(ctx)
		if err != nil {
			t.Fatalf("staging copy of %s: %v", n, err)
		}
		if a.Metadata[metaSource] != "s3://s3archive/"+n || a.Metadata[metaSourceETag] == "" {
			t.Fatalf("staging copy metadata %v", a.Metadata)
		}
		// The archive of record stays.
		if _, err := m.Client().HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("s3archive"), Key: aws.String(n)}); err != nil {
			t.Fatalf("S3 object %s: %v", n, err)
		}
	}
	if res := e.cycle(l); res.Jobs != 0 {
		t.Fatalf("second cycle ran jobs: %+v", res)
	}
	// The partition is lost and one staging copy with it: the replay
	// copies that one again and rebuilds the partition.
	e.bqs.DeletePartitionRows(testDataset, testTable, "2026112213")
	if err := e.gcs.Bucket(testBucket).Object("staging/" + names[1]).Delete(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := e.gcs.Bucket(testBucket).Object("staging/" + names[0]).Attrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := l.Replay(ctx, ReplayOptions{Partitions: []string{"2026112213"}})
	if err != nil || len(out) != 1 || out[0].Rows != 30 {
		t.Fatalf("replay: %+v, %v", out, err)
	}
	if got := e.rows(); got["2026112213"] != 30 || got["2026112212"] != 5 {
		t.Fatalf("rows per partition after replay = %v", got)
	}
	if _, err := e.gcs.Bucket(testBucket).Object("staging/" + names[1]).Attrs(ctx); err != nil {
		t.Fatalf("deleted staging copy not made again: %v", err)
	}
	after, err := e.gcs.Bucket(testBucket).Object("staging/" + names[0]).Attrs(ctx)
	if err != nil || after.Generation != before.Generation {
		t.Fatalf("an intact staging copy was copied again (generation %d -> %d, %v)", before.Generation, after.Generation, err)
	}
	// The ledger lives in the staging bucket.
	if _, err := e.gcs.Bucket(testBucket).Object("_barge/ledger/" + testDataset + "." + testTable + "/2026112213.json").Attrs(ctx); err != nil {
		t.Fatalf("ledger: %v", err)
	}
}

// TestImportForeignS3Archive: objects an older shipper (fluent-plugin-s3)
// left on S3, without barge's metadata, are placed by the time slice in
// their keys and imported into their closed partitions by a replay.
func TestImportForeignS3Archive(t *testing.T) {
	m := minio.Start(t)
	m.MakeBucket(t, "legacy")
	e := newEnv(t)
	e.createTable("time")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for h := 9; h <= 10; h++ {
		var raw bytes.Buffer
		for i := 0; i < 4; i++ {
			fmt.Fprintf(&raw, `{"time":"2026-11-22T%02d:%02d:00Z","seq":%d,"message":"legacy"}`+"\n", h, i, h*100+i)
		}
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(raw.Bytes())
		zw.Close()
		key := fmt.Sprintf("logs/20261122%02d_0.gz", h) // fluent-plugin-s3's default key
		if _, err := m.Client().PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("legacy"), Key: aws.String(key), Body: bytes.NewReader(gz.Bytes())}); err != nil {
			t.Fatal(err)
		}
	}
	l := e.loader(func(c *Config) {
		c.Source = "s3://legacy/logs/"
		c.Staging = "gs://" + testBucket + "/staging/"
		c.S3Endpoint, c.S3Region, c.ForcePathStyle = m.Endpoint, m.Region, true
		c.AWSKeyID, c.AWSSecKey = m.AccessKey, m.SecretKey
	})
	// Hours 9 and 10 closed long ago (the clock is 13:30): late.
	if res := e.cycle(l); res.Jobs != 0 || res.Late != 2 {
		t.Fatalf("cycle: %+v, want both objects late", res)
	}
	out, err := l.Replay(ctx, ReplayOptions{From: hour13.Add(-4 * time.Hour), To: hour13})
	if err != nil || len(out) != 2 {
		t.Fatalf("replay: %+v, %v", out, err)
	}
	if got := e.rows(); got["2026112209"] != 4 || got["2026112210"] != 4 {
		t.Fatalf("rows per partition = %v", got)
	}
}
