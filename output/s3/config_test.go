package s3

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/barge-dev/barge/output/objkey"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	c.S3Bucket = "b"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.S3ObjectKeyFormat != "%{path}%{time_slice}_%{chunk_id}.%{file_extension}" || c.TimeSliceFormat != "%Y%m%d%H" ||
		c.StoreAs != "gzip" || c.PartSize != 16<<20 || c.MultipartThreshold != 32<<20 || !c.SSLVerifyPeer {
		t.Errorf("defaults %+v", c)
	}
}

func TestValidate(t *testing.T) {
	key32 := strings.Repeat("k", 32)
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string // start of the error; "" for valid
	}{
		{"no bucket", func(c *Config) { c.S3Bucket = "" }, "'s3_bucket' is required"},
		{"endpoint not a URL", func(c *Config) { c.S3Endpoint = "127.0.0.1:9000" }, "'s3_endpoint'"},
		{"proxy", func(c *Config) { c.ProxyURI = "proxy" }, "'proxy_uri'"},
		{"proxy ok", func(c *Config) { c.ProxyURI = "http://proxy:3128" }, ""},
		{"key without secret", func(c *Config) { c.AWSKeyID = "x" }, "'aws_key_id' and 'aws_sec_key'"},
		{"store_as", func(c *Config) { c.StoreAs = "lzo" }, "'store_as' \"lzo\""},
		{"store_as json with ltsv", func(c *Config) { c.StoreAs = "json"; c.Format.Type = "ltsv" }, "'store_as' json needs"},
		{"store_as txt with ltsv", func(c *Config) { c.StoreAs = "txt"; c.Format.Type = "ltsv" }, ""},
		{"store_as text", func(c *Config) { c.StoreAs = "text" }, ""},
		{"storage class", func(c *Config) { c.StorageClass = "CHEAP" }, "'storage_class' \"CHEAP\" is not one of STANDARD"},
		{"storage class ok", func(c *Config) { c.StorageClass = "STANDARD_IA" }, ""},
		{"acl", func(c *Config) { c.ACL = "everyone" }, "'acl'"},
		{"acl ok", func(c *Config) { c.ACL = "bucket-owner-full-control" }, ""},
		{"sse", func(c *Config) { c.UseServerSideEncryption = "DES" }, "'use_server_side_encryption'"},
		{"kms key without kms", func(c *Config) { c.SSEKMSKeyID = "k" }, "'ssekms_key_id'"},
		{"kms ok", func(c *Config) { c.UseServerSideEncryption = "aws:kms"; c.SSEKMSKeyID = "k" }, ""},
		{"sse-c raw key", func(c *Config) { c.SSECustomerKey = key32; c.SSECustomerAlgorithm = "AES256" }, ""},
		{"sse-c base64 key", func(c *Config) { c.SSECustomerKey = base64.StdEncoding.EncodeToString([]byte(key32)) }, ""},
		{"sse-c short key", func(c *Config) { c.SSECustomerKey = "short" }, "'sse_customer_key' must be 32 bytes"},
		{"sse-c bad md5", func(c *Config) { c.SSECustomerKey = key32; c.SSECustomerKeyMD5 = "x" }, "'sse_customer_key_md5'"},
		{"sse-c algorithm", func(c *Config) { c.SSECustomerKey = key32; c.SSECustomerAlgorithm = "DES" }, "'sse_customer_algorithm'"},
		{"sse-c without key", func(c *Config) { c.SSECustomerAlgorithm = "AES256" }, "'sse_customer_key' is required"},
		{"sse-c and sse", func(c *Config) { c.SSECustomerKey = key32; c.UseServerSideEncryption = "AES256" }, "'sse_customer_key' cannot"},
		{"part size small", func(c *Config) { c.PartSize = 1 << 20 }, "'part_size'"},
		{"threshold", func(c *Config) { c.MultipartThreshold = -1 }, "'multipart_threshold'"},
		{"concurrency", func(c *Config) { c.MultipartConcurrency = 0 }, "'multipart_concurrency'"},
		{"assume role without arn", func(c *Config) { c.AssumeRole = &AssumeRoleConfig{RoleSessionName: "s"} }, "'role_arn'"},
		{"assume role without session", func(c *Config) { c.AssumeRole = &AssumeRoleConfig{RoleARN: "arn"} }, "'role_session_name'"},
		{"assume role duration", func(c *Config) {
			c.AssumeRole = &AssumeRoleConfig{RoleARN: "arn", RoleSessionName: "s", DurationSeconds: 60}
		}, "'duration_seconds'"},
		{"key without chunk id", func(c *Config) { c.S3ObjectKeyFormat = "%{path}%{time_slice}_%{hex_random}.%{file_extension}" }, "'s3_object_key_format'"},
		{"uuid_flush ok", func(c *Config) { c.S3ObjectKeyFormat = "%{path}%{uuid_flush}.%{file_extension}" }, ""},
		{"hex_random_length", func(c *Config) { c.HexRandomLength = 40 }, "'hex_random_length'"},
		{"format", func(c *Config) { c.Format.Type = "csv" }, "'@type' \"csv\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.S3Bucket = "b"
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Fatalf("err = %v, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestValidateKeepsErrNotUnique(t *testing.T) {
	c := DefaultConfig()
	c.S3Bucket = "b"
	c.S3ObjectKeyFormat = "%{path}%{hex_random}.gz"
	if err := c.Validate(); !errors.Is(err, objkey.ErrNotUnique) {
		t.Fatalf("err = %v", err)
	}
	// fluent-plugin-s3's default: %{index} is chosen once per chunk.
	c.S3ObjectKeyFormat = "%{path}%{time_slice}_%{index}.%{file_extension}"
	if err := c.Validate(); err != nil {
		t.Fatalf("err = %v", err)
	}
}

func TestCheckChunkKeys(t *testing.T) {
	c := DefaultConfig()
	c.S3Bucket = "b"
	c.Path = "logs/${tag}/${region}/%Y/"
	if err := c.CheckChunkKeys([]string{"tag", "region", "time"}); err != nil {
		t.Fatal(err)
	}
	for _, keys := range [][]string{{"region", "time"}, {"tag", "time"}, {"tag", "region"}} {
		if err := c.CheckChunkKeys(keys); err == nil || !strings.HasPrefix(err.Error(), "'path'") {
			t.Errorf("chunk keys %q: err = %v", keys, err)
		}
	}
	c.Path = ""
	c.S3ObjectKeyFormat = "%{path}${tag}/%{chunk_id}.%{file_extension}"
	if err := c.CheckChunkKeys(nil); err == nil || !strings.HasPrefix(err.Error(), "'s3_object_key_format'") {
		t.Errorf("err = %v", err)
	}
}

func TestSSECustomerKey(t *testing.T) {
	c := Config{SSECustomerKey: strings.Repeat("k", 32)}
	key, sum, err := c.sseCustomerKey()
	if err != nil {
		t.Fatal(err)
	}
	c2 := Config{SSECustomerKey: key, SSECustomerKeyMD5: sum}
	key2, sum2, err := c2.sseCustomerKey()
	if err != nil || key2 != key || sum2 != sum {
		t.Fatalf("base64 form: %q %q %v", key2, sum2, err)
	}
}
