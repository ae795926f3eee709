package gcs

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	ok := func(c *Config) {}
	for _, tt := range []struct {
		mod  func(*Config)
		want string // prefix of the error, "" for none
	}{
		{ok, ""},
		{func(c *Config) { c.Bucket = "" }, "'bucket' is required"},
		{func(c *Config) { c.Bucket = "gs://b" }, "'bucket'"},
		{func(c *Config) { c.Bucket = "b/logs" }, "'bucket'"},
		{func(c *Config) { c.StoreAs = "lzo" }, "'store_as'"},
		{func(c *Config) { c.StoreAs = "json"; c.Format.Type = "ltsv" }, "'store_as' json needs"},
		{func(c *Config) { c.StoreAs = "txt"; c.Format.Type = "ltsv" }, ""},
		{func(c *Config) { c.StoreAs = "text" }, ""},
		{func(c *Config) { c.StoreAs = "zstd" }, ""},
		{func(c *Config) { c.Transcoding = true }, ""},
		{func(c *Config) { c.Transcoding = true; c.StoreAs = "zstd" }, "'transcoding'"},
		{func(c *Config) { c.StorageClass = "nearline" }, ""},
		{func(c *Config) { c.StorageClass = "COLDLINE" }, ""},
		{func(c *Config) { c.StorageClass = "dra" }, ""},
		{func(c *Config) { c.StorageClass = "glacier" }, "'storage_class'"},
		{func(c *Config) { c.ACL = "public_read" }, ""},
		{func(c *Config) { c.ACL = "publicRead" }, "'acl'"},
		{func(c *Config) { c.EncryptionKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" }, ""},
		{func(c *Config) { c.EncryptionKey = "c2hvcnQ=" }, "'encryption_key'"},
		{func(c *Config) { c.EncryptionKey = "not base64!" }, "'encryption_key'"},
		{func(c *Config) { c.ChunkSize = 100 << 10 }, "'chunk_size'"},
		{func(c *Config) { c.ChunkSize = 2 << 30 }, "'chunk_size'"},
		{func(c *Config) { c.ClientRetries = -1 }, "'client_retries'"},
		{func(c *Config) { c.ClientRetries = 0 }, ""},
		{func(c *Config) { c.ClientTimeout = 0 }, "'client_timeout'"},
		{func(c *Config) { c.AutoCreateBucket = true }, "'auto_create_bucket'"},
		{func(c *Config) { c.Overwrite = true }, "'overwrite'"},
		{func(c *Config) { c.BlindWrite = true }, ""},
		{func(c *Config) { c.ObjectKeyFormat = "%{path}%{time_slice}_%{hex_random}.%{file_extension}" }, "'object_key_format'"},
		{func(c *Config) { c.ObjectKeyFormat = "%{path}%{time_slice}_%{index}.%{file_extension}" }, ""},
		{func(c *Config) { c.ObjectKeyFormat = "%{path}%{uuid_flush}.%{file_extension}" }, ""},
		{func(c *Config) { c.HexRandomLength = 33 }, "'hex_random_length'"},
		{func(c *Config) { c.ObjectMetadata = []ObjectMetadata{{Key: "a", Value: "1"}, {Key: "b"}} }, ""},
		{func(c *Config) { c.ObjectMetadata = []ObjectMetadata{{Value: "1"}} }, "'key'"},
		{func(c *Config) { c.ObjectMetadata = []ObjectMetadata{{Key: "Barge-Records", Value: "1"}} }, "'key'"},
		{func(c *Config) { c.ObjectMetadata = []ObjectMetadata{{Key: "a"}, {Key: "A"}} }, "'key'"},
		{func(c *Config) { c.Format.Type = "xml" }, "'@type'"},
		{func(c *Config) { c.Inject.TimeType = "weird" }, "'time_type'"},
	} {
		c := DefaultConfig()
		c.Bucket = "b"
		tt.mod(&c)
		err := c.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)) {
			t.Errorf("%+v: err = %v, want %q", c, err, tt.want)
		}
		if _, nerr := New(c, Options{}); (nerr == nil) != (err == nil) {
			t.Errorf("New and Validate disagree: %v vs %v", nerr, err)
		}
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.StoreAs != "gzip" || c.ChunkSize != 16<<20 || c.ClientRetries != 2 || c.ClientTimeout != time.Minute ||
		c.ObjectKeyFormat != "%{path}%{time_slice}_%{chunk_id}.%{file_extension}" || c.TimeSliceFormat != "%Y%m%d%H" || c.HexRandomLength != 4 {
		t.Errorf("defaults %+v", c)
	}
	if err := c.Validate(); err == nil || err.Error() != "'bucket' is required" {
		t.Errorf("Validate without bucket: %v", err)
	}
}

func TestCheckChunkKeys(t *testing.T) {
	c := DefaultConfig()
	c.Bucket = "b"
	c.Path = "logs/${tag}/${host}/%Y/"
	if err := c.CheckChunkKeys([]string{"tag", "time"}); err == nil || err.Error() != `'path' uses ${host} but 'host' is not a chunk key` {
		t.Errorf("CheckChunkKeys: %v", err)
	}
	if err := c.CheckChunkKeys([]string{"tag", "time", "host"}); err != nil {
		t.Error(err)
	}
}

func TestChunkSizeRounding(t *testing.T) {
	for in, want := range map[int64]int64{256 << 10: 256 << 10, 256<<10 + 1: 512 << 10, 16 << 20: 16 << 20, 1000000: 1 << 20} {
		if got := roundChunkSize(in); got != want {
			t.Errorf("roundChunkSize(%d) = %d, want %d", in, got, want)
		}
	}
}
