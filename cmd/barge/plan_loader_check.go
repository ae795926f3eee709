package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/barge-dev/barge/conf"
	"github.com/barge-dev/barge/output"
	"github.com/barge-dev/barge/output/bigquery"
	"github.com/barge-dev/barge/output/bigquery/bqschema"
)

// The checks of a <loader> that tell, from the config alone, what its
// loads would fail on at run time.

// matchByID returns the <match> whose @id is id (the last, as Fluentd's
// last parameter wins), or nil.
func (p *plan) matchByID(id string) *matchPlan {
	var m *matchPlan
	for i := range p.matches {
		if p.matches[i].sec.Get("@id") == id {
			m = &p.matches[i]
		}
	}
	return m
}

// objectFormat is how a gcs or s3 output writes its records; ok is false
// for the other outputs.
func (m *matchPlan) objectFormat() (f output.FormatConfig, in output.InjectConfig, ok bool) {
	switch m.typ {
	case "gcs":
		return m.gcs.Format, m.gcs.Inject, true
	case "s3":
		return m.s3.Format, m.s3.Inject, true
	}
	return f, in, false
}

// loaderSchema reads the loader's schema_path, as the loader does when it
// starts: nil without one. readErr is a file that cannot be read here (it
// may exist where barge runs); err a file that is not a valid schema.
func loaderSchema(cfg *bigquery.Config) (s bqschema.Schema, readErr, err error) {
	if cfg.SchemaPath == "" {
		return nil, nil, nil
	}
	data, err := os.ReadFile(cfg.SchemaPath)
	if err != nil {
		return nil, err, nil
	}
	s, err = bqschema.Parse(data)
	return s, nil, err
}

// column returns the top-level column named name (BigQuery column names
// are case-insensitive), or nil.
func column(s bqschema.Schema, name string) *bqschema.Field {
	for _, f := range s {
		if strings.EqualFold(f.Name, name) {
			return f
		}
	}
	return nil
}

// checkLoaderSchema checks schema_path, and partition_field and
// clustering_fields against its columns, as BigQuery does when the loader
// creates the table or loads into it.
func checkLoaderSchema(lp *loaderPlan) error {
	c := &lp.cfg
	s, _, err := loaderSchema(c)
	if err != nil {
		return conf.ParamErrorf(lp.sec.Param("schema_path"), "'schema_path' %s: %v", c.SchemaPath, err)
	}
	if s == nil {
		return nil
	}
	var errs conf.Errors
	if f := c.PartitionField; f != "" {
		at := lp.sec.Param("partition_field")
		switch col := column(s, f); {
		case col == nil:
			errs = append(errs, conf.ParamErrorf(at, "'partition_field' %s is not a top-level column of schema_path %s", f, c.SchemaPath))
		case col.Type != "TIMESTAMP" && col.Type != "DATE" && col.Type != "DATETIME":
			errs = append(errs, conf.ParamErrorf(at, "'partition_field' %s is a %s column of schema_path %s: BigQuery partitions on TIMESTAMP, DATE or DATETIME", f, col.Type, c.SchemaPath))
		case col.Mode == bqschema.Repeated:
			errs = append(errs, conf.ParamErrorf(at, "'partition_field' %s is a REPEATED column of schema_path %s: BigQuery cannot partition on it", f, c.SchemaPath))
		case col.Type == "DATE" && c.PartitionType == "HOUR":
			errs = append(errs, conf.ParamErrorf(at, "'partition_field' %s is a DATE column of schema_path %s: partition_type HOUR needs a TIMESTAMP or DATETIME column", f, c.SchemaPath))
		}
	}
	// Clustering is given only when the loader creates the table.
	if c.AutoCreateTable {
		at := lp.sec.Param("clustering_fields")
		for _, f := range c.ClusteringFields {
			switch col := column(s, f); {
			case col == nil:
				errs = append(errs, conf.ParamErrorf(at, "'clustering_fields' %s is not a top-level column of schema_path %s", f, c.SchemaPath))
			case col.Mode == bqschema.Repeated || col.Type == "RECORD" || col.Type == "JSON" || col.Type == "FLOAT":
				errs = append(errs, conf.ParamErrorf(at, "'clustering_fields' %s is a %s column of schema_path %s: BigQuery clusters only on columns that are not REPEATED, RECORD, JSON or FLOAT", f, strings.TrimSpace(col.Mode+" "+col.Type), c.SchemaPath))
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// timeFormatProblem reports an injected string time with more than six
// fractional-second digits, which BigQuery refuses in a TIMESTAMP or
// DATETIME column. certain is true when the time goes to the partition
// column or to such a column of schema_path; false when barge does not
// know the column's type (it may be a STRING). The message is empty when
// there is no problem.
func timeFormatProblem(lp *loaderPlan, id string, in output.InjectConfig) (msg string, certain bool) {
	if in.TimeKey == "" || in.TimeType != "string" {
		return "", false
	}
	format := in.TimeFormat
	if format == "" {
		format = output.DefaultTimeFormat
	}
	if !subMicrosecond(format) {
		return "", false
	}
	s, _, _ := loaderSchema(&lp.cfg)
	col := column(s, in.TimeKey)
	what, typ, unless := "'time_key' "+in.TimeKey, "TIMESTAMP or DATETIME", ", unless the column is a STRING"
	switch {
	case in.TimeKey == lp.cfg.PartitionField:
		what, typ, unless, certain = "the partition column "+in.TimeKey, "TIMESTAMP", "", true
		if col != nil {
			typ = col.Type
		}
	case col != nil && (col.Type == "TIMESTAMP" || col.Type == "DATETIME"):
		typ, unless, certain = col.Type, "", true
	case s != nil:
		return "", false // a column of another type, or none
	}
	return fmt.Sprintf("'source_output' %q writes %s with time_format %q: more than 6 fractional-second digits, which a BigQuery %s column refuses in loads (it keeps microseconds): use %%6N%s", id, what, format, typ, unless), certain
}

// subMicrosecond reports whether a strftime format prints digits finer
// than the microsecond (%N, %9N, %7N, %12N...), by formatting instants 1,
// 10 and 100 ns apart with the outputs' own strftime.
func subMicrosecond(format string) bool {
	f := output.CompileStrftime(format)
	t := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	base := f.Format(t)
	for _, d := range []time.Duration{1, 10, 100} {
		if f.Format(t.Add(d)) != base {
			return true
		}
	}
	return false
}

// warning is a problem of the config that does not stop barge: some loads
// will fail, or whether they will depends on what only the run knows.
type warning struct {
	file string
	line int
	msg  string
}

func warnAt(at conf.Positioner, format string, args ...any) warning {
	w := warning{msg: fmt.Sprintf(format, args...)}
	if at != nil {
		w.file, w.line = at.Pos()
	}
	return w
}

// pos is FILE:LINE.
func (w warning) pos() string { return fmt.Sprintf("%s:%d", w.file, w.line) }

// String is FILE:LINE: warning: message.
func (w warning) String() string { return w.pos() + ": warning: " + w.msg }

// warnings lists what barge check prints and barge run logs at start
// about the loaders, in config order.
func (p *plan) warnings() []warning {
	var out []warning
	for i := range p.loaders {
		lp := &p.loaders[i]
		s, readErr, _ := loaderSchema(&lp.cfg)
		if readErr != nil {
			out = append(out, warnAt(lp.sec.Param("schema_path"), "'schema_path': %v; its columns were not checked", readErr))
		}
		at := lp.sec.Param("source_output")
		if at == nil {
			continue
		}
		id := at.Value
		m := p.matchByID(id)
		if m == nil {
			continue
		}
		format, inject, ok := m.objectFormat()
		if !ok {
			continue
		}
		if format.KeyStyle != output.KeyStyleBigQuery {
			style := format.KeyStyle
			if style == "" {
				style = output.KeyStyleAsIs
			}
			bad := "a record key that is not a BigQuery column name (#TH, a.b, -x, 1st)"
			if s != nil {
				bad = fmt.Sprintf("the columns of schema_path %s are valid names, but a record key that is not (#TH, a.b, -x, 1st) matches none and", lp.cfg.SchemaPath)
			}
			out = append(out, warnAt(at, "'source_output' %q writes record keys as they are (key_style %s): %s makes its record a bad row, which fails the load (with ignore_unknown_values, the key's value is dropped instead); set key_style bigquery in the <format> of %s (@id %s)",
				id, style, bad, m.sec.Label(), id))
		}
		if msg, certain := timeFormatProblem(lp, id, inject); msg != "" && !certain {
			out = append(out, warnAt(at, "%s", msg))
		}
	}
	return out
}
