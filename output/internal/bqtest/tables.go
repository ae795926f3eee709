package bqtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	bq "google.golang.org/api/bigquery/v2"
)

type dataset struct {
	meta   *bq.Dataset
	tables map[string]*table
}

type table struct {
	meta *bq.Table // as stored; NumRows, Etag and times are kept current
	rows []row
}

type row struct {
	partition string
	values    map[string]any
}

func (s *Server) datasetLocked(project, id string) *dataset {
	return s.datasets[project+"."+id]
}

func (s *Server) tableLocked(project, ds, id string) *table {
	d := s.datasetLocked(project, ds)
	if d == nil {
		return nil
	}
	return d.tables[id]
}

// touchLocked records a change of a table's data or metadata.
func (s *Server) touchLocked(t *table) {
	s.etagSeq++
	t.meta.Etag = fmt.Sprintf("\"bqtest-%d\"", s.etagSeq)
	t.meta.LastModifiedTime = uint64(nowMillis(time.Now()))
	t.meta.NumRows = uint64(len(t.rows))
	var n int64
	for _, r := range t.rows {
		b, _ := json.Marshal(r.values)
		n += int64(len(b))
	}
	t.meta.NumBytes = n
}

// clone deep-copies an API struct through its JSON form.
func clone[T any](v *T) *T {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("bqtest: clone %T: %v", v, err))
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic(fmt.Sprintf("bqtest: clone %T: %v", v, err))
	}
	return out
}

func tableName(project, ds, id string) string { return project + ":" + ds + "." + id }

func (s *Server) getDataset(w http.ResponseWriter, r *http.Request) {
	p, ds := r.PathValue("project"), r.PathValue("dataset")
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.datasetLocked(p, ds)
	if d == nil {
		writeError(w, errNotFound(fmt.Sprintf("Not found: Dataset %s:%s", p, ds)))
		return
	}
	writeJSON(w, http.StatusOK, d.meta)
}

func (s *Server) insertDataset(w http.ResponseWriter, r *http.Request) {
	p := r.PathValue("project")
	var in bq.Dataset
	if !readJSON(w, r, &in) {
		return
	}
	if in.DatasetReference == nil || in.DatasetReference.DatasetId == "" {
		writeError(w, errInvalid("Dataset reference is required: datasetReference.datasetId is missing"))
		return
	}
	id := in.DatasetReference.DatasetId
	if strings.ContainsAny(id, ".:$ ") {
		writeError(w, errInvalid(fmt.Sprintf("Invalid dataset ID %q. Dataset IDs must be alphanumeric (plus underscores) and must be at most 1024 characters long.", id)))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.datasetLocked(p, id) != nil {
		writeError(w, errDuplicate(fmt.Sprintf("Already Exists: Dataset %s:%s", p, id)))
		return
	}
	now := nowMillis(time.Now())
	meta := clone(&in)
	meta.Kind = "bigquery#dataset"
	meta.Id = p + ":" + id
	meta.DatasetReference = &bq.DatasetReference{ProjectId: p, DatasetId: id}
	if meta.Location == "" {
		meta.Location = s.opts.Location
	}
	meta.CreationTime, meta.LastModifiedTime = now, now
	s.etagSeq++
	meta.Etag = fmt.Sprintf("\"bqtest-%d\"", s.etagSeq)
	meta.SelfLink = s.URL() + "/bigquery/v2/projects/" + p + "/datasets/" + id
	s.datasets[p+"."+id] = &dataset{meta: meta, tables: map[string]*table{}}
	writeJSON(w, http.StatusOK, meta)
}

func (s *Server) deleteDataset(w http.ResponseWriter, r *http.Request) {
	p, ds := r.PathValue("project"), r.PathValue("dataset")
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.datasetLocked(p, ds)
	if d == nil {
		writeError(w, errNotFound(fmt.Sprintf("Not found: Dataset %s:%s", p, ds)))
		return
	}
	if len(d.tables) > 0 && r.URL.Query().Get("deleteContents") != "true" {
		writeError(w, errInvalid(fmt.Sprintf("Dataset %s:%s is still in use", p, ds)))
		return
	}
	delete(s.datasets, p+"."+ds)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listTables(w http.ResponseWriter, r *http.Request) {
	p, ds := r.PathValue("project"), r.PathValue("dataset")
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.datasetLocked(p, ds)
	if d == nil {
		writeError(w, errNotFound(fmt.Sprintf("Not found: Dataset %s:%s", p, ds)))
		return
	}
	ids := make([]string, 0, len(d.tables))
	for id := range d.tables {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := &bq.TableList{Kind: "bigquery#tableList", TotalItems: int64(len(ids))}
	for _, id := range ids {
		m := d.tables[id].meta
		out.Tables = append(out.Tables, &bq.TableListTables{
			Kind: "bigquery#table", Id: m.Id, Type: m.Type,
			TableReference:   clone(m.TableReference),
			TimePartitioning: clone(m.TimePartitioning),
			Clustering:       clone(m.Clustering),
			CreationTime:     m.CreationTime,
			ExpirationTime:   m.ExpirationTime,
			Labels:           m.Labels,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getTable(w http.ResponseWriter, r *http.Request) {
	p, ds, id := r.PathValue("project"), r.PathValue("dataset"), r.PathValue("table")
	s.mu.Lock()
	defer s.mu.Unlock()
	base, dec, hasDec := splitDecorator(id)
	t := s.tableLocked(p, ds, base)
	if t == nil {
		writeError(w, s.missingLocked(p, ds, base))
		return
	}
	if !hasDec {
		writeJSON(w, http.StatusOK, t.meta)
		return
	}
	if err := checkDecorator(tableName(p, ds, base), dec, t.meta.TimePartitioning); err != nil {
		writeError(w, err)
		return
	}
	// A partition: the table's metadata with the partition's row count.
	m := clone(t.meta)
	m.NumRows = 0
	for _, r := range t.rows {
		if r.partition == dec {
			m.NumRows++
		}
	}
	writeJSON(w, http.StatusOK, m)
}

// missingLocked is the notFound error for a missing table: the dataset's
// when the dataset is missing.
func (s *Server) missingLocked(p, ds, id string) *apiError {
	if s.datasetLocked(p, ds) == nil {
		return errNotFound(fmt.Sprintf("Not found: Dataset %s:%s", p, ds))
	}
	return errNotFound(fmt.Sprintf("Not found: Table %s", tableName(p, ds, id)))
}

func (s *Server) insertTable(w http.ResponseWriter, r *http.Request) {
	p, ds := r.PathValue("project"), r.PathValue("dataset")
	var in bq.Table
	if !readJSON(w, r, &in) {
		return
	}
	if in.TableReference == nil || in.TableReference.TableId == "" {
		writeError(w, errInvalid("Table reference is required: tableReference.tableId is missing"))
		return
	}
	id := in.TableReference.TableId
	if strings.ContainsAny(id, "$.:") {
		writeError(w, errInvalid(fmt.Sprintf("Invalid table ID %q. Table IDs must be alphanumeric (plus underscores) and must be at most 1024 characters long. Also, Table decorators cannot be used.", id)))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.datasetLocked(p, ds)
	if d == nil {
		writeError(w, errNotFound(fmt.Sprintf("Not found: Dataset %s:%s", p, ds)))
		return
	}
	if d.tables[id] != nil {
		writeError(w, errDuplicate(fmt.Sprintf("Already Exists: Table %s", tableName(p, ds, id))))
		return
	}
	t, err := s.newTableLocked(d, id, &in)
	if err != nil {
		writeError(w, err)
		return
	}
	d.tables[id] = t
	writeJSON(w, http.StatusOK, t.meta)
}

// newTableLocked validates a table resource and makes the table (not yet
// added to its dataset).
func (s *Server) newTableLocked(d *dataset, id string, in *bq.Table) (*table, *apiError) {
	p, ds := d.meta.DatasetReference.ProjectId, d.meta.DatasetReference.DatasetId
	meta := clone(in)
	if meta.Schema != nil {
		fields, err := normalizeSchema(meta.Schema.Fields)
		if err != nil {
			return nil, err
		}
		meta.Schema = &bq.TableSchema{Fields: fields}
	}
	if meta.View != nil || meta.MaterializedView != nil || meta.ExternalDataConfiguration != nil {
		return nil, errInvalid("bqtest: views, materialized views and external tables are not supported by this test server")
	}
	if meta.RangePartitioning != nil {
		return nil, errInvalid("bqtest: integer range partitioning is not supported by this test server")
	}
	var fields []*bq.TableFieldSchema
	if meta.Schema != nil {
		fields = meta.Schema.Fields
	}
	if meta.TimePartitioning != nil {
		if err := checkPartitioning(meta.TimePartitioning, fields); err != nil {
			return nil, err
		}
	}
	if meta.Clustering != nil {
		if err := checkClustering(meta.Clustering, fields); err != nil {
			return nil, err
		}
	}
	now := nowMillis(time.Now())
	meta.Kind = "bigquery#table"
	meta.Id = tableName(p, ds, id)
	meta.TableReference = &bq.TableReference{ProjectId: p, DatasetId: ds, TableId: id}
	meta.Type = "TABLE"
	meta.Location = d.meta.Location
	meta.CreationTime = now
	meta.SelfLink = s.URL() + "/bigquery/v2/projects/" + p + "/datasets/" + ds + "/tables/" + id
	t := &table{meta: meta}
	s.touchLocked(t)
	return t, nil
}

func (s *Server) deleteTable(w http.ResponseWriter, r *http.Request) {
	p, ds, id := r.PathValue("project"), r.PathValue("dataset"), r.PathValue("table")
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tableLocked(p, ds, id)
	if t == nil {
		writeError(w, s.missingLocked(p, ds, id))
		return
	}
	delete(s.datasetLocked(p, ds).tables, id)
	w.WriteHeader(http.StatusNoContent)
}

// patchTable is tables.patch; tables.update (PUT) is handled the same way:
// only the fields present in the body change.
func (s *Server) patchTable(w http.ResponseWriter, r *http.Request) {
	p, ds, id := r.PathValue("project"), r.PathValue("dataset"), r.PathValue("table")
	var raw map[string]json.RawMessage
	if !readJSON(w, r, &raw) {
		return
	}
	b, _ := json.Marshal(raw)
	var in bq.Table
	if err := json.Unmarshal(b, &in); err != nil {
		writeError(w, errInvalid("Invalid JSON payload received. "+err.Error()))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tableLocked(p, ds, id)
	if t == nil {
		writeError(w, s.missingLocked(p, ds, id))
		return
	}
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != t.meta.Etag {
		writeError(w, &apiError{code: http.StatusPreconditionFailed, reason: "conditionNotMet", message: "Precondition check failed."})
		return
	}
	next := clone(t.meta)
	if _, ok := raw["schema"]; ok && in.Schema != nil {
		var old []*bq.TableFieldSchema
		if next.Schema != nil {
			old = next.Schema.Fields
		}
		merged, err := mergeSchema(tableName(p, ds, id), old, in.Schema.Fields, schemaChange{add: true, relax: true})
		if err != nil {
			writeError(w, err)
			return
		}
		next.Schema = &bq.TableSchema{Fields: merged}
	}
	if _, ok := raw["description"]; ok {
		next.Description = in.Description
	}
	if _, ok := raw["friendlyName"]; ok {
		next.FriendlyName = in.FriendlyName
	}
	if _, ok := raw["labels"]; ok {
		next.Labels = in.Labels
	}
	if _, ok := raw["expirationTime"]; ok {
		next.ExpirationTime = in.ExpirationTime
	}
	if _, ok := raw["requirePartitionFilter"]; ok {
		next.RequirePartitionFilter = in.RequirePartitionFilter
	}
	var fields []*bq.TableFieldSchema
	if next.Schema != nil {
		fields = next.Schema.Fields
	}
	if _, ok := raw["clustering"]; ok {
		if in.Clustering != nil && len(in.Clustering.Fields) > 0 {
			if err := checkClustering(in.Clustering, fields); err != nil {
				writeError(w, err)
				return
			}
			next.Clustering = in.Clustering
		} else {
			next.Clustering = nil
		}
	}
	if _, ok := raw["timePartitioning"]; ok && in.TimePartitioning != nil {
		tp := in.TimePartitioning
		if tp.Type == "" {
			tp.Type = "DAY"
		}
		old := next.TimePartitioning
		if old == nil || !strings.EqualFold(old.Type, tp.Type) || !strings.EqualFold(old.Field, tp.Field) {
			writeError(w, errInvalid(fmt.Sprintf("Cannot change partitioning spec for table %s: changing the partitioning type or field of an existing table is not allowed", tableName(p, ds, id))))
			return
		}
		old.ExpirationMs = tp.ExpirationMs
	}
	t.meta = next
	s.touchLocked(t)
	writeJSON(w, http.StatusOK, t.meta)
}
