package bigquery

import (
	"context"
	"errors"
	"fmt"
	"strings"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"
)

// Verification: a job the server calls successful is only believed when
// the table holds the rows the archive says it should. The archive's
// figure is the sum of the objects' barge-records; the table's is the
// job's output rows where the server reports them (a replay's job writes
// the whole partition, an append's its own objects), else a COUNT(*) over
// the partition. A replay is always verified; appends with verify_rows.

// Ways a check counts rows.
const (
	byStatistics = "job statistics"
	byCount      = "COUNT(*)"
)

// MismatchError is a partition whose rows in the table are not the rows
// of its archived objects.
type MismatchError struct {
	Table     string // PROJECT:DATASET.TABLE
	Partition string
	Job       string
	Expected  int64 // from the objects' barge-records
	Got       int64 // in the table
	By        string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("rows mismatch in %s partition %s after job %s: the table holds %d rows, the archive has %d (counted by %s)",
		e.Table, e.Partition, e.Job, e.Got, e.Expected, e.By)
}

// unverifiedError is a check that could not be made.
type unverifiedError struct {
	partition string
	err       error
}

func (e *unverifiedError) Error() string {
	return fmt.Sprintf("rows of partition %s not verified: %v", e.partition, e.err)
}

func (e *unverifiedError) Unwrap() error { return e.err }

// verify checks the partition after job j succeeded with outcome out.
// committed are the objects the partition holds now (for an append, the
// ledger's committed set with j's objects). It returns the check to
// record (nil: nothing to compare against) and the error the command
// reports for a mismatch or a check that failed.
func (l *Loader) verify(ctx context.Context, d *ledger, j *jobRecord, out outcome, committed []string, records map[string]int64) (*rowCheck, error) {
	// What the job's own rows should be, and what the partition's.
	jobWant, jobOK := sumRecords(j.Objects, records)
	partWant, partOK := sumRecords(committed, records)
	c := &rowCheck{Job: j.ID, At: l.now().UTC()}
	jobs := int64(1)
	switch {
	case out.rowsKnown && jobOK:
		// A replay's job wrote the whole partition; an append, its own
		// objects' rows.
		c.By, c.Expected, c.Got = byStatistics, jobWant, out.rows
	case partOK:
		got, err := l.countPartition(ctx, d.Partition)
		if err != nil {
			c.By = byCount
			return nil, &unverifiedError{partition: d.Partition, err: err}
		}
		c.By, c.Expected, c.Got = byCount, partWant, got
		for _, lj := range d.live() {
			if lj.ID != j.ID {
				jobs++
			}
		}
	default:
		n := 0
		for _, o := range committed {
			if r, ok := records[o]; !ok || r < 0 {
				n++
			}
		}
		l.log.Warn("rows not verified: objects not written by barge carry no barge-records", "partition", d.Partition, "objects", n)
		return nil, nil
	}
	// max_bad_records lets each job skip that many rows.
	short := c.Expected - c.Got
	c.OK = short == 0 || (short > 0 && short <= int64(l.cfg.MaxBadRecords)*jobs)
	if c.OK {
		return c, nil
	}
	return c, &MismatchError{Table: l.cfg.Project + ":" + l.table, Partition: d.Partition, Job: j.ID, Expected: c.Expected, Got: c.Got, By: c.By}
}

// sumRecords adds the barge-records of names; false if any is unknown.
func sumRecords(names []string, records map[string]int64) (int64, bool) {
	var n int64
	for _, o := range names {
		r, ok := records[o]
		if !ok || r < 0 {
			return 0, false
		}
		n += r
	}
	return n, true
}

// recordCounts maps each object of a listing to its barge-records.
func recordCounts(objs []object) map[string]int64 {
	m := make(map[string]int64, len(objs))
	for _, o := range objs {
		m[o.Name] = o.Records
	}
	return m
}

// countPartition counts the rows of a partition with a query.
func (l *Loader) countPartition(ctx context.Context, id string) (int64, error) {
	sql, err := l.countSQL(ctx, id)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	q := l.bq.Query(sql)
	q.Location = l.cfg.Location
	it, err := q.Read(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: %s", sql, l.describe(err))
	}
	var row []bq.Value
	if err := it.Next(&row); err != nil {
		if errors.Is(err, iterator.Done) {
			return 0, fmt.Errorf("%s: no result row", sql)
		}
		return 0, fmt.Errorf("%s: %s", sql, l.describe(err))
	}
	if len(row) != 1 {
		return 0, fmt.Errorf("%s: %d columns in the result", sql, len(row))
	}
	n, ok := row[0].(int64)
	if !ok {
		return 0, fmt.Errorf("%s: result %v is not an integer", sql, row[0])
	}
	return n, nil
}

// countSQL is the query that counts a partition's rows: a range over the
// partition column, typed as the column is, or _PARTITIONTIME for
// ingestion-time partitioning.
func (l *Loader) countSQL(ctx context.Context, id string) (string, error) {
	start, err := l.part.start(id)
	if err != nil {
		return "", err
	}
	end := l.part.end(start)
	table := "`" + l.projectName() + "." + l.cfg.Dataset + "." + l.cfg.Table + "`"
	f := l.cfg.PartitionField
	if f == "" {
		return fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE _PARTITIONTIME = TIMESTAMP %q", table, start.Format("2006-01-02 15:04:05+00")), nil
	}
	typ, err := l.fieldType(ctx, f)
	if err != nil {
		return "", err
	}
	// A literal of the column's type: DATE "2026-12-02".
	keyword, layout := "TIMESTAMP", "2006-01-02 15:04:05+00"
	switch typ {
	case bq.DateFieldType:
		keyword, layout = "DATE", "2006-01-02"
	case bq.DateTimeFieldType:
		keyword, layout = "DATETIME", "2006-01-02 15:04:05"
	}
	lo := fmt.Sprintf("%s %q", keyword, start.Format(layout))
	hi := fmt.Sprintf("%s %q", keyword, end.Format(layout))
	col := "`" + f + "`"
	return fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s >= %s AND %s < %s", table, col, lo, col, hi), nil
}

// fieldType is the type of a top-level column, from the loader's schema
// or the table's.
func (l *Loader) fieldType(ctx context.Context, name string) (bq.FieldType, error) {
	l.mu.Lock()
	s := l.schema
	l.mu.Unlock()
	if s == nil {
		mctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
		md, err := l.bq.Dataset(l.cfg.Dataset).Table(l.cfg.Table).Metadata(mctx)
		cancel()
		if err != nil {
			return "", fmt.Errorf("get table %s: %s", l.table, l.describe(err))
		}
		s = md.Schema
	}
	for _, fs := range s {
		if strings.EqualFold(fs.Name, name) {
			return fs.Type, nil
		}
	}
	return "", fmt.Errorf("partition_field %s is not a column of %s", name, l.table)
}
