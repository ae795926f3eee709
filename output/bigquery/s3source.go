package bigquery

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"

	"cloud.google.com/go/storage"
	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// An S3 source is loaded through GCS: BigQuery load jobs read only gs://
// URIs. Just before a job is submitted, each of its objects is copied
// (streamed, not held in memory: see relayOne) to STAGING_PREFIX + its
// key, and the job loads the copies. The S3 objects stay the archive of record: the ledger
// names them by key, and a copy that is missing or differs is made again,
// so a replay or a deleted staging prefix costs only copying.

// s3Source is the state of a loader whose source is on S3, embedded in
// Loader; its caches are guarded by Loader.mu.
type s3Source struct {
	// s3src: the source is s3://; objects are relayed to the staging
	// bucket and prefix and loaded from there.
	s3src       bool
	stageBucket string
	stagePrefix string
	// s3 is the S3 client (clients.go), s3tr its transport.
	s3   *awss3.Client
	s3tr *http.Transport
	// heads caches the placement of objects by key and ETag (objects
	// never change); listed holds the latest listing's objects by key.
	heads  map[string]object
	listed map[string]object
}

// Metadata of a relayed copy.
const (
	metaSource     = "barge-source"      // s3://BUCKET/KEY of the original
	metaSourceETag = "barge-source-etag" // its ETag when copied
)

// relayWorkers bounds the copies in flight.
const relayWorkers = 8

// listS3 lists a prefix of the source on S3 (full: the whole source).
// Placing an object needs its user metadata, which only HEAD returns;
// placements are cached by key and ETag, and a full listing drops those of
// objects gone.
func (l *Loader) listS3(ctx context.Context, prefix string, full bool) ([]object, error) {
	var out []object
	seen := map[string]bool{}
	p := awss3.NewListObjectsV2Paginator(l.s3, &awss3.ListObjectsV2Input{Bucket: aws.String(l.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", l.bucket, prefix, err)
		}
		for _, c := range page.Contents {
			key, etag := aws.ToString(c.Key), aws.ToString(c.ETag)
			if strings.HasSuffix(key, "/") {
				continue
			}
			ck := key + "\x00" + etag
			seen[ck] = true
			l.mu.Lock()
			o, ok := l.heads[ck]
			l.mu.Unlock()
			if !ok {
				h, err := l.s3.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(l.bucket), Key: aws.String(key)})
				if err != nil {
					return nil, fmt.Errorf("head s3://%s/%s: %w", l.bucket, key, err)
				}
				o = l.placeMeta(key, aws.ToInt64(c.Size), aws.ToTime(c.LastModified), h.Metadata, aws.ToString(h.ContentType))
				o.ETag = etag
				l.mu.Lock()
				l.heads[ck] = o
				l.mu.Unlock()
			}
			out = append(out, o)
		}
	}
	l.mu.Lock()
	if full {
		for ck := range l.heads {
			if !seen[ck] {
				delete(l.heads, ck) // deleted or overwritten
			}
		}
		l.listed = make(map[string]object, len(out))
	}
	for _, o := range out {
		l.listed[o.Name] = o
	}
	l.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// relay makes sure every named object of an S3 source has a verified copy
// in the staging prefix. It does nothing for a GCS source.
func (l *Loader) relay(ctx context.Context, names []string) error {
	if !l.s3src {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan string)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		copied int
		bytes  int64
	)
	for range min(relayWorkers, len(names)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range work {
				n, err := l.relayOne(ctx, name)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
					cancel()
				} else if n >= 0 {
					copied++
					bytes += n
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, n := range names {
		select {
		case work <- n:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if copied > 0 {
		l.log.Info("relayed objects from S3", "objects", copied, "bytes", bytes, "to", "gs://"+l.stageBucket+"/"+l.stagePrefix)
	}
	return nil
}

// relayOne copies one object unless its copy is there already (-1). The
// copy is checked three ways: its length, its CRC32C as GCS computed it
// against the one computed while streaming, and, for an object uploaded
// in one part (whose ETag is its MD5), the MD5. A copy that fails a check
// is deleted.
//
// The copy is one request whose body streams from the S3 object: the
// client holds no copy of it (a resumable upload's client would buffer
// ChunkSize, 16 MiB by default, per copy: relayWorkers times). A request
// that fails leaves no object, and is not retried here: the error fails
// the job's submission, and the next cycle relays again what the staging
// prefix lacks.
func (l *Loader) relayOne(ctx context.Context, name string) (int64, error) {
	l.mu.Lock()
	src, ok := l.listed[name]
	l.mu.Unlock()
	srcURI := l.sourceURI(name)
	if !ok {
		h, err := l.s3.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(l.bucket), Key: aws.String(name)})
		if err != nil {
			return 0, fmt.Errorf("head %s: %w", srcURI, err)
		}
		src = object{Name: name, Size: aws.ToInt64(h.ContentLength), ETag: aws.ToString(h.ETag)}
	}
	dstName := l.stagePrefix + name
	dstURI := "gs://" + l.stageBucket + "/" + dstName
	dst := l.gcs.Bucket(l.stageBucket).Object(dstName)
	a, err := dst.Attrs(ctx)
	switch {
	case err == nil && a.Size == src.Size && a.Metadata[metaSourceETag] == src.ETag:
		return -1, nil
	case err != nil && !errors.Is(err, storage.ErrObjectNotExist):
		return 0, fmt.Errorf("stat staging copy %s: %w", dstURI, err)
	}
	get, err := l.s3.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(l.bucket), Key: aws.String(name), IfMatch: aws.String(src.ETag)})
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", srcURI, err)
	}
	defer get.Body.Close()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := dst.NewWriter(wctx)
	w.ChunkSize = 0 // one request, streamed: nothing buffered
	// The checks below are the copy's: a mismatch must reach them, which
	// delete the copy (the client's own check would fail the Close and
	// leave the object, which a later cycle would take for a good copy).
	w.DisableAutoChecksum = true
	w.ContentType = aws.ToString(get.ContentType)
	w.Metadata = map[string]string{metaSource: srcURI, metaSourceETag: src.ETag}
	crc := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	sum := md5.New()
	n, err := io.Copy(w, io.TeeReader(get.Body, io.MultiWriter(crc, sum)))
	if err != nil {
		cancel() // abandons the upload
		w.Close()
		return 0, fmt.Errorf("relay %s to %s: %w", srcURI, dstURI, err)
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("relay %s to %s: %w", srcURI, dstURI, err)
	}
	got := w.Attrs()
	var bad string
	etag := strings.Trim(src.ETag, `"`)
	switch {
	case n != src.Size:
		bad = fmt.Sprintf("read %d bytes, the object has %d", n, src.Size)
	case got.Size != n:
		bad = fmt.Sprintf("the copy has %d bytes, %d were sent", got.Size, n)
	case got.CRC32C != crc.Sum32():
		bad = fmt.Sprintf("the copy's CRC32C is %08x, the bytes read give %08x", got.CRC32C, crc.Sum32())
	case !strings.Contains(etag, "-") && len(etag) == 32 && hex.EncodeToString(sum.Sum(nil)) != etag:
		bad = fmt.Sprintf("the bytes read have MD5 %x, the object's ETag is %s", sum.Sum(nil), etag)
	}
	if bad != "" {
		if err := dst.Delete(context.WithoutCancel(ctx)); err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
			l.log.Warn("delete a bad staging copy", "object", dstURI, "err", err)
		}
		return 0, fmt.Errorf("relay %s to %s: checksum mismatch: %s", srcURI, dstURI, bad)
	}
	return n, nil
}
