package bqtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	bq "google.golang.org/api/bigquery/v2"
	"google.golang.org/api/iterator"
)

// maxRowErrors caps the per-row entries a job's status.errors lists.
const maxRowErrors = 100

// readTimeout bounds the reads of one load job's sources.
const readTimeout = 30 * time.Second

// source is one object a load job reads.
type source struct {
	uri  string
	raw  int64  // stored size
	data []byte // decompressed
	gz   bool
}

func (s *Server) runLoad(project, loc string, cfg *bq.JobConfigurationLoad) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	srcs, err := s.readSources(ctx, cfg.SourceUris)
	if err != nil {
		return failed(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loadLocked(project, loc, cfg, srcs)
}

// readSources expands the URIs and reads every object, gunzipping those
// that start with the gzip magic bytes.
func (s *Server) readSources(ctx context.Context, uris []string) ([]source, *apiError) {
	var out []source
	for _, u := range uris {
		bucket, object, _ := strings.Cut(strings.TrimPrefix(u, "gs://"), "/")
		names := []string{object}
		if strings.Contains(object, "*") {
			var err *apiError
			if names, err = s.expand(ctx, bucket, object); err != nil {
				return nil, err
			}
		}
		for _, name := range names {
			src, err := s.readObject(ctx, bucket, name)
			if err != nil {
				return nil, err
			}
			out = append(out, src)
		}
	}
	var gz, plain []string
	for _, src := range out {
		switch {
		case src.gz:
			gz = append(gz, src.uri)
		case len(src.data) > 0:
			plain = append(plain, src.uri)
		}
	}
	if len(gz) > 0 && len(plain) > 0 {
		return nil, errInvalid(fmt.Sprintf("Error while reading data, error message: Compressed and uncompressed files cannot be loaded in the same job. Compressed: %s; uncompressed: %s", gz[0], plain[0]))
	}
	return out, nil
}

// expand lists the objects a wildcard URI matches.
func (s *Server) expand(ctx context.Context, bucket, pattern string) ([]string, *apiError) {
	uri := "gs://" + bucket + "/" + pattern
	if s.opts.Storage == nil {
		return nil, errInvalid("bqtest: Options.Storage is needed to expand the wildcard URI " + uri)
	}
	prefix, suffix, _ := strings.Cut(pattern, "*")
	it := s.opts.Storage.Bucket(bucket).Objects(ctx, &storage.Query{Prefix: prefix})
	var names []string
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if errors.Is(err, storage.ErrBucketNotExist) {
			return nil, errNotFound("Not found: URI " + uri)
		}
		if err != nil {
			return nil, &apiError{reason: "backendError", message: fmt.Sprintf("Error while reading data, error message: list %s: %v", uri, err)}
		}
		if len(a.Name) >= len(prefix)+len(suffix) && strings.HasSuffix(a.Name, suffix) {
			names = append(names, a.Name)
		}
	}
	if len(names) == 0 {
		return nil, errNotFound("Not found: URI " + uri)
	}
	sort.Strings(names)
	return names, nil
}

func (s *Server) readObject(ctx context.Context, bucket, name string) (source, *apiError) {
	uri := "gs://" + bucket + "/" + name
	var rc io.ReadCloser
	var err error
	encoded := false // stored with Content-Encoding gzip, read decompressed
	switch {
	case s.opts.Open != nil:
		rc, err = s.opts.Open(ctx, bucket, name)
	case s.opts.Storage != nil:
		// The stored bytes, whatever the object's Content-Encoding.
		obj := s.opts.Storage.Bucket(bucket).Object(name)
		rc, err = obj.ReadCompressed(true).NewReader(ctx)
		if err != nil && strings.Contains(err.Error(), "custom Accept-Encoding") {
			// storage.WithJSONReads cannot read compressed: read what the
			// server (or the transport) decompresses, and take the
			// encoding from the object's metadata.
			var a *storage.ObjectAttrs
			if a, err = obj.Attrs(ctx); err == nil {
				encoded = a.ContentEncoding == "gzip"
				rc, err = obj.NewReader(ctx)
			}
		}
	default:
		return source{}, errInvalid("bqtest: Options.Storage (or Open) is needed to read " + uri)
	}
	if errors.Is(err, storage.ErrObjectNotExist) && s.opts.Open == nil {
		// The JSON API may see an object that the client's XML reads miss,
		// when fake-gcs-server's PublicHost does not match the read's Host.
		if _, aerr := s.opts.Storage.Bucket(bucket).Object(name).Attrs(ctx); aerr == nil {
			return source{}, errInvalid(fmt.Sprintf("bqtest: %s exists but Options.Storage cannot read it (fake-gcs-server XML reads need PublicHost to match the client's Host; or use storage.WithJSONReads())", uri))
		}
	}
	if errors.Is(err, storage.ErrObjectNotExist) || errors.Is(err, storage.ErrBucketNotExist) {
		return source{}, errNotFound("Not found: URI " + uri)
	}
	if err != nil {
		return source{}, &apiError{reason: "backendError", message: fmt.Sprintf("Error while reading data, error message: read %s: %v", uri, err)}
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return source{}, &apiError{reason: "backendError", message: fmt.Sprintf("Error while reading data, error message: read %s: %v", uri, err)}
	}
	src := source{uri: uri, raw: int64(len(raw)), data: raw, gz: encoded}
	if len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		src.gz = true
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			src.data, err = io.ReadAll(zr)
		}
		if err != nil {
			return source{}, &apiError{reason: "invalid", location: uri, message: fmt.Sprintf("Error while reading data, error message: gzip data of %s is corrupt: %v File: %s", uri, err, uri)}
		}
	}
	return src, nil
}

// target is a job's destination table, resolved.
type target struct {
	d      *dataset
	base   string // the table id without its decorator
	dec    string // the partition decorator, when hasDec
	hasDec bool
	name   string // PROJECT:DATASET.TABLE, for messages
}

// targetLocked resolves a job's destination: its dataset must exist, in
// the job's location.
func (s *Server) targetLocked(project, loc string, ref *bq.TableReference) (target, *apiError) {
	p := orProject(ref.ProjectId, project)
	base, dec, hasDec := splitDecorator(ref.TableId)
	tg := target{base: base, dec: dec, hasDec: hasDec, name: tableName(p, ref.DatasetId, base)}
	if tg.d = s.datasetLocked(p, ref.DatasetId); tg.d == nil {
		return tg, errNotFound(fmt.Sprintf("Not found: Dataset %s:%s", p, ref.DatasetId))
	}
	if !strings.EqualFold(tg.d.meta.Location, loc) {
		return tg, errNotFound(fmt.Sprintf("Not found: Dataset %s:%s was not found in location %s", p, ref.DatasetId, loc))
	}
	return tg, nil
}

// loadLocked checks and writes one load job's rows, all or nothing.
func (s *Server) loadLocked(project, loc string, cfg *bq.JobConfigurationLoad, srcs []source) outcome {
	tg, terr := s.targetLocked(project, loc, cfg.DestinationTable)
	if terr != nil {
		return failed(terr)
	}
	d, base, dec, hasDec, name := tg.d, tg.base, tg.dec, tg.hasDec, tg.name
	write := orDefault(cfg.WriteDisposition, "WRITE_APPEND")
	change := schemaChange{
		add:   slices.Contains(cfg.SchemaUpdateOptions, "ALLOW_FIELD_ADDITION"),
		relax: slices.Contains(cfg.SchemaUpdateOptions, "ALLOW_FIELD_RELAXATION"),
	}
	stats := &bq.JobStatistics3{InputFiles: int64(len(srcs))}
	for _, src := range srcs {
		stats.InputFileBytes += src.raw
	}
	fail := func(e *apiError) outcome { return outcome{err: e, load: stats} }

	// The schema and partitioning the rows are checked against.
	t := d.tables[base]
	var fields []*bq.TableFieldSchema
	var tp *bq.TimePartitioning
	var loadFields []*bq.TableFieldSchema
	if cfg.Schema != nil && len(cfg.Schema.Fields) > 0 {
		var err *apiError
		if loadFields, err = normalizeSchema(cfg.Schema.Fields); err != nil {
			return fail(err)
		}
	}
	if t == nil {
		if orDefault(cfg.CreateDisposition, "CREATE_IF_NEEDED") == "CREATE_NEVER" {
			return fail(errNotFound("Not found: Table " + name))
		}
		switch {
		case loadFields != nil:
			fields = loadFields
		case cfg.Autodetect:
			var objs []map[string]any
			for _, src := range srcs {
				eachLine(src.data, func(_ int, line []byte) bool {
					if obj, msg := decodeLine(line); msg == "" {
						objs = append(objs, obj)
					}
					return true
				})
			}
			fields = inferSchema(objs)
		default:
			return fail(errInvalid("No schema specified on job or table."))
		}
		if tp = clone(cfg.TimePartitioning); tp != nil {
			if err := checkPartitioning(tp, fields); err != nil {
				return fail(err)
			}
		}
		if cfg.Clustering != nil {
			if err := checkClustering(clone(cfg.Clustering), fields); err != nil {
				return fail(err)
			}
		}
	} else {
		if t.meta.Schema != nil {
			fields = t.meta.Schema.Fields
		}
		tp = t.meta.TimePartitioning
		switch {
		case loadFields == nil:
		case len(fields) == 0, write == "WRITE_TRUNCATE" && !hasDec:
			fields = loadFields // an empty schema takes the load's; a truncated table is replaced
		default:
			merged, err := mergeSchema(name, fields, loadFields, change)
			if err != nil {
				return fail(err)
			}
			fields = merged
		}
		if cfg.TimePartitioning != nil && !samePartitioning(cfg.TimePartitioning, tp) {
			return fail(errInvalid(fmt.Sprintf("Incompatible table partitioning specification. Expects partitioning specification %s, but input partitioning specification is %s", describePartitioning(tp), describePartitioning(cfg.TimePartitioning))))
		}
		if tp != nil && tp.Field != "" && findField(fields, tp.Field) == nil {
			return fail(errInvalid(fmt.Sprintf("The field specified for partitioning cannot be found in the schema: %s", tp.Field)))
		}
	}
	if hasDec {
		if err := checkDecorator(name, dec, tp); err != nil {
			return fail(err)
		}
	}
	if t != nil && write == "WRITE_EMPTY" && hasRows(t, dec, hasDec) {
		return fail(errDuplicate("Already Exists: Table " + name + map[bool]string{true: "$" + dec}[hasDec]))
	}

	// The rows.
	chk := &rowChecker{fields: fields, ignoreUnknown: cfg.IgnoreUnknownValues}
	now := time.Now()
	var rows []row
	var rowErrs []*bq.ErrorProto
	var bad, read int64
	var failure *apiError
	for _, src := range srcs {
		eachLine(src.data, func(pos int, line []byte) bool {
			read++
			obj, msg := decodeLine(line)
			var vals map[string]any
			if msg == "" {
				vals, msg = chk.check(obj)
			}
			if msg != "" {
				bad++
				if len(rowErrs) < maxRowErrors {
					rowErrs = append(rowErrs, &bq.ErrorProto{Reason: "invalid", Location: src.uri,
						Message: fmt.Sprintf("Error while reading data, error message: JSON parsing error in row starting at position %d: %s File: %s", pos, msg, src.uri)})
				}
				if bad > cfg.MaxBadRecords {
					failure = errInvalid(fmt.Sprintf("Error while reading data, error message: JSON table encountered too many errors, giving up. Rows: %d; errors: %d. Please look into the errors[] collection for more details.", read, bad))
					return false
				}
				return true
			}
			pid := rowPartition(vals, tp, fields, dec, now)
			if hasDec && pid != dec {
				failure = partitionMismatch(dec)
				return false
			}
			rows = append(rows, row{partition: pid, values: vals})
			return true
		})
		if failure != nil {
			break
		}
	}
	stats.BadRecords = bad
	if failure != nil {
		errs := []*bq.ErrorProto{failure.proto()}
		if bad > cfg.MaxBadRecords {
			errs = append(errs, &bq.ErrorProto{Reason: "invalid", Message: fmt.Sprintf("Error while reading data, error message: JSON processing encountered too many errors, giving up. Rows: %d; errors: %d; max bad: %d; error percent: 0", read, bad, cfg.MaxBadRecords)})
			errs = append(errs, rowErrs...)
		}
		return outcome{err: failure, errs: errs, load: stats}
	}

	// Commit: create or update the table, then write the rows.
	if t == nil {
		nt, err := s.newTableLocked(d, base, &bq.Table{Schema: &bq.TableSchema{Fields: fields}, TimePartitioning: tp, Clustering: cfg.Clustering})
		if err != nil {
			return fail(err)
		}
		t = nt
		d.tables[base] = t
	} else {
		t.meta.Schema = &bq.TableSchema{Fields: fields}
	}
	writeRows(t, rows, write == "WRITE_TRUNCATE", dec, hasDec)
	s.touchLocked(t)
	stats.OutputRows = int64(len(rows))
	for _, r := range rows {
		b, _ := json.Marshal(r.values)
		stats.OutputBytes += int64(len(b))
	}
	return outcome{errs: rowErrs, load: stats}
}

func orProject(p, def string) string {
	if p == "" {
		return def
	}
	return p
}

// eachLine calls fn with the start offset of every non-blank line until fn
// returns false.
func eachLine(data []byte, fn func(pos int, line []byte) bool) {
	for pos := 0; pos < len(data); {
		end := bytes.IndexByte(data[pos:], '\n')
		next := len(data)
		if end >= 0 {
			next = pos + end + 1
		} else {
			end = len(data) - pos
		}
		line := data[pos : pos+end]
		if len(bytes.TrimSpace(line)) > 0 && !fn(pos, line) {
			return
		}
		pos = next
	}
}

func hasRows(t *table, dec string, hasDec bool) bool {
	for _, r := range t.rows {
		if !hasDec || r.partition == dec {
			return true
		}
	}
	return false
}

// writeRows appends rows, after removing the table's (or, with a
// decorator, the partition's) rows when truncating.
func writeRows(t *table, rows []row, truncate bool, dec string, hasDec bool) {
	if truncate {
		kept := t.rows[:0:0]
		if hasDec {
			for _, r := range t.rows {
				if r.partition != dec {
					kept = append(kept, r)
				}
			}
		}
		t.rows = kept
	}
	t.rows = append(t.rows, rows...)
}
