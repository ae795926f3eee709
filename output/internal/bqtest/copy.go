package bqtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bq "google.golang.org/api/bigquery/v2"
)

// runCopy copies source tables (or partitions) to a destination table or
// partition, all or nothing.
func (s *Server) runCopy(project, loc string, cfg *bq.JobConfigurationTableCopy) outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	stats := &bq.JobStatistics5{}
	fail := func(e *apiError) outcome { return outcome{err: e, cp: stats} }

	var srcRows []row
	var srcFields []*bq.TableFieldSchema
	var srcTP *bq.TimePartitioning
	var srcClustering *bq.Clustering
	for i, ref := range copySources(cfg) {
		p := orProject(ref.ProjectId, project)
		base, dec, hasDec := splitDecorator(ref.TableId)
		st := s.tableLocked(p, ref.DatasetId, base)
		if st == nil {
			return fail(s.missingLocked(p, ref.DatasetId, base))
		}
		var fields []*bq.TableFieldSchema
		if st.meta.Schema != nil {
			fields = st.meta.Schema.Fields
		}
		if i == 0 {
			srcFields, srcTP, srcClustering = fields, st.meta.TimePartitioning, st.meta.Clustering
		} else if !sameSchema(srcFields, fields) {
			return fail(errInvalid(fmt.Sprintf("Cannot copy tables with different schemas in one job: %s differs from the first source", tableName(p, ref.DatasetId, base))))
		}
		if hasDec {
			if err := checkDecorator(tableName(p, ref.DatasetId, base), dec, st.meta.TimePartitioning); err != nil {
				return fail(err)
			}
		}
		for _, r := range st.rows {
			if !hasDec || r.partition == dec {
				srcRows = append(srcRows, r)
			}
		}
	}

	tg, terr := s.targetLocked(project, loc, cfg.DestinationTable)
	if terr != nil {
		return fail(terr)
	}
	d, base, dec, hasDec, name := tg.d, tg.base, tg.dec, tg.hasDec, tg.name
	write := orDefault(cfg.WriteDisposition, "WRITE_EMPTY")
	t := d.tables[base]
	fields, tp := srcFields, srcTP
	if t == nil {
		if orDefault(cfg.CreateDisposition, "CREATE_IF_NEEDED") == "CREATE_NEVER" {
			return fail(errNotFound("Not found: Table " + name))
		}
	} else {
		tp = t.meta.TimePartitioning
		var dstFields []*bq.TableFieldSchema
		if t.meta.Schema != nil {
			dstFields = t.meta.Schema.Fields
		}
		if write != "WRITE_TRUNCATE" || hasDec {
			if !sameSchema(dstFields, srcFields) {
				return fail(errInvalid(fmt.Sprintf("Provided Schema does not match Table %s. A copy needs the source and destination schemas to have the same fields, types and modes.", name)))
			}
			fields = dstFields
		}
		if tp != nil && tp.Field != "" && !samePartitioning(tp, srcTP) {
			return fail(errInvalid(fmt.Sprintf("Incompatible table partitioning specification when copying to the column partitioned table %s: only the same partitioning specification is allowed. Expects %s, but the source has %s", name, describePartitioning(tp), describePartitioning(srcTP))))
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

	now := time.Now()
	rows := make([]row, 0, len(srcRows))
	for _, r := range srcRows {
		pid := ""
		switch {
		case tp == nil:
		case tp.Field != "":
			pid = rowPartition(r.values, tp, fields, dec, now)
		case hasDec:
			pid = dec
		case srcTP != nil && srcTP.Field == "" && strings.EqualFold(srcTP.Type, tp.Type):
			pid = r.partition // ingestion-time partitions keep their ids
		default:
			pid = partitionID(now, tp.Type)
		}
		if hasDec && pid != dec {
			return fail(partitionMismatch(dec))
		}
		rows = append(rows, row{partition: pid, values: deepCopy(r.values).(map[string]any)})
	}

	if t == nil {
		nt, err := s.newTableLocked(d, base, &bq.Table{Schema: &bq.TableSchema{Fields: fields}, TimePartitioning: clone(srcTP), Clustering: clone(srcClustering)})
		if err != nil {
			return fail(err)
		}
		t = nt
		d.tables[base] = t
	} else if write == "WRITE_TRUNCATE" && !hasDec {
		t.meta.Schema = &bq.TableSchema{Fields: fields}
	}
	writeRows(t, rows, write == "WRITE_TRUNCATE", dec, hasDec)
	s.touchLocked(t)
	stats.CopiedRows = int64(len(rows))
	for _, r := range rows {
		b, _ := json.Marshal(r.values)
		stats.CopiedLogicalBytes += int64(len(b))
	}
	return outcome{cp: stats}
}
