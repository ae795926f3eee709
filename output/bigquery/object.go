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

	"github.com/barge-dev/barge/output"
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
}

// listSource lists every object under the source prefix, except the
// ledger's, and places each in its partition.
func (l *Loader) listSource(ctx context.Context) ([]object, error) {
	if l.lister != nil {
		return l.lister(ctx)
	}
	var out []object
	it := l.gcs.Bucket(l.bucket).Objects(ctx, &storage.Query{Prefix: l.prefix, Projection: storage.ProjectionNoACL})
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list gs://%s/%s: %w", l.bucket, l.prefix, err)
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
	return l.ledgerBucket == l.bucket && strings.HasPrefix(name, l.ledgerPrefix)
}

// place reads an object's partition from its barge metadata, or from the
// time slice in its key.
func (l *Loader) place(a *storage.ObjectAttrs) object {
	o := object{Name: a.Name, Size: a.Size, Created: a.Created, Records: -1}
	md := a.Metadata
	o.Gzip = md[output.MetaCompress] == "gzip" || (md[output.MetaCompress] == "" && (strings.HasSuffix(a.Name, ".gz") || a.ContentType == "application/gzip" || a.ContentType == "application/x-gzip"))
	if first, ok := md[output.MetaFirst]; ok {
		if n, err := strconv.ParseInt(md[output.MetaRecords], 10, 64); err == nil {
			o.Records = n
		}
		ft, err1 := time.Parse(time.RFC3339Nano, first)
		lt, err2 := time.Parse(time.RFC3339Nano, md[output.MetaLast])
		switch {
		case err1 != nil || err2 != nil:
			o.Problem = fmt.Sprintf("metadata %s/%s do not parse", output.MetaFirst, output.MetaLast)
		case l.part.id(ft) != l.part.id(lt):
			o.Problem = fmt.Sprintf("records span partitions %s to %s: the output's timekey mixes partitions", l.part.id(ft), l.part.id(lt))
		default:
			o.Partition = l.part.id(ft)
		}
		switch f := md[output.MetaFormat]; f {
		case "json", "":
		default:
			o.Problem = fmt.Sprintf("format %q is not loadable: use <format> @type json", f)
		}
		switch c := md[output.MetaCompress]; c {
		case "gzip", "none", "":
		default:
			o.Problem = fmt.Sprintf("compression %q is not loadable by BigQuery: use store_as gzip or json", c)
		}
		return o
	}
	t, ok := l.slices.find(a.Name)
	if !ok {
		o.Problem = fmt.Sprintf("no barge metadata and no time slice (%s) in the key", l.cfg.TimeSliceFormat)
		return o
	}
	o.Partition = l.part.id(t)
	return o
}

// uri is the gs:// URI of an object of the source bucket.
func (l *Loader) uri(name string) string { return "gs://" + l.bucket + "/" + name }
