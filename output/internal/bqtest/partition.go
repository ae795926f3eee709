package bqtest

import (
	"fmt"
	"strings"
	"time"

	bq "google.golang.org/api/bigquery/v2"
)

var partitionLayouts = map[string]string{
	"HOUR": "2006010215", "DAY": "20060102", "MONTH": "200601", "YEAR": "2006",
}

// Time-unit column partitions cover 1960-01-01 to 2159-12-31 (UTC); rows
// outside go to __UNPARTITIONED__.
var (
	firstPartition = time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
	endPartition   = time.Date(2160, 1, 1, 0, 0, 0, 0, time.UTC)
)

// partitionID is the id of the partition of t (in UTC).
func partitionID(t time.Time, typ string) string {
	t = t.UTC()
	if t.Before(firstPartition) || !t.Before(endPartition) {
		return partitionUnpartitioned
	}
	return t.Format(partitionLayouts[upper(typ)])
}

// splitDecorator splits "table$P".
func splitDecorator(id string) (base, dec string, has bool) {
	return strings.Cut(id, "$")
}

// checkDecorator validates a partition decorator against a table's
// partitioning.
func checkDecorator(table, dec string, tp *bq.TimePartitioning) *apiError {
	if tp == nil {
		return errInvalid(fmt.Sprintf("Cannot read partition information from a table that is not partitioned: %s$%s", table, dec))
	}
	if tp.Field != "" && (dec == partitionNull || dec == partitionUnpartitioned) {
		return nil
	}
	layout := partitionLayouts[upper(tp.Type)]
	if t, err := time.Parse(layout, dec); err != nil || len(dec) != len(layout) || t.Format(layout) != dec {
		return errInvalid(fmt.Sprintf("Invalid partition decorator %s$%s: table %s is partitioned by %s, whose partition ids have the form %s", table, dec, table, upper(tp.Type), strings.NewReplacer("2006", "YYYY", "01", "MM", "02", "DD", "15", "HH").Replace(layout)))
	}
	return nil
}

// rowPartition is the partition a row goes to: by its partitioning column,
// or for ingestion-time partitioning the decorator's partition or now's.
// It is "" for a table that is not partitioned.
func rowPartition(values map[string]any, tp *bq.TimePartitioning, fields []*bq.TableFieldSchema, dec string, now time.Time) string {
	if tp == nil {
		return ""
	}
	if tp.Field == "" {
		if dec != "" {
			return dec
		}
		return partitionID(now, tp.Type)
	}
	f := findField(fields, tp.Field)
	if f == nil {
		return partitionNull
	}
	t, ok := partitionTime(values, f)
	if !ok {
		return partitionNull
	}
	return partitionID(t, tp.Type)
}

func partitionMismatch(dec string) *apiError {
	return errInvalid(fmt.Sprintf("Some rows belong to different partitions rather than destination partition %s", dec))
}
