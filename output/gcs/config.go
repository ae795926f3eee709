package gcs

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/objkey"
)

// Config is the configuration of @type gcs, with fluent-plugin-gcs's
// parameter names.
type Config struct {
	Type string `conf:"@type"`
	// Project is accepted for fluent-plugin-gcs configurations. Object
	// writes do not need it and barge never creates buckets.
	Project string `conf:"project"`
	// Keyfile is the path of a credentials JSON file (service account,
	// authorized user, impersonated service account or external account).
	// Empty: Application Default Credentials. Ignored, with no credentials
	// sent at all, when STORAGE_EMULATOR_HOST is set.
	Keyfile string `conf:"keyfile"`
	// ClientRetries is how many quick retries the client makes of a failed
	// request before Flush returns the error to the buffer, whose backoff
	// then governs (2). For a resumable upload the count starts again after
	// each chunk that goes through.
	ClientRetries int `conf:"client_retries"`
	// ClientTimeout bounds one request: a request of a resumable upload, a
	// single-request upload, a metadata read (60s).
	ClientTimeout time.Duration `conf:"client_timeout"`
	// Bucket is the bucket's name. It must exist: barge never creates it.
	Bucket string `conf:"bucket" required:"true"`
	// Path is the key prefix, with ${tag}, ${tag[N]}, ${KEY} and strftime
	// placeholders ("logs/${tag}/%Y/%m/%d/").
	Path string `conf:"path"`
	// ObjectKeyFormat is each object's key; it must contain %{chunk_id},
	// %{uuid_flush} or %{index}. Default %{path}%{time_slice}_%{chunk_id}.%{file_extension}
	// (fluent-plugin-gcs's default, with %{index}, works too: the index
	// is chosen once per chunk and recorded with it, so a retry never makes
	// a second object).
	ObjectKeyFormat string `conf:"object_key_format"`
	// TimeSliceFormat is the strftime format of %{time_slice} (%Y%m%d%H).
	TimeSliceFormat string `conf:"time_slice_format"`
	// HexRandomLength is the length of %{hex_random} (4).
	HexRandomLength int `conf:"hex_random_length"`
	// StoreAs is gzip (default), zstd, json (uncompressed, <format> json)
	// or txt (uncompressed, <format> as configured; "text" is taken too).
	StoreAs string `conf:"store_as" enum:"gzip,zstd,json,txt,text"`
	// Transcoding stores gzip objects with Content-Encoding gzip and the
	// uncompressed Content-Type, so GCS can serve them decompressed (and
	// BigQuery loads them). Only with store_as gzip.
	Transcoding bool `conf:"transcoding"`
	// StorageClass is the objects' storage class: fluent-plugin-gcs's
	// dra, nearline, coldline, multi_regional, regional, standard, or
	// archive, in either case ("" = the bucket's default).
	StorageClass string `conf:"storage_class"`
	// ACL is a predefined ACL for each object ("" = the bucket's default).
	ACL string `conf:"acl" enum:"auth_read,owner_full,owner_read,private,project_private,public_read"`
	// EncryptionKey is a customer-supplied AES-256 key, base64.
	EncryptionKey string `conf:"encryption_key"`
	// ChunkSize is the size of each request: an object of at most
	// chunk_size is sent in one request, a larger one as a resumable upload
	// of chunk_size requests (16m; at least 256k, rounded up to a multiple
	// of 256k). Requests are read from the chunk's spool, not held in
	// memory: chunk_size trades the number of requests (GCS advises at
	// least 8m) against what a failed request sends again, not memory.
	ChunkSize int64 `conf:"chunk_size,size"`
	// AutoCreateBucket must stay false: barge never creates buckets
	// (fluent-plugin-gcs defaults to true).
	AutoCreateBucket bool `conf:"auto_create_bucket"`
	// Overwrite must stay false: objects are create-only.
	Overwrite bool `conf:"overwrite"`
	// BlindWrite is accepted for fluent-plugin-gcs configurations: barge
	// never reads before it writes anyway.
	BlindWrite bool `conf:"blind_write"`

	// ObjectMetadata are user metadata added to every object, as
	// fluent-plugin-gcs's repeated <object_metadata> key K value V sections.
	ObjectMetadata []ObjectMetadata `conf:"<object_metadata>"`

	Format format.Config       `conf:"<format>"`
	Inject format.InjectConfig `conf:"<inject>"`
}

// ObjectMetadata is one <object_metadata> section.
type ObjectMetadata struct {
	Key   string `conf:"key"`
	Value string `conf:"value"`
}

const (
	minChunkSize     = 256 << 10 // the resumable upload's granularity
	maxChunkSize     = 1 << 30
	defaultChunkSize = 16 << 20
)

// DefaultConfig returns the defaults: gzip-compressed JSON lines named
// %{path}%{time_slice}_%{chunk_id}.%{file_extension}, 16 MiB upload
// requests, two quick client retries, 60 s request timeout.
func DefaultConfig() Config {
	return Config{
		Type:            "gcs",
		ClientRetries:   2,
		ClientTimeout:   60 * time.Second,
		ObjectKeyFormat: objkey.DefaultObjectKeyFormat,
		TimeSliceFormat: objkey.DefaultTimeSliceFormat,
		HexRandomLength: 4,
		StoreAs:         "gzip",
		ChunkSize:       defaultChunkSize,
		Format:          format.DefaultConfig(),
		Inject:          format.DefaultInjectConfig(),
	}
}

// storageClasses maps fluent-plugin-gcs's names to GCS's.
var storageClasses = map[string]string{
	"dra":            "DURABLE_REDUCED_AVAILABILITY",
	"nearline":       "NEARLINE",
	"coldline":       "COLDLINE",
	"archive":        "ARCHIVE",
	"multi_regional": "MULTI_REGIONAL",
	"regional":       "REGIONAL",
	"standard":       "STANDARD",
}

// predefinedACLs maps fluent-plugin-gcs's acl values to the JSON API's
// predefinedAcl.
var predefinedACLs = map[string]string{
	"auth_read":       "authenticatedRead",
	"owner_full":      "bucketOwnerFullControl",
	"owner_read":      "bucketOwnerRead",
	"private":         "private",
	"project_private": "projectPrivate",
	"public_read":     "publicRead",
}

// Validate checks the configuration without any I/O.
func (c *Config) Validate() error {
	if c.Bucket == "" {
		return errors.New("'bucket' is required")
	}
	if strings.ContainsAny(c.Bucket, "/ ") || strings.HasPrefix(c.Bucket, "gs:") {
		return fmt.Errorf("'bucket' %q must be a bucket name, without gs:// or a path (use 'path')", c.Bucket)
	}
	if _, err := c.compress(); err != nil {
		return err
	}
	if c.StoreAs == "json" && c.Format.Type != "json" {
		return fmt.Errorf("'store_as' json needs <format> @type json, not %q (use store_as txt)", c.Format.Type)
	}
	if c.Transcoding && c.StoreAs != "gzip" {
		return fmt.Errorf("'transcoding' needs 'store_as gzip', not %q", c.StoreAs)
	}
	if c.StorageClass != "" {
		if _, ok := storageClasses[strings.ToLower(c.StorageClass)]; !ok {
			return fmt.Errorf("'storage_class' %q is not one of dra, nearline, coldline, archive, multi_regional, regional, standard", c.StorageClass)
		}
	}
	if c.ACL != "" {
		if _, ok := predefinedACLs[c.ACL]; !ok {
			return fmt.Errorf("'acl' %q is not one of auth_read, owner_full, owner_read, private, project_private, public_read", c.ACL)
		}
	}
	if _, err := c.encryptionKey(); err != nil {
		return err
	}
	if c.ChunkSize < minChunkSize || c.ChunkSize > maxChunkSize {
		return fmt.Errorf("'chunk_size' %d is not between 256k and 1g", c.ChunkSize)
	}
	if c.ClientRetries < 0 {
		return fmt.Errorf("'client_retries' %d must not be negative", c.ClientRetries)
	}
	if c.ClientTimeout <= 0 {
		return fmt.Errorf("'client_timeout' %v must be positive", c.ClientTimeout)
	}
	if c.AutoCreateBucket {
		return fmt.Errorf("'auto_create_bucket' true is not supported: barge never creates buckets; create %q first", c.Bucket)
	}
	if c.Overwrite {
		return errors.New("'overwrite' true is not supported: objects are create-only, a retried chunk finds its own object")
	}
	seen := map[string]bool{}
	for _, m := range c.ObjectMetadata {
		k := strings.ToLower(m.Key)
		switch {
		case m.Key == "":
			return errors.New("'key' of <object_metadata> must not be empty")
		case strings.HasPrefix(k, "barge-"):
			return fmt.Errorf("'key' %q of <object_metadata>: keys starting with barge- are barge's own metadata", m.Key)
		case seen[k]:
			return fmt.Errorf("'key' %q of <object_metadata> is given twice", m.Key)
		}
		seen[k] = true
	}
	if err := c.Format.Validate(); err != nil {
		return err
	}
	if err := c.Inject.Validate(); err != nil {
		return err
	}
	_, err := objkey.NewKeyFormat(c.keyConfig())
	return err
}

// CheckChunkKeys reports a placeholder of path or object_key_format that
// needs a chunk key the buffer does not have:
// "'path' uses ${host} but 'host' is not a chunk key".
func (c *Config) CheckChunkKeys(chunkKeys []string) error {
	return c.keyConfig().CheckChunkKeys(chunkKeys)
}

func (c *Config) keyConfig() objkey.KeyConfig {
	return objkey.KeyConfig{
		Path:            c.Path,
		ObjectKeyFormat: c.ObjectKeyFormat,
		TimeSliceFormat: c.TimeSliceFormat,
		HexRandomLength: c.HexRandomLength,
		Clean:           objkey.CleanPathValue,
	}
}

// compress maps store_as to the Encoder's compression.
func (c *Config) compress() (string, error) {
	switch c.StoreAs {
	case "gzip", "zstd":
		return c.StoreAs, nil
	case "json", "txt", "text":
		return "none", nil
	}
	return "", fmt.Errorf("'store_as' %q is not one of gzip, zstd, json, txt", c.StoreAs)
}

// encryptionKey decodes encryption_key (nil when unset).
func (c *Config) encryptionKey() ([]byte, error) {
	if c.EncryptionKey == "" {
		return nil, nil
	}
	k, err := base64.StdEncoding.DecodeString(c.EncryptionKey)
	if err != nil || len(k) != 32 {
		return nil, errors.New("'encryption_key' must be a base64-encoded 32-byte AES-256 key")
	}
	return k, nil
}

// roundChunkSize rounds n up to a multiple of 256 KiB, as the client does.
func roundChunkSize(n int64) int64 {
	return (n + minChunkSize - 1) / minChunkSize * minChunkSize
}
