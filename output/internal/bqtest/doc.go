// Package bqtest is an in-process test server for the part of the BigQuery
// REST API v2 that barge's batch loader uses. It is for tests only: import
// it from _test.go files, never from the barge binary.
//
// It exists because github.com/goccy/bigquery-emulator lacks partition
// decorators, 409 on a reused job id, gzip loads, schema update options and
// failed-job status. It is not BigQuery and not an emulator: it has no SQL,
// no query jobs, no streaming inserts and no tabledata.list. What it does
// is written below, and nothing else should be assumed.
//
// # Serving
//
// Start listens on 127.0.0.1:0 (a real TCP listener) and closes at the end
// of the test. Give the client option.WithEndpoint(s.URL()) and
// option.WithoutAuthentication(), or use s.Client(t). Every route answers
// under both /bigquery/v2/projects/{p}/... and /projects/{p}/... (the Go
// client with an endpoint without a path uses the second). Query parameters
// such as fields, prettyPrint and view are ignored: full resources are
// returned. Errors use Google's JSON format
// {"error":{"code","message","errors":[{"reason","message","domain"}],"status"}};
// unknown routes and methods answer 404 notFound.
//
// Routes: datasets get, insert, delete (deleteContents); tables get (with a
// partition decorator: the table's metadata with that partition's numRows),
// insert,
// list (one page), patch, update (PUT, handled as patch: only fields
// present change), delete; jobs insert, get (location checked when given),
// list (newest first; stateFilter, minCreationTime, maxCreationTime,
// maxResults, pageToken; allUsers ignored). No cancel, no upload route.
//
// # Tables
//
// Schemas: STRING, BYTES, INTEGER/INT64, FLOAT/FLOAT64, NUMERIC,
// BIGNUMERIC, BOOLEAN/BOOL, TIMESTAMP, DATE, TIME, DATETIME, GEOGRAPHY,
// JSON, INTERVAL, RECORD/STRUCT with sub-fields; modes NULLABLE (the
// default), REQUIRED, REPEATED. Type names are reported back in their legacy
// form (INTEGER, FLOAT, BOOLEAN, RECORD) and modes always set. Column names
// are unique case-insensitively and matched case-insensitively. Time
// partitioning: HOUR, DAY (default), MONTH, YEAR, on a TIMESTAMP, DATE or
// DATETIME column (not REPEATED) or by ingestion time when the field is
// empty; integer-range partitioning, views and external tables are
// refused. Clustering: up to 4 existing top-level columns. numRows,
// numBytes (JSON size), creationTime, lastModifiedTime and an ETag are kept;
// tables.patch honours If-Match (412 conditionNotMet). A schema patch may
// add NULLABLE or REPEATED fields and relax REQUIRED to NULLABLE; removing
// a field, changing a type or mode otherwise, or adding a REQUIRED field is
// 400 "Provided Schema does not match Table ...". Partitioning type and
// field cannot be patched. expirationTime is stored but tables never
// expire.
//
// # Jobs
//
// Only load and copy jobs exist; anything else is 400. Job ids are unique
// per project (whatever the location): a reused id answers 409 duplicate
// "Already Exists: Job PROJECT:LOCATION.ID" and creates and runs nothing.
// A missing id gets a generated one. The location defaults to
// Options.Location; a job whose destination dataset has another location
// fails with notFound "Not found: Dataset P:D was not found in location L".
// jobs.get with a location other than the job's answers 404.
//
// Checked at jobs.insert (HTTP 400 invalid, no job created): job id syntax;
// destination table given; 1 to 10,000 source URIs, each gs://bucket/object
// with at most one '*'; sourceFormat NEWLINE_DELIMITED_JSON (CSV, the API
// default, Avro, Parquet and the rest are refused as not supported by this
// server); writeDisposition WRITE_APPEND, WRITE_TRUNCATE or WRITE_EMPTY;
// createDisposition CREATE_IF_NEEDED or CREATE_NEVER; schemaUpdateOptions
// ALLOW_FIELD_ADDITION and ALLOW_FIELD_RELAXATION, and only with
// WRITE_APPEND or with WRITE_TRUNCATE on a partition decorator.
//
// Everything else is checked when the job runs and reported as BigQuery
// does: HTTP 200, then status.state DONE with status.errorResult and
// status.errors. Jobs run synchronously inside jobs.insert, so its answer
// is already DONE, unless HoldJobs(true): then they stay RUNNING until
// HoldJobs(false) runs them. Statistics carry creationTime, startTime,
// endTime and load (inputFiles, inputFileBytes, outputRows, outputBytes,
// badRecords) or copy (copiedRows, copiedLogicalBytes). The configuration
// is echoed back as sent, with jobType set.
//
// # Load jobs
//
// Sources are read through Options.Storage (or Options.Open, which then
// reads every object; wildcards still list through Storage) as stored
// (ReadCompressed, whatever the Content-Encoding); an object that starts
// with the gzip magic bytes is gunzipped, as BigQuery does for NDJSON. A
// client made with storage.WithJSONReads cannot read compressed bytes:
// then the object is read decompressed and counts as compressed when its
// metadata says Content-Encoding gzip. With fake-gcs-server, XML reads
// (the default) need its PublicHost to match the Host the client sends
// (fakestorage's own Client() sends storage.googleapis.com, so it cannot
// read with PublicHost "127.0.0.1"); a job whose object exists but cannot
// be read fails with a message saying so.
// A '*' matches any run of characters (including '/') and needs Storage to
// list the bucket; no match, a missing object or bucket fail the job with
// notFound "Not found: URI gs://...". Compressed and uncompressed files in
// one job fail it (invalid; the wording is this server's).
//
// The destination may carry a partition decorator table$P, whose form must
// match the table's partitioning (YYYYMMDDHH, YYYYMMDD, YYYYMM, YYYY; also
// __NULL__ and __UNPARTITIONED__ for column partitioning); on a table that
// is not partitioned it fails. A missing table is created when
// createDisposition allows it, from the load's schema (or, with autodetect,
// a simple inference: union of keys, sorted, types from JSON values) and its
// timePartitioning and clustering; without a schema the job fails "No
// schema specified on job or table."; with CREATE_NEVER it fails notFound
// "Not found: Table P:D.T". A failed job creates nothing.
//
// Load schema against an existing table: a field not in the table needs
// ALLOW_FIELD_ADDITION ("Provided Schema does not match Table P:D.T. Cannot
// add fields (field: X)") and must not be REQUIRED; REQUIRED to NULLABLE
// needs ALLOW_FIELD_RELAXATION; a table field missing from the load schema,
// a type change or another mode change fail. WRITE_TRUNCATE without a
// decorator replaces the table's schema by the load's. A timePartitioning
// in the load that differs from the table's fails ("Incompatible table
// partitioning specification..."); a load clustering spec is ignored for an
// existing table.
//
// Rows: one JSON object per non-blank line. A row is bad when it is not a
// JSON object, has a field that is not in the schema (unless
// ignoreUnknownValues: "No such field: X."), lacks a REQUIRED field, has
// NULL in a REQUIRED field, an array for a non-repeated field or no array
// for a REPEATED one, or a value its type refuses:
//   - INTEGER: an integral JSON number or a string of one, within int64;
//   - FLOAT: a number, a numeric string, NaN or (+/-)Infinity strings;
//   - NUMERIC: at most 29 integer and 9 fractional digits (BIGNUMERIC 39/38);
//   - BOOLEAN: true, false, or the strings "true"/"false";
//   - STRING: a string, number or boolean; BYTES: standard base64;
//   - TIMESTAMP: a JSON number of seconds since the epoch (fractions kept to
//     the microsecond), or a string YYYY-[M]M-[D]D (or with '/') optionally
//     followed by ' ' or 'T' and [H]H:[M]M[:[S]S[.F]], then optionally Z,
//     UTC or an offset ±H[H][[:]MM]; F is 1 to 6 digits: BigQuery's
//     documented canonical format allows "up to six fractional digits
//     (microsecond precision)", so a 9-digit (nanosecond) fraction is a bad
//     row here; years 0001 to 9999;
//   - DATE: YYYY-[M]M-[D]D; DATETIME: a date, optionally with ' ' or 'T' and
//     a time as above, no zone; TIME: [H]H:[M]M[:[S]S[.F]];
//   - RECORD: an object, checked recursively; JSON: any value;
//     GEOGRAPHY, INTERVAL: a string (not parsed).
//
// Values are stored as decoded (strings, json.Number, bool, maps, slices),
// not converted. Each bad row gives a status.errors entry with reason
// invalid, location the gs:// URI and the message "Error while reading data,
// error message: JSON parsing error in row starting at position P: ...
// File: gs://...", P the byte offset of the row in the (decompressed)
// file; the text after the position is this server's approximation of
// BigQuery's. Up to maxBadRecords (default 0) bad rows are skipped and
// reported (badRecords); one more fails the whole job, writing nothing, with
// errorResult {invalid, "Error while reading data, error message: JSON
// table encountered too many errors, giving up. Rows: N; errors: M. Please
// look into the errors[] collection for more details."}, N the rows read so
// far; errors[] then lists that entry, a "JSON processing encountered too
// many errors" entry and the row entries (at most 100).
//
// Partitions: with column partitioning a row goes to the partition of its
// column value in UTC, __NULL__ when NULL, __UNPARTITIONED__ outside
// 1960-01-01..2159-12-31. With a decorator, every row must fall in that
// partition, otherwise the whole job fails "Some rows belong to different
// partitions rather than destination partition P" (not a bad row). With
// ingestion-time partitioning rows go to the decorator's partition or to
// the partition of the current time (UTC). Tables not partitioned have
// partition id "".
//
// Writes are atomic per job: WRITE_APPEND appends; WRITE_TRUNCATE replaces
// the table, or with a decorator only that partition; WRITE_EMPTY fails
// duplicate "Already Exists: Table ..." when the table (or the partition)
// has rows.
//
// # Copy jobs
//
// sourceTable/sourceTables (decorators select a partition) to
// destinationTable (decorator allowed); writeDisposition defaults to
// WRITE_EMPTY as in BigQuery. Sources must exist (notFound) and have the
// same schema. An existing destination must have the same schema (names,
// types, modes) unless WRITE_TRUNCATE replaces the whole table, and a
// column-partitioned destination needs a source with the same partitioning
// spec. Rows are re-partitioned by the destination's spec; with a
// decorator all must fall in it ("Some rows belong to different partitions
// ..."). So copying a staging table over table$P with WRITE_TRUNCATE
// replaces partition P atomically and leaves the others.
//
// # Client behaviour (cloud.google.com/go/bigquery v1.86.0)
//
// jobs.insert with a job id is retried by the client on HTTP 500, 502, 503,
// 504 and on the reasons backendError, rateLimitExceeded,
// jobRateLimitExceeded and internalError, with backoff starting at up to 1 s;
// so FailInserts(1, 503) makes Run succeed on its second attempt (about
// 0-1 s later) and InsertAttempts counts both. 400, 403, 404 and 409 are not
// retried: Run returns a *googleapi.Error (409 with reason "duplicate").
//
// # Test hooks
//
// Rows, PartitionIDs and DeletePartitionRows read and damage the stored
// data of the default project; Jobs, InsertAttempts, FailInserts,
// HoldJobs, WaitJobs and WaitDone observe and steer jobs; RefuseInserts
// and ListWithoutConfiguration act as the BigQuery emulator does (a data
// error refused at jobs.insert, a job listing without configurations).
package bqtest
