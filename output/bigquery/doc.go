// Package bigquery is the loader: the last stage of barge, after the
// object-store outputs. It is not a buffer.Flusher: it reads archived
// objects (not chunks) from a gs:// or s3:// source, keeps a ledger of
// what it loaded, and commits each table partition's new objects with
// BigQuery load jobs, in a loop of its own (Loader.Run, a cycle every
// load_interval). barge replay, barge ledger rebuild and barge load status
// use the same Loader one shot at a time.
//
// # The ledger
//
// The ledger lives in GCS, under gs://LEDGER_BUCKET/LEDGER_PREFIX: the
// ledger parameter, by default gs://SOURCE_BUCKET/_barge/ledger/ (for an
// S3 source, the staging bucket's). Objects under it are never data: a
// listing of the source skips them. Object names in it are the source's
// object names (keys, without gs://BUCKET/).
//
//	LEDGER_PREFIX
//	└── DATASET.TABLE/
//	    ├── PARTITION.json       the head: one per partition (20261122,
//	    │                        2026112213, 202611), type ledger
//	    ├── PARTITION/
//	    │   └── JOB_ID.json      a job's manifest: {"job", "objects": [names]}
//	    └── _quota/
//	        └── YYYYMMDD.json    the table's job budget of a UTC day:
//	                             {"day", "jobs", "last"}
//
// A head holds, as JSON: version (1), table, partition, rows (and
// rows_unknown: a job did not report its rows, rows is a lower bound),
// check (the latest comparison of the partition's rows with its objects'
// barge-records), quarantined (object name to the job and errors that
// refused it), groups (object sets split from a failed batch, tried first),
// failures (a count), and jobs: the job records, without their object
// lists, which are in the manifests. A job record is id, kind (load: a
// WRITE_APPEND of new objects; replay: a WRITE_TRUNCATE of
// TABLE$PARTITION; copy: a staging table copied over TABLE$PARTITION),
// destination, count, staging (copy: the staging table), state (pending,
// done, failed), rows, error, error_at, attempts, errors, transient,
// claimed, finished and by (the host that claimed it). All done jobs are
// kept; failed ones are trimmed to the latest 50.
//
// # Contracts
//
//   - Heads are written only with a generation precondition: created only
//     if absent, replaced only at the generation that was read. A writer
//     that read an older version loses (412) and reads again. Every state
//     change is such a compare-and-swap, so any number of loader replicas
//     and one-shot commands share a ledger; a replica logs and counts an
//     outcome only after its write won.
//   - Manifests are create-only and never change: written before the job
//     is claimed, under the job's id, which derives from its content, so a
//     manifest that exists already (412) holds the same objects. Loaders
//     cache them; the head stays small however many objects a partition
//     has.
//   - Job ids are deterministic: barge_KIND_ and 40 hex digits of a SHA-256
//     over the kind, PROJECT:DATASET.TABLE, the destination, the staging
//     key, the attempt and the object names. A failed job's id is never
//     reused (the next try of the same objects is attempt+1); a replay's
//     staging key holds the time it ran.
//   - A claim is a pending job record written to the head (the manifest
//     first). A partition has at most one pending job: a loader resolves
//     it before it claims anything else. Resolving looks the job up by id:
//     not found, it was never submitted and is submitted now with the same
//     id; found, it is adopted, and BigQuery refuses a reused id (409), so
//     a crash between claim, submit and settle never loads an object twice.
//     A refused insert stays pending with its error and attempts; after
//     maxDataRefusals refusals as invalid it fails as a refusal of its
//     data (bisected, or quarantined), after maxClaimAttempts refusals in
//     all it is released (failed, its objects free again).
//   - An object is committed when the manifest of a live job names it: a
//     done job since the partition's last done replay or copy (which
//     rebuilt it), that one included. The committed set is not stored; it
//     follows from the head's job records and their manifests.
//     Quarantined objects (refused on their own, or named by a refusal)
//     are skipped until a replay with --retry-quarantined loads them.
//   - The job budget is counted in _quota/DAY.json (also with a generation
//     precondition) before a job is claimed: a crash can waste budget,
//     never exceed max_jobs_per_table_per_day. Load cycles are paced along
//     the UTC day; replays ignore the pacing, not the limit.
//   - No partition is marked done. A partition is open until its end
//     (UTC) plus lateness; a load cycle commits only open partitions'
//     objects. Once closed, its uncommitted objects are late: counted
//     (cached by the partition's object count) and warned of once, and
//     only barge replay writes the partition again.
//   - Replay claims its job like any other, after the pending one is
//     settled, so a running loader never appends into a partition being
//     rebuilt. It relies on objects never changing: it loads all of a
//     partition's loadable objects (quarantined ones only with
//     --retry-quarantined) and, once done, the committed set is exactly
//     them, since live jobs start at it. A partition with more objects
//     than one job takes is loaded into a staging table first (jobs
//     barge_stage_..., not in the ledger) and copied.
//   - Ledger rebuild relies on BigQuery's job history: the successful
//     barge_ jobs into the table, their load URIs (gs://BUCKET/NAME, the
//     staging copy's for an S3 source), oldest first, a replay or copy
//     resetting its partition; and on the listing placing every object in
//     the partition it was placed in when loaded (barge metadata, else
//     time_slice_format). It writes manifests and heads only where no head
//     exists (unless forced), and nothing when a barge job cannot be read
//     (unless told to).
//
// # Files
//
// clients.go makes and closes the GCS, BigQuery and S3 clients, reach.go
// logs outages under them; cycle.go is the run loop and one load cycle;
// commit.go claims and submits a partition's jobs, settle.go records
// their outcomes; object.go lists, places and groups the source's objects,
// listing.go a source prefix with the time in it, s3source.go an S3
// source; ledger.go and quota.go are the ledger; replay.go, rebuild.go
// and status.go are the one-shot commands; source.go the rules a source
// must meet for its objects to load (CheckSource), which barge check and
// barge schema infer apply.
package bigquery
