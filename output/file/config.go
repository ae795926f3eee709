package file

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/objkey"
)

// Config is the configuration of @type file.
type Config struct {
	Type string `conf:"@type"`
	// Path is the directory or file-name prefix of every file, with ${tag},
	// ${tag[N]}, ${KEY} and strftime placeholders ("./out/${tag}/%Y/").
	Path string `conf:"path" required:"true"`
	// ObjectKeyFormat is each file's name; it must contain %{chunk_id},
	// %{uuid_flush} or %{index} (chosen once per chunk and recorded with
	// it). Default %{path}%{time_slice}_%{chunk_id}.%{file_extension}.
	ObjectKeyFormat string `conf:"object_key_format"`
	// TimeSliceFormat is the strftime format of %{time_slice} (%Y%m%d%H).
	TimeSliceFormat string `conf:"time_slice_format"`
	// HexRandomLength is the length of %{hex_random} (4).
	HexRandomLength int `conf:"hex_random_length"`
	// Compress is gzip (default), zstd or none ("text" is taken as none).
	Compress string `conf:"compress" enum:"gzip,zstd,none,text"`
	// Append must stay false: each chunk is its own file.
	Append bool `conf:"append"`
	// DirPermission and FilePermission are octal modes (0755, 0644).
	DirPermission  string `conf:"dir_permission"`
	FilePermission string `conf:"file_permission"`

	Format format.Config       `conf:"<format>"`
	Inject format.InjectConfig `conf:"<inject>"`
}

// DefaultConfig returns the defaults: gzip-compressed JSON lines named
// %{path}%{time_slice}_%{chunk_id}.%{file_extension}.
func DefaultConfig() Config {
	return Config{
		Type:            "file",
		ObjectKeyFormat: objkey.DefaultObjectKeyFormat,
		TimeSliceFormat: objkey.DefaultTimeSliceFormat,
		HexRandomLength: 4,
		Compress:        "gzip",
		DirPermission:   "0755",
		FilePermission:  "0644",
		Format:          format.DefaultConfig(),
		Inject:          format.DefaultInjectConfig(),
	}
}

// Validate checks the configuration without touching the file system.
func (c *Config) Validate() error {
	if c.Path == "" {
		return errors.New("'path' is required")
	}
	if c.Append {
		return errors.New("'append' true is not supported: each chunk is written as its own file")
	}
	if err := format.ValidateCompress(c.Compress); err != nil {
		return err
	}
	if _, err := parseMode("dir_permission", c.DirPermission); err != nil {
		return err
	}
	if _, err := parseMode("file_permission", c.FilePermission); err != nil {
		return err
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

// parseMode parses an octal permission such as "0644".
func parseMode(key, s string) (os.FileMode, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o7777 {
		return 0, fmt.Errorf("'%s' %q is not an octal mode like 0644", key, s)
	}
	return os.FileMode(m), nil
}
