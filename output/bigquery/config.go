package bigquery

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/barge-dev/barge/output/objkey"
	s3out "github.com/barge-dev/barge/output/s3"
)

// Config is a <loader NAME> directive with @type bigquery.
type Config struct {
	Type string `conf:"@type"`
	// Name is the directive's argument: <loader NAME>.
	Name string `conf:",arg"`

	// Project, Dataset and Table name the destination table. Project
	// defaults to the credentials' project.
	Project string `conf:"project"`
	Dataset string `conf:"dataset" required:"true"`
	Table   string `conf:"table" required:"true"`
	// Location is the dataset's location (US, EU, asia-northeast1...),
	// where load jobs run and are looked up.
	Location string `conf:"location"`

	// Source is gs://BUCKET/PREFIX/ or s3://BUCKET/PREFIX/: every object
	// under it is archived data of this table. SourceOutput instead names
	// the @id of a gcs or s3 output of the same config, whose bucket and
	// path are followed.
	Source       string `conf:"source"`
	SourceOutput string `conf:"source_output"`
	// Staging is gs://BUCKET/PREFIX/ where the objects of an S3 source are
	// copied for loading (BigQuery loads only from GCS); the S3 objects
	// stay the archive of record.
	Staging string `conf:"staging"`
	// Ledger is where the ledger lives: gs://BUCKET/PREFIX/ (default
	// gs://SOURCE_BUCKET/_barge/ledger/, or the staging bucket's for an S3
	// source). Objects under it are never data.
	Ledger string `conf:"ledger"`

	// The connection and credentials of an S3 source, named as the s3
	// output's (which source_output copies).
	S3Region          string                         `conf:"s3_region"`
	S3Endpoint        string                         `conf:"s3_endpoint"`
	ForcePathStyle    bool                           `conf:"force_path_style"`
	SSLVerifyPeer     bool                           `conf:"ssl_verify_peer"`
	ProxyURI          string                         `conf:"proxy_uri"`
	AWSKeyID          string                         `conf:"aws_key_id"`
	AWSSecKey         string                         `conf:"aws_sec_key"`
	SharedCredentials *s3out.SharedCredentialsConfig `conf:"<shared_credentials>"`
	AssumeRole        *s3out.AssumeRoleConfig        `conf:"<assume_role_credentials>"`
	// FollowedCredentials are set by cmd/barge, not by the config: the
	// credential sources of the s3 output a loader follows that the loader
	// has no parameters for (aws_credential_process,
	// <web_identity_credentials>, <instance_profile_credentials>,
	// aws_iam_retries). Nil: none.
	FollowedCredentials *s3out.ClientConfig `conf:"-" json:"-"`
	// TimeSliceFormat places objects that carry no barge metadata (such as
	// fluent-plugin-s3 or fluent-plugin-gcs archives) in a partition: the
	// strftime format is matched against the object key (%Y%m%d%H).
	TimeSliceFormat string `conf:"time_slice_format"`

	// PartitionType is HOUR, DAY (default) or MONTH.
	PartitionType string `conf:"partition_type" enum:"HOUR,DAY,MONTH"`
	// PartitionField is the TIMESTAMP column the table is partitioned on;
	// empty means ingestion-time partitioning (loads go to table$PARTITION).
	PartitionField   string   `conf:"partition_field"`
	ClusteringFields []string `conf:"clustering_fields"`

	// LoadInterval is how often the loader commits new objects (5m).
	LoadInterval time.Duration `conf:"load_interval"`
	// Lateness is how long a partition stays open after its end for late
	// objects (1h). Objects that arrive later are reported as late and
	// loaded only by barge replay.
	Lateness time.Duration `conf:"lateness"`
	// MaxBadRecords and IgnoreUnknownValues are passed to each load job.
	MaxBadRecords       int  `conf:"max_bad_records"`
	IgnoreUnknownValues bool `conf:"ignore_unknown_values"`
	// SchemaPath is a BigQuery JSON schema file; FetchSchema uses the
	// table's own schema; AutoDetect lets BigQuery infer one.
	SchemaPath          string   `conf:"schema_path"`
	FetchSchema         bool     `conf:"fetch_schema"`
	AutoDetect          bool     `conf:"auto_detect"`
	SchemaUpdateOptions []string `conf:"schema_update_options" enum:"ALLOW_FIELD_ADDITION,ALLOW_FIELD_RELAXATION"`
	// AutoCreateTable creates a missing table, partitioned and clustered
	// as configured, with the schema of schema_path.
	AutoCreateTable bool `conf:"auto_create_table"`
	// MaxJobsPerTablePerDay caps the load jobs submitted per table per UTC
	// day, failed ones included (1000; BigQuery allows 1500).
	MaxJobsPerTablePerDay int `conf:"max_jobs_per_table_per_day"`
	// MaxObjectsPerJob is the number of source URIs in one job (10000,
	// BigQuery's limit).
	MaxObjectsPerJob int `conf:"max_objects_per_job"`

	// JSONKey is a credentials JSON, read as the gcs output reads its
	// keyfile (service account, authorized user, impersonated service
	// account or external account): a file path or the JSON itself.
	// Empty: Application Default Credentials. Not read for GCS against an
	// emulator (STORAGE_EMULATOR_HOST), nor for a plain-http endpoint.
	JSONKey string `conf:"json_key"`
	// Endpoint is a BigQuery API base URL, for emulators
	// (http://127.0.0.1:9050). Plain-http endpoints get no credentials.
	Endpoint string `conf:"endpoint"`
	// RequestTimeout bounds each API request (1m).
	RequestTimeout time.Duration `conf:"request_timeout"`
	// VerifyRows checks after every append job that the partition holds
	// the rows of its objects' barge-records (replays always are).
	VerifyRows bool `conf:"verify_rows"`
	// PollInterval is how often a running job is polled (2s).
	PollInterval time.Duration `conf:"poll_interval"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Type:                  "bigquery",
		PartitionType:         "DAY",
		SSLVerifyPeer:         true,
		LoadInterval:          5 * time.Minute,
		Lateness:              time.Hour,
		MaxJobsPerTablePerDay: 1000,
		MaxObjectsPerJob:      10000,
		TimeSliceFormat:       objkey.DefaultTimeSliceFormat,
		RequestTimeout:        time.Minute,
		PollInterval:          2 * time.Second,
	}
}

var (
	nameRe    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,299}$`)
	datasetRe = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	tableRe   = regexp.MustCompile(`^[\p{L}\p{M}\p{N}\p{Pc}\p{Pd}\p{Zs}]+$`)
)

// Validate checks the configuration without any I/O.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Dataset == "" {
		add("'dataset' is required")
	} else if !datasetRe.MatchString(c.Dataset) || len(c.Dataset) > 1024 {
		add("'dataset' %q may hold only letters, digits and underscores", c.Dataset)
	}
	if c.Table == "" {
		add("'table' is required")
	} else if !tableRe.MatchString(c.Table) || len(c.Table) > 1024 {
		add("'table' %q is not a BigQuery table name (no decorator: partitions are chosen by the loader)", c.Table)
	}
	switch {
	case c.Source == "" && c.SourceOutput == "":
		add("'source' (gs://BUCKET/PREFIX/) or 'source_output' (the @id of a gcs output) is required")
	case c.Source != "" && c.SourceOutput != "":
		add("'source' and 'source_output' exclude each other")
	case c.Source != "":
		if scheme, _, prefix, err := ParseSource(c.Source); err != nil {
			add("'source' %v", err)
		} else if _, err := parsePrefixTemplate(prefix); err != nil {
			add("'source' %v", err)
		} else if scheme == "s3" && c.Staging == "" {
			add("'source' %s is on S3: set 'staging' gs://BUCKET/PREFIX/, where objects are copied for loading (BigQuery loads only from GCS)", c.Source)
		} else if scheme == "gs" && c.Staging != "" {
			add("'staging' is only for s3:// sources; %s is loaded where it is", c.Source)
		}
	}
	if c.Staging != "" {
		if _, _, err := ParseGSURL(c.Staging); err != nil {
			add("'staging' %v", err)
		}
	}
	if c.Ledger != "" {
		if _, _, err := ParseGSURL(c.Ledger); err != nil {
			add("'ledger' %v", err)
		}
	}
	if c.PartitionField != "" && !nameRe.MatchString(c.PartitionField) {
		add("'partition_field' %q is not a BigQuery column name", c.PartitionField)
	}
	if len(c.ClusteringFields) > 4 {
		add("'clustering_fields' has %d fields; BigQuery allows at most 4", len(c.ClusteringFields))
	}
	for _, f := range c.ClusteringFields {
		if !nameRe.MatchString(f) {
			add("'clustering_fields' %q is not a BigQuery column name", f)
		}
	}
	if c.LoadInterval < time.Second {
		add("'load_interval' %v must be at least 1s", c.LoadInterval)
	}
	if c.Lateness < 0 {
		add("'lateness' %v must not be negative", c.Lateness)
	}
	if c.MaxBadRecords < 0 {
		add("'max_bad_records' %d must not be negative", c.MaxBadRecords)
	}
	n := 0
	for _, b := range []bool{c.SchemaPath != "", c.FetchSchema, c.AutoDetect} {
		if b {
			n++
		}
	}
	if n > 1 {
		add("'schema_path', 'fetch_schema' and 'auto_detect' exclude each other")
	}
	if c.AutoCreateTable && c.SchemaPath == "" && !c.AutoDetect {
		add("'auto_create_table' needs 'schema_path' or 'auto_detect'")
	}
	if c.MaxJobsPerTablePerDay < 1 || c.MaxJobsPerTablePerDay > 1500 {
		add("'max_jobs_per_table_per_day' %d is not between 1 and 1500 (BigQuery's limit)", c.MaxJobsPerTablePerDay)
	}
	if c.MaxObjectsPerJob < 1 || c.MaxObjectsPerJob > 10000 {
		add("'max_objects_per_job' %d is not between 1 and 10000 (BigQuery's limit)", c.MaxObjectsPerJob)
	}
	if c.Endpoint != "" && !strings.HasPrefix(c.Endpoint, "http://") && !strings.HasPrefix(c.Endpoint, "https://") {
		add("'endpoint' %q must be an http:// or https:// URL", c.Endpoint)
	}
	if c.RequestTimeout <= 0 {
		add("'request_timeout' %v must be positive", c.RequestTimeout)
	}
	if c.PollInterval <= 0 {
		add("'poll_interval' %v must be positive", c.PollInterval)
	}
	if c.TimeSliceFormat == "" {
		add("'time_slice_format' must not be empty")
	} else if _, err := newSliceMatcher(c.TimeSliceFormat); err != nil {
		add("'time_slice_format' %v", err)
	}
	return errors.Join(errs...)
}

// ParseSource splits a source URL, gs://BUCKET/PREFIX or
// s3://BUCKET/PREFIX, into its scheme ("gs" or "s3"), bucket and prefix.
func ParseSource(s string) (scheme, bucket, prefix string, err error) {
	if rest, ok := strings.CutPrefix(s, "s3://"); ok {
		bucket, prefix, err = ParseGSURL("gs://" + rest)
		if err != nil {
			return "", "", "", fmt.Errorf("%q has no bucket", s)
		}
		return "s3", bucket, prefix, nil
	}
	if !strings.HasPrefix(s, "gs://") {
		return "", "", "", fmt.Errorf("%q must start with gs:// or s3://", s)
	}
	bucket, prefix, err = ParseGSURL(s)
	return "gs", bucket, prefix, err
}

// ParseGSURL splits gs://BUCKET/PREFIX into bucket and prefix (which, when
// not empty, ends with a slash).
func ParseGSURL(s string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(s, "gs://")
	if !ok {
		return "", "", fmt.Errorf("%q must start with gs://", s)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q has no bucket", s)
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return bucket, prefix, nil
}
