// Package bqschema reads, writes and infers BigQuery table schemas in the
// JSON form of `bq show --schema` and `bq mk --schema FILE`.
//
// Parse accepts a schema file (an array of fields, or an object with
// "fields", or a table resource with "schema": {"fields": ...}) and checks
// it as BigQuery would: column names ([A-Za-z_][A-Za-z0-9_]*, at most 300
// characters, no reserved prefix such as _PARTITION, unique within a record
// case-insensitively), types, modes, nested fields only in RECORDs, at most
// 15 levels of nesting. Errors name the field by its path in the file:
// `fields[3].fields[0] "a.b": ...`. Types are returned in the names `bq show`
// prints (INT64 becomes INTEGER, FLOAT64 FLOAT, BOOL BOOLEAN, STRUCT RECORD)
// and modes in upper case; properties other than name, type, mode,
// description and fields (policyTags, maxLength...) are not kept.
//
// Inferrer derives a schema from NDJSON records, such as the objects an
// output with <format> key_style bigquery writes. Fields appear in the order
// they were first seen; all are NULLABLE, or REPEATED for arrays. Types
// widen as records disagree: INTEGER and FLOAT make FLOAT, TIMESTAMP and
// STRING make STRING, other scalar mixes STRING, anything mixing objects,
// scalars or nested arrays JSON. Keys must already be valid column names:
// the records are what BigQuery will load, and a schema cannot rename them.
package bqschema
