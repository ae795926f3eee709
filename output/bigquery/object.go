package bigquery

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/barge-dev/barge/output/objkey"
)

// object is one archived source object.
type object struct {
	Name      string
	Size      int64
	Created   time.Time
	Records   int64 // -1: unknown (not written by barge)
	Partition string
	Gzip      bool
	// Problem, when set, says why the object cannot be loaded.
	Problem string
	// ETag is an S3 object's, which its relayed copy records.
	ETag string
}

// listSource lists every object under the source prefix (its fixed part,
// for a prefix with the time in it), except the ledger's, and places each
// in its partition.
func (l *Loader) listSource(ctx context.Context) ([]object, error) {
	if l.lister != nil {
		return l.lister(ctx)
	}
	return l.listPrefix(ctx, l.prefix, true)
}

// listPrefix lists the objects under prefix (full: the whole source).
func (l *Loader) listPrefix(ctx context.Context, prefix string, full bool) ([]object, error) {
	if l.s3src {
		return l.listS3(ctx, prefix, full)
	}
	var out []object
	it := l.gcs.Bucket(l.bucket).Objects(ctx, &storage.Query{Prefix: prefix, Projection: storage.ProjectionNoACL})
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list gs://%s/%s: %w", l.bucket, prefix, err)
		}
		if strings.HasSuffix(a.Name, "/") || l.internal(a.Name) {
			continue
		}
		out = append(out, l.place(a))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// internal reports whether name belongs to barge itself (ledger).
func (l *Loader) internal(name string) bool {
	return !l.s3src && l.ledgerBucket == l.bucket && strings.HasPrefix(name, l.ledgerPrefix)
}

// place reads an object's partition from its barge metadata, or from the
// time slice in its key.
func (l *Loader) place(a *storage.ObjectAttrs) object {
	return l.placeMeta(a.Name, a.Size, a.Created, a.Metadata, a.ContentType)
}

// placeMeta places an object from its name, size, creation time, user
// metadata and content type, wherever it is stored.
func (l *Loader) placeMeta(name string, size int64, created time.Time, md map[string]string, contentType string) object {
	o := object{Name: name, Size: size, Created: created, Records: -1}
	o.Gzip = md[objkey.MetaCompress] == "gzip" || (md[objkey.MetaCompress] == "" && (strings.HasSuffix(name, ".gz") || contentType == "application/gzip" || contentType == "application/x-gzip"))
	if first, ok := md[objkey.MetaFirst]; ok {
		if n, err := strconv.ParseInt(md[objkey.MetaRecords], 10, 64); err == nil {
			o.Records = n
		}
		ft, err1 := time.Parse(time.RFC3339Nano, first)
		lt, err2 := time.Parse(time.RFC3339Nano, md[objkey.MetaLast])
		switch {
		case err1 != nil || err2 != nil:
			o.Problem = fmt.Sprintf("metadata %s/%s do not parse", objkey.MetaFirst, objkey.MetaLast)
		case l.part.id(ft) != l.part.id(lt):
			o.Problem = fmt.Sprintf("records span partitions %s to %s: the output's timekey mixes partitions", l.part.id(ft), l.part.id(lt))
		default:
			o.Partition = l.part.id(ft)
		}
		switch f := md[objkey.MetaFormat]; f {
		case "json", "":
		default:
			o.Problem = fmt.Sprintf("format %q is not loadable: use <format> @type json", f)
		}
		switch c := md[objkey.MetaCompress]; c {
		case "gzip", "none", "":
		default:
			o.Problem = fmt.Sprintf("compression %q is not loadable by BigQuery: use store_as gzip or json", c)
		}
		return o
	}
	t, ok := l.slices.find(name)
	if !ok {
		o.Problem = fmt.Sprintf("no barge metadata and no time slice (%s) in the key", l.cfg.TimeSliceFormat)
		return o
	}
	o.Partition = l.part.id(t)
	return o
}

// uri is the gs:// URI that loads an object: in the source bucket, or for
// an S3 source, its relayed copy in the staging bucket.
func (l *Loader) uri(name string) string {
	if l.s3src {
		return "gs://" + l.stageBucket + "/" + l.stagePrefix + name
	}
	return "gs://" + l.bucket + "/" + name
}

// sourceURI names an object where it is archived.
func (l *Loader) sourceURI(name string) string {
	if l.s3src {
		return "s3://" + l.bucket + "/" + name
	}
	return "gs://" + l.bucket + "/" + name
}

type partitionObjects struct {
	id   string
	objs []object
}

func groupByPartition(objs []object) []partitionObjects {
	// Keys that start with the time (barge's default object key,
	// %{path}%{time_slice}_...) list each partition as one run: the
	// groups are then slices of the listing, nothing is copied.
	if runs := partitionRuns(objs); runs != nil {
		return runs
	}
	// Counted first: a listing can hold hundreds of thousands of objects.
	n := map[string]int{}
	for _, o := range objs {
		n[o.Partition]++
	}
	m := make(map[string][]object, len(n))
	for id, c := range n {
		m[id] = make([]object, 0, c)
	}
	for _, o := range objs {
		m[o.Partition] = append(m[o.Partition], o)
	}
	out := make([]partitionObjects, 0, len(m))
	for id, os := range m {
		out = append(out, partitionObjects{id: id, objs: os})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// partitionRuns groups objs by slicing when each partition's objects are
// contiguous in it, else returns nil.
func partitionRuns(objs []object) []partitionObjects {
	var out []partitionObjects
	seen := map[string]bool{}
	start := 0
	for i := 1; i <= len(objs); i++ {
		if i < len(objs) && objs[i].Partition == objs[start].Partition {
			continue
		}
		id := objs[start].Partition
		if seen[id] {
			return nil
		}
		seen[id] = true
		out = append(out, partitionObjects{id: id, objs: objs[start:i:i]})
		start = i
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}
