package s3

import (
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/objkey"
)

// Part size limits of S3 multipart uploads.
const (
	MinPartSize = 5 << 20
	MaxPartSize = 5 << 30
	maxParts    = 10000
)

// Config is the configuration of @type s3, with fluent-plugin-s3's
// parameter names.
type Config struct {
	Type string `conf:"@type"`

	// S3Bucket is the bucket every object goes to.
	S3Bucket string `conf:"s3_bucket" required:"true"`
	// S3Region is the bucket's region; empty means the AWS default chain's
	// (AWS_REGION, the profile), then us-east-1.
	S3Region string `conf:"s3_region"`
	// S3Endpoint is the URL of an S3-compatible store (MinIO, Ceph...),
	// such as http://127.0.0.1:9000. Empty means AWS.
	S3Endpoint string `conf:"s3_endpoint"`
	// ForcePathStyle puts the bucket in the URL path instead of the host
	// name, as most S3-compatible stores need.
	ForcePathStyle bool `conf:"force_path_style"`
	// SSLVerifyPeer checks the endpoint's TLS certificate (true).
	SSLVerifyPeer bool `conf:"ssl_verify_peer"`
	// ProxyURI is an HTTP proxy for every request; empty means
	// HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment.
	ProxyURI string `conf:"proxy_uri"`

	// AWSKeyID and AWSSecKey are static credentials; without them the AWS
	// default chain is used (environment, shared config and profiles, web
	// identity / IRSA, container and instance roles).
	AWSKeyID  string `conf:"aws_key_id"`
	AWSSecKey string `conf:"aws_sec_key"`
	// SharedCredentials picks a profile of a shared credentials file.
	SharedCredentials *SharedCredentialsConfig `conf:"<shared_credentials>"`
	// AssumeRole assumes a role (STS AssumeRole) with the credentials above.
	AssumeRole *AssumeRoleConfig `conf:"<assume_role_credentials>"`
	// WebIdentity assumes a role with an OIDC token file (STS
	// AssumeRoleWithWebIdentity), as on EKS.
	WebIdentity *WebIdentityConfig `conf:"<web_identity_credentials>"`
	// InstanceProfile takes the EC2 instance's role from the instance
	// metadata service.
	InstanceProfile *InstanceProfileConfig `conf:"<instance_profile_credentials>"`
	// AWSIAMRetries (deprecated by fluent-plugin-s3) is the instance
	// profile with this many retries, when no other credentials are given.
	AWSIAMRetries int `conf:"aws_iam_retries"`
	// AWSCredentialProcess (barge) is a command printing credentials in
	// the JSON of the AWS CLI's credential_process.
	AWSCredentialProcess string `conf:"aws_credential_process"`

	// CheckApikeyOnStart lists the bucket at start: the credentials work
	// (true).
	CheckApikeyOnStart bool `conf:"check_apikey_on_start"`
	// CheckBucket checks at start that the bucket exists (true);
	// AutoCreateBucket then creates a missing one (true).
	CheckBucket      bool `conf:"check_bucket"`
	AutoCreateBucket bool `conf:"auto_create_bucket"`
	// CheckObject is accepted: every write is create-only, whatever it is.
	CheckObject bool `conf:"check_object"`

	// Path is the key prefix, with ${tag}, ${tag[N]}, ${KEY} and strftime
	// placeholders ("logs/${tag}/%Y/%m/%d/").
	Path string `conf:"path"`
	// S3ObjectKeyFormat is each object's key; it must contain %{chunk_id},
	// %{uuid_flush} or %{index}. Default %{path}%{time_slice}_%{chunk_id}.%{file_extension}
	// (fluent-plugin-s3's default, with %{index}, works too: the index is
	// chosen once per chunk with one listing and recorded with it).
	S3ObjectKeyFormat string `conf:"s3_object_key_format"`
	// TimeSliceFormat is the strftime format of %{time_slice} (%Y%m%d%H).
	TimeSliceFormat string `conf:"time_slice_format"`
	// HexRandomLength is the length of %{hex_random} (4).
	HexRandomLength int `conf:"hex_random_length"`

	// StoreAs is gzip (default), zstd, json (uncompressed, <format> json)
	// or txt (uncompressed, any <format>; "text" is the same).
	StoreAs string `conf:"store_as" enum:"gzip,zstd,json,txt,text"`
	// StorageClass is the objects' storage class (STANDARD, STANDARD_IA,
	// INTELLIGENT_TIERING, ...); empty means the bucket's default.
	StorageClass string `conf:"storage_class"`
	// ACL is a canned ACL (private, bucket-owner-full-control, ...); empty
	// sends none, as buckets with ACLs disabled require.
	ACL string `conf:"acl"`

	// UseServerSideEncryption is AES256, aws:kms or aws:kms:dsse.
	UseServerSideEncryption string `conf:"use_server_side_encryption"`
	// SSEKMSKeyID is the KMS key of aws:kms encryption.
	SSEKMSKeyID string `conf:"ssekms_key_id"`
	// SSECustomerAlgorithm (AES256), SSECustomerKey (32 bytes, raw or
	// base64) and SSECustomerKeyMD5 (base64; computed when empty) are SSE-C.
	SSECustomerAlgorithm string `conf:"sse_customer_algorithm"`
	SSECustomerKey       string `conf:"sse_customer_key"`
	SSECustomerKeyMD5    string `conf:"sse_customer_key_md5"`

	// MultipartThreshold (barge): an object larger than this, after
	// compression, is sent as a multipart upload (32m).
	MultipartThreshold int64 `conf:"multipart_threshold,size"`
	// PartSize (barge) is the size of each part of a multipart upload
	// (16m, at least 5m).
	PartSize int64 `conf:"part_size,size"`
	// MultipartConcurrency (barge) is how many parts of one object upload
	// at once (2, at most 8). Parts are read from the chunk's spool (on
	// disk for a file buffer): memory per flush is a few small buffers
	// per part in flight, whatever part_size.
	MultipartConcurrency int `conf:"multipart_concurrency"`

	Format format.Config       `conf:"<format>"`
	Inject format.InjectConfig `conf:"<inject>"`
}

// SharedCredentialsConfig is the <shared_credentials> section.
type SharedCredentialsConfig struct {
	// Path is the credentials file (~/.aws/credentials).
	Path string `conf:"path"`
	// ProfileName is the profile (AWS_PROFILE, then "default").
	ProfileName string `conf:"profile_name"`
}

// AssumeRoleConfig is the <assume_role_credentials> section.
type AssumeRoleConfig struct {
	RoleARN         string `conf:"role_arn" required:"true"`
	RoleSessionName string `conf:"role_session_name" required:"true"`
	ExternalID      string `conf:"external_id"`
	// Policy is an IAM policy in JSON that further limits the session.
	Policy string `conf:"policy"`
	// DurationSeconds is the session's lifetime in seconds (3600).
	DurationSeconds int `conf:"duration_seconds"`
}

// DefaultConfig returns the defaults: gzip-compressed JSON lines named
// %{path}%{time_slice}_%{chunk_id}.%{file_extension}, multipart above
// 32 MiB in 16 MiB parts, two at a time.
func DefaultConfig() Config {
	return Config{
		Type:                 "s3",
		SSLVerifyPeer:        true,
		CheckApikeyOnStart:   true,
		CheckBucket:          true,
		AutoCreateBucket:     true,
		CheckObject:          true,
		S3ObjectKeyFormat:    objkey.DefaultObjectKeyFormat,
		TimeSliceFormat:      objkey.DefaultTimeSliceFormat,
		HexRandomLength:      4,
		StoreAs:              "gzip",
		MultipartThreshold:   32 << 20,
		PartSize:             16 << 20,
		MultipartConcurrency: 2,
		Format:               format.DefaultConfig(),
		Inject:               format.DefaultInjectConfig(),
	}
}

var cannedACLs = []string{"private", "public-read", "public-read-write", "authenticated-read",
	"aws-exec-read", "bucket-owner-read", "bucket-owner-full-control"}

// Validate checks the configuration without any I/O.
func (c *Config) Validate() error {
	if c.S3Bucket == "" {
		return errors.New("'s3_bucket' is required")
	}
	if c.S3Endpoint != "" && !strings.HasPrefix(c.S3Endpoint, "http://") && !strings.HasPrefix(c.S3Endpoint, "https://") {
		return fmt.Errorf("'s3_endpoint' %q must be a URL starting with http:// or https://", c.S3Endpoint)
	}
	if c.ProxyURI != "" {
		if u, err := url.Parse(c.ProxyURI); err != nil || u.Host == "" {
			return fmt.Errorf("'proxy_uri' %q is not a URL like http://proxy:3128", c.ProxyURI)
		}
	}
	if err := c.validateCredentials(); err != nil {
		return err
	}
	if _, err := c.compress(); err != nil {
		return err
	}
	if c.StorageClass != "" && !slices.Contains(types.StorageClass("").Values(), types.StorageClass(c.StorageClass)) {
		return fmt.Errorf("'storage_class' %q is not one of %s", c.StorageClass, joinValues(types.StorageClass("").Values()))
	}
	if c.ACL != "" && !slices.Contains(cannedACLs, c.ACL) {
		return fmt.Errorf("'acl' %q is not one of %s", c.ACL, strings.Join(cannedACLs, ", "))
	}
	if err := c.validateSSE(); err != nil {
		return err
	}
	if c.PartSize < MinPartSize || c.PartSize > MaxPartSize {
		return fmt.Errorf("'part_size' %d is not in 5m..5g", c.PartSize)
	}
	if c.MultipartThreshold < 0 {
		return errors.New("'multipart_threshold' must not be negative")
	}
	if c.MultipartThreshold > MaxPartSize {
		return errors.New("'multipart_threshold' must not exceed 5g, the largest single upload")
	}
	if c.MultipartConcurrency < 1 || c.MultipartConcurrency > 8 {
		return fmt.Errorf("'multipart_concurrency' %d is not in 1..8", c.MultipartConcurrency)
	}
	if err := c.Format.Validate(); err != nil {
		return err
	}
	if err := c.Inject.Validate(); err != nil {
		return err
	}
	_, err := c.keyFormat()
	return err
}

// keyFormat is objkey.NewKeyFormat with s3's name of the key parameter in
// its messages.
func (c *Config) keyFormat() (*objkey.KeyFormat, error) {
	kf, err := objkey.NewKeyFormat(c.keyConfig())
	if err != nil {
		return nil, renamedError{strings.Replace(err.Error(), "'object_key_format'", "'s3_object_key_format'", 1), err}
	}
	return kf, nil
}

// renamedError keeps what an error wraps under a new message.
type renamedError struct {
	msg string
	err error
}

func (e renamedError) Error() string { return e.msg }
func (e renamedError) Unwrap() error { return e.err }

func (c *Config) validateSSE() error {
	switch c.UseServerSideEncryption {
	case "", "AES256", "aws:kms", "aws:kms:dsse":
	default:
		return fmt.Errorf("'use_server_side_encryption' %q is not one of AES256, aws:kms, aws:kms:dsse", c.UseServerSideEncryption)
	}
	if c.SSEKMSKeyID != "" && !strings.HasPrefix(c.UseServerSideEncryption, "aws:kms") {
		return errors.New("'ssekms_key_id' needs 'use_server_side_encryption aws:kms'")
	}
	if c.SSECustomerKey == "" {
		if c.SSECustomerAlgorithm != "" || c.SSECustomerKeyMD5 != "" {
			return errors.New("'sse_customer_key' is required with 'sse_customer_algorithm' or 'sse_customer_key_md5'")
		}
		return nil
	}
	if c.UseServerSideEncryption != "" {
		return errors.New("'sse_customer_key' cannot be combined with 'use_server_side_encryption'")
	}
	if c.SSECustomerAlgorithm != "" && c.SSECustomerAlgorithm != "AES256" {
		return fmt.Errorf("'sse_customer_algorithm' %q is not AES256", c.SSECustomerAlgorithm)
	}
	if _, _, err := c.sseCustomerKey(); err != nil {
		return err
	}
	return nil
}

// sseCustomerKey returns the SSE-C key and its MD5, both base64 as the S3
// headers carry them. The key may be given raw (32 bytes, as Ruby's SDK
// takes it) or base64.
func (c *Config) sseCustomerKey() (key, keyMD5 string, err error) {
	raw := []byte(c.SSECustomerKey)
	if len(raw) != 32 {
		b, err := base64.StdEncoding.DecodeString(c.SSECustomerKey)
		if err != nil || len(b) != 32 {
			return "", "", errors.New("'sse_customer_key' must be 32 bytes, raw or base64")
		}
		raw = b
	}
	sum := md5.Sum(raw)
	keyMD5 = base64.StdEncoding.EncodeToString(sum[:])
	if c.SSECustomerKeyMD5 != "" && c.SSECustomerKeyMD5 != keyMD5 {
		return "", "", errors.New("'sse_customer_key_md5' is not the MD5 of 'sse_customer_key'")
	}
	return base64.StdEncoding.EncodeToString(raw), keyMD5, nil
}

// compress maps store_as to the Encoder's compression.
func (c *Config) compress() (string, error) {
	switch c.StoreAs {
	case "gzip", "zstd":
		return c.StoreAs, nil
	case "json":
		if c.Format.Type != "json" {
			return "", fmt.Errorf("'store_as' json needs <format> @type json, not %q", c.Format.Type)
		}
		return "none", nil
	case "txt", "text":
		return "none", nil
	}
	return "", fmt.Errorf("'store_as' %q is not one of gzip, zstd, json, txt", c.StoreAs)
}

// CheckChunkKeys reports a placeholder of path or s3_object_key_format that
// needs a chunk key the buffer does not have:
// "'path' uses ${host} but 'host' is not a chunk key".
func (c *Config) CheckChunkKeys(chunkKeys []string) error {
	kf, err := c.keyFormat()
	if err != nil {
		return err
	}
	if err := kf.CheckChunkKeys(chunkKeys); err != nil {
		return renamedError{strings.Replace(err.Error(), "'object_key_format'", "'s3_object_key_format'", 1), err}
	}
	return nil
}

func (c *Config) keyConfig() objkey.KeyConfig {
	return objkey.KeyConfig{
		Path:            c.Path,
		ObjectKeyFormat: c.S3ObjectKeyFormat,
		TimeSliceFormat: c.TimeSliceFormat,
		HexRandomLength: c.HexRandomLength,
		Clean:           objkey.CleanPathValue,
	}
}

func joinValues[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
