package bigquery

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/barge-dev/barge/output/bigquery/bqschema"
	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/strftime"
)

// What a source must be for a loader to load its objects, as far as the
// configuration tells: barge check applies these rules (and barge run
// logs the warnings), barge schema infer samples the objects of the same
// source.

// SourceSpec is what CheckSource looks at: the loader's settings and,
// when it follows an output (source_output), how that output writes its
// objects.
type SourceSpec struct {
	PartitionType    string // HOUR, DAY or MONTH
	PartitionField   string
	ClusteringFields []string
	AutoCreateTable  bool
	SchemaPath       string
	Staging          string
	// Output is the output the loader follows; nil for a loader with a
	// source of its own (only its schema_path is checked).
	Output *OutputSpec
}

// SourceSpec is the spec of a loader of c that follows out (nil: none).
func (c *Config) SourceSpec(out *OutputSpec) SourceSpec {
	return SourceSpec{PartitionType: c.PartitionType, PartitionField: c.PartitionField, ClusteringFields: c.ClusteringFields,
		AutoCreateTable: c.AutoCreateTable, SchemaPath: c.SchemaPath, Staging: c.Staging, Output: out}
}

// OutputSpec is how a gcs or s3 output writes its objects.
type OutputSpec struct {
	ID    string // its @id, as source_output names it
	Label string // its directive, for messages: <match app.**>
	Type  string // gcs or s3
	// Bucket and Path: objects are named Path (a template: ${tag},
	// ${KEY}, strftime, %{...}) followed by the rest of the object key.
	Bucket  string
	Path    string
	StoreAs string
	// Format and KeyStyle are its <format> @type and key_style.
	Format   string
	KeyStyle string
	// TimeKey, TimeType and TimeFormat are its <inject>'s.
	TimeKey    string
	TimeType   string
	TimeFormat string
	// ChunkKeys and Timekey are its <buffer>'s; TimekeyLocation is the
	// zone its time chunks are cut in, nil when it does not parse.
	ChunkKeys       []string
	Timekey         time.Duration
	TimekeyLocation *time.Location
}

// SourceCheck is what CheckSource found.
type SourceCheck struct {
	// Source is the loader's source for the output: gs://BUCKET/ or
	// s3://BUCKET/ and the output's path up to its first placeholder.
	// Its time conversions stay when the output cuts its chunks in UTC
	// and they can be listed by time (CheckPrefixTemplate): then a load
	// cycle lists only the open partitions' prefixes.
	Source string
	// List is where a listing of every object of Source starts: Source
	// up to its first time conversion. Empty without an output.
	List string
	// Errors make the configuration fail; Warnings name loads that will
	// fail, or may.
	Errors   []SourceProblem
	Warnings []SourceProblem
}

// SourceProblem is a rule a source breaks.
type SourceProblem struct {
	// Param is the loader parameter it is reported at: source_output,
	// schema_path, partition_field or clustering_fields.
	Param string
	Msg   string
}

func (p SourceProblem) Error() string { return p.Msg }

// CheckSource checks, without I/O other than reading schema_path, that a
// loader's objects will load: schema_path against partition_field and
// clustering_fields first (when they fail, nothing else is checked), then
// the output's format, compression, time chunks and injected time (the
// first problem only). Warnings are given only when there is no error.
func CheckSource(spec SourceSpec) SourceCheck {
	var c SourceCheck
	if o := spec.Output; o != nil {
		c.Source, c.List = sourcePrefix(o)
	}
	s, readErr, err := readSchema(spec.SchemaPath)
	if err != nil {
		c.Errors = append(c.Errors, SourceProblem{"schema_path", fmt.Sprintf("'schema_path' %s: %v", spec.SchemaPath, err)})
		return c
	}
	if c.Errors = schemaProblems(spec, s); len(c.Errors) > 0 {
		return c
	}
	if readErr != nil {
		c.Warnings = append(c.Warnings, SourceProblem{"schema_path", fmt.Sprintf("'schema_path': %v; its columns were not checked", readErr)})
	}
	o := spec.Output
	if o == nil {
		return c
	}
	if msg := outputProblem(spec, o, s); msg != "" {
		c.Errors = append(c.Errors, SourceProblem{"source_output", msg})
		c.Warnings = nil
		return c
	}
	if o.KeyStyle != format.KeyStyleBigQuery {
		style := o.KeyStyle
		if style == "" {
			style = format.KeyStyleAsIs
		}
		bad := "a record key that is not a BigQuery column name (#TH, a.b, -x, 1st)"
		if s != nil {
			bad = fmt.Sprintf("the columns of schema_path %s are valid names, but a record key that is not (#TH, a.b, -x, 1st) matches none and", spec.SchemaPath)
		}
		c.Warnings = append(c.Warnings, SourceProblem{"source_output", fmt.Sprintf("'source_output' %q writes record keys as they are (key_style %s): %s makes its record a bad row, which fails the load (with ignore_unknown_values, the key's value is dropped instead); set key_style bigquery in the <format> of %s (@id %s)",
			o.ID, style, bad, o.Label, o.ID)})
	}
	if msg, certain := timeFormatProblem(spec, o, s); msg != "" && !certain {
		c.Warnings = append(c.Warnings, SourceProblem{"source_output", msg})
	}
	return c
}

// sourcePrefix is the source of a loader of o, and where its full listing
// starts. The path up to its first ${...} placeholder (a tag, a record
// key) is the source. Time conversions before it stay when the output
// cuts its chunks in UTC and they form a prefix template; else the source
// is the part before any '%'.
func sourcePrefix(o *OutputSpec) (source, list string) {
	scheme := "gs"
	if o.Type == "s3" {
		scheme = "s3"
	}
	prefix := o.Path
	if i := strings.IndexByte(prefix, '$'); i >= 0 {
		prefix = prefix[:strings.LastIndex(prefix[:i], "/")+1]
	}
	if strings.Contains(prefix, "%") && (o.TimekeyLocation != time.UTC || CheckPrefixTemplate(prefix) != nil) {
		prefix = prefix[:strings.LastIndex(prefix[:strings.IndexByte(prefix, '%')], "/")+1]
	}
	source = scheme + "://" + o.Bucket + "/" + prefix
	// Listed as New lists it: the prefix as ParseSource has it, up to
	// its template's first conversion.
	list = source
	if _, bucket, p, err := ParseSource(source); err == nil {
		if t, _ := parsePrefixTemplate(p); t != nil {
			p = t.static
		}
		list = scheme + "://" + bucket + "/" + p
	}
	return source, list
}

// outputProblem is the first reason the objects of o do not load into
// the loader's table, or "".
func outputProblem(spec SourceSpec, o *OutputSpec, s bqschema.Schema) string {
	id := o.ID
	if o.Type == "s3" && spec.Staging == "" {
		return fmt.Sprintf("'source_output' %q is an s3 output: set 'staging' gs://BUCKET/PREFIX/, where its objects are copied for loading (BigQuery loads only from GCS)", id)
	}
	if o.Format != "json" {
		return fmt.Sprintf("'source_output' %q writes <format> %s; BigQuery loads JSON lines: use <format> @type json", id, o.Format)
	}
	if o.StoreAs != "gzip" && o.StoreAs != "json" {
		return fmt.Sprintf("'source_output' %q stores %s objects; BigQuery loads gzip or plain JSON: use store_as gzip or json", id, o.StoreAs)
	}
	if !hasKey(o.ChunkKeys, "time") {
		return fmt.Sprintf("'source_output' %q must chunk by time so that each object holds one partition: <buffer time> with a timekey that divides one %s", id, strings.ToLower(spec.PartitionType))
	}
	if err := timekeyFits(o.Timekey, spec.PartitionType); err != nil {
		return fmt.Sprintf("'source_output' %q: %v", id, err)
	}
	if o.TimekeyLocation != nil {
		if err := zoneFits(o.Timekey, o.TimekeyLocation); err != nil {
			return fmt.Sprintf("'source_output' %q: %v", id, err)
		}
	}
	if f := spec.PartitionField; f != "" && o.TimeKey != f {
		return fmt.Sprintf("'partition_field' %s needs the output %q to write the event time there: <inject> time_key %s, time_type string, time_format %%Y-%%m-%%dT%%H:%%M:%%S.%%6N%%:z, utc true (BigQuery keeps microseconds)", f, id, f)
	}
	if f := spec.PartitionField; f != "" && strings.HasPrefix(o.TimeType, "unixtime_") {
		return fmt.Sprintf("'partition_field' %s: the output %q writes it as time_type %s, a number BigQuery reads as seconds since the epoch (out of its range): use time_type string, time_format %%Y-%%m-%%dT%%H:%%M:%%S.%%6N%%:z, utc true", f, id, o.TimeType)
	}
	if msg, certain := timeFormatProblem(spec, o, s); certain {
		return msg
	}
	return ""
}

// readSchema reads schema_path, as the loader does when it starts: nil
// without one. readErr is a file that cannot be read here (it may exist
// where barge runs); err a file that is not a valid schema.
func readSchema(path string) (s bqschema.Schema, readErr, err error) {
	if path == "" {
		return nil, nil, nil
	}
	data, err := os.ReadFile(path)
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

// schemaProblems checks partition_field and clustering_fields against the
// columns of schema s, as BigQuery does when the loader creates the table
// or loads into it.
func schemaProblems(spec SourceSpec, s bqschema.Schema) []SourceProblem {
	if s == nil {
		return nil
	}
	var out []SourceProblem
	add := func(param, format string, a ...any) {
		out = append(out, SourceProblem{param, fmt.Sprintf(format, a...)})
	}
	path := spec.SchemaPath
	if f := spec.PartitionField; f != "" {
		switch col := column(s, f); {
		case col == nil:
			add("partition_field", "'partition_field' %s is not a top-level column of schema_path %s", f, path)
		case col.Type != "TIMESTAMP" && col.Type != "DATE" && col.Type != "DATETIME":
			add("partition_field", "'partition_field' %s is a %s column of schema_path %s: BigQuery partitions on TIMESTAMP, DATE or DATETIME", f, col.Type, path)
		case col.Mode == bqschema.Repeated:
			add("partition_field", "'partition_field' %s is a REPEATED column of schema_path %s: BigQuery cannot partition on it", f, path)
		case col.Type == "DATE" && spec.PartitionType == "HOUR":
			add("partition_field", "'partition_field' %s is a DATE column of schema_path %s: partition_type HOUR needs a TIMESTAMP or DATETIME column", f, path)
		}
	}
	// Clustering is given only when the loader creates the table.
	if spec.AutoCreateTable {
		for _, f := range spec.ClusteringFields {
			switch col := column(s, f); {
			case col == nil:
				add("clustering_fields", "'clustering_fields' %s is not a top-level column of schema_path %s", f, path)
			case col.Mode == bqschema.Repeated || col.Type == "RECORD" || col.Type == "JSON" || col.Type == "FLOAT":
				add("clustering_fields", "'clustering_fields' %s is a %s column of schema_path %s: BigQuery clusters only on columns that are not REPEATED, RECORD, JSON or FLOAT", f, strings.TrimSpace(col.Mode+" "+col.Type), path)
			}
		}
	}
	return out
}

// timeFormatProblem reports an injected string time with more than six
// fractional-second digits, which BigQuery refuses in a TIMESTAMP or
// DATETIME column. certain is true when the time goes to the partition
// column or to such a column of the schema; false when barge does not
// know the column's type (it may be a STRING). The message is empty when
// there is no problem.
func timeFormatProblem(spec SourceSpec, o *OutputSpec, s bqschema.Schema) (msg string, certain bool) {
	if o.TimeKey == "" || o.TimeType != "string" {
		return "", false
	}
	layout := o.TimeFormat
	if layout == "" {
		layout = format.DefaultTimeFormat
	}
	if !subMicrosecond(layout) {
		return "", false
	}
	col := column(s, o.TimeKey)
	what, typ, unless := "'time_key' "+o.TimeKey, "TIMESTAMP or DATETIME", ", unless the column is a STRING"
	switch {
	case o.TimeKey == spec.PartitionField:
		what, typ, unless, certain = "the partition column "+o.TimeKey, "TIMESTAMP", "", true
		if col != nil {
			typ = col.Type
		}
	case col != nil && (col.Type == "TIMESTAMP" || col.Type == "DATETIME"):
		typ, unless, certain = col.Type, "", true
	case s != nil:
		return "", false // a column of another type, or none
	}
	return fmt.Sprintf("'source_output' %q writes %s with time_format %q: more than 6 fractional-second digits, which a BigQuery %s column refuses in loads (it keeps microseconds): use %%6N%s", o.ID, what, layout, typ, unless), certain
}

// subMicrosecond reports whether a strftime format prints digits finer
// than the microsecond (%N, %9N, %7N, %12N...), by formatting instants 1,
// 10 and 100 ns apart with the outputs' own strftime.
func subMicrosecond(format string) bool {
	f := strftime.Compile(format)
	t := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	base := f.Format(t)
	for _, d := range []time.Duration{1, 10, 100} {
		if f.Format(t.Add(d)) != base {
			return true
		}
	}
	return false
}

// zoneFits checks that time chunks cut in loc start on UTC partition
// boundaries: BigQuery partitions are UTC, so a zone whose offset is not a
// multiple of the timekey (timekey 1d at +09:00, 1h at +05:30) would cut
// chunks that straddle two partitions. Summer and winter offsets are both
// checked.
func zoneFits(tk time.Duration, loc *time.Location) error {
	year := time.Now().Year()
	for _, month := range []time.Month{time.January, time.July} {
		_, off := time.Date(year, month, 1, 0, 0, 0, 0, loc).Zone()
		if time.Duration(off)*time.Second%tk != 0 {
			return fmt.Errorf("timekey %v cut in zone %s (UTC%+.4g h) starts chunks off the UTC partition boundaries, so objects would mix partitions: set timekey_use_utc true", tk, loc, float64(off)/3600)
		}
	}
	return nil
}

func hasKey(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// timekeyFits checks that chunks never straddle a partition boundary.
func timekeyFits(tk time.Duration, partition string) error {
	limit := 24 * time.Hour
	if partition == "HOUR" {
		limit = time.Hour
	}
	if tk <= 0 || tk > limit || limit%tk != 0 {
		return fmt.Errorf("timekey %v would mix %s partitions in one object: use a timekey that divides %v", tk, strings.ToLower(partition), limit)
	}
	return nil
}
