package objkey

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/output/strftime"
)

// DefaultObjectKeyFormat names each chunk's file or object after its time
// slice and its id, so a retried flush rewrites the same name.
const DefaultObjectKeyFormat = "%{path}%{time_slice}_%{chunk_id}.%{file_extension}"

// DefaultTimeSliceFormat is fluent-plugin-s3's time_slice_format.
const DefaultTimeSliceFormat = "%Y%m%d%H"

// KeyConfig holds the parameters that name a chunk's file or object, as
// fluent-plugin-s3 has them.
type KeyConfig struct {
	// Path may use ${tag}, ${tag[N]}, ${KEY} and strftime conversions of the
	// chunk's time key.
	Path string
	// ObjectKeyFormat adds %{path}, %{time_slice}, %{chunk_id},
	// %{hostname}, %{uuid_flush}, %{hex_random}, %{file_extension} and
	// %{index} to what Path may use.
	ObjectKeyFormat string
	// TimeSliceFormat is the strftime format of %{time_slice}.
	TimeSliceFormat string
	// HexRandomLength is the length of %{hex_random} (1..32, default 4).
	HexRandomLength int
	// Clean, when set, rewrites the values that come from the data (the
	// tag and its parts, chunk key values, the host name) before they go
	// into a name. The file, s3 and gcs outputs use CleanPathValue.
	Clean func(string) string
}

// ChunkVars is what a name is made of: the chunk's metadata and the
// output's own values.
type ChunkVars struct {
	ID       string            // the chunk id (32 hex characters)
	Tag      string            // the chunk's tag ("" unless tag is a chunk key)
	Keys     map[string]string // record chunk keys
	TimeKey  time.Time         // start of the time key window, zero if none
	Created  time.Time         // used for %{time_slice} without a time key
	Hostname string
	// FileExtension is %{file_extension}, usually Encoder.FileExtension().
	FileExtension string
}

// KeyFormat computes the names of a chunk's file or object.
type KeyFormat struct {
	path, key *template
	timeSlice *strftime.Layout
	hexLen    int
	clean     func(string) string
	index     bool   // %{index} is in path or object_key_format
	owner     string // the formats, for Namer's owner
}

// ErrNotUnique is wrapped by NewKeyFormat's error for a key format that would
// give two chunks the same name.
var ErrNotUnique = errors.New("output: object key not unique per chunk")

// NewKeyFormat parses and checks cfg. The object key must contain
// %{chunk_id}, %{uuid_flush} or %{index}, so that each chunk has its own
// name: from its id, or an index that a Namer chooses once and records with
// the chunk.
func NewKeyFormat(cfg KeyConfig) (*KeyFormat, error) {
	if cfg.ObjectKeyFormat == "" {
		cfg.ObjectKeyFormat = DefaultObjectKeyFormat
	}
	if cfg.TimeSliceFormat == "" {
		cfg.TimeSliceFormat = DefaultTimeSliceFormat
	}
	if cfg.HexRandomLength == 0 {
		cfg.HexRandomLength = 4
	}
	if cfg.HexRandomLength < 1 || cfg.HexRandomLength > 32 {
		return nil, fmt.Errorf("'hex_random_length' %d is not in 1..32", cfg.HexRandomLength)
	}
	pathVars := slices.DeleteFunc(slices.Clone(keyVars), func(s string) bool { return s == "path" })
	path, err := parseTemplate("'path'", cfg.Path, pathVars)
	if err != nil {
		return nil, err
	}
	key, err := parseTemplate("'object_key_format'", cfg.ObjectKeyFormat, keyVars)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(cfg.ObjectKeyFormat, "/") {
		return nil, fmt.Errorf("'object_key_format' %q ends with / but must name a file or object", cfg.ObjectKeyFormat)
	}
	uses := func(v string) bool { return slices.Contains(key.vars, v) || slices.Contains(path.vars, v) }
	// %{index} counts where it is in the key: in object_key_format, or in
	// a path that object_key_format uses.
	index := slices.Contains(key.vars, "index") || slices.Contains(key.vars, "path") && slices.Contains(path.vars, "index")
	if !uses("chunk_id") && !uses("uuid_flush") && !index {
		return nil, fmt.Errorf("'object_key_format' %q must contain %%{chunk_id}, %%{uuid_flush} or %%{index}: %w", cfg.ObjectKeyFormat, ErrNotUnique)
	}
	owner := fmt.Sprintf("%q %q %q %d", cfg.Path, cfg.ObjectKeyFormat, cfg.TimeSliceFormat, cfg.HexRandomLength)
	return &KeyFormat{path: path, key: key, timeSlice: strftime.Compile(cfg.TimeSliceFormat), hexLen: cfg.HexRandomLength, clean: cfg.Clean,
		index: index, owner: owner}, nil
}

// CheckChunkKeys reports the first placeholder of path or object_key_format
// that needs a chunk key the buffer does not have, as
// "'path' uses ${host} but 'host' is not a chunk key".
func (k *KeyFormat) CheckChunkKeys(chunkKeys []string) error {
	if err := k.path.checkChunkKeys(chunkKeys); err != nil {
		return err
	}
	return k.key.checkChunkKeys(chunkKeys)
}

// Path returns the expanded path (%{index} 0).
func (k *KeyFormat) Path(v ChunkVars) string {
	return string(k.path.expand(nil, &v, k.varFn(&v, nil, 0), k.clean))
}

// Key returns the chunk's object key (for the file output: the file name)
// with %{index} 0. A key format with %{index} is named by a Namer.
func (k *KeyFormat) Key(v ChunkVars) string { return k.KeyIndex(v, 0) }

// KeyIndex returns the chunk's object key with %{index} i.
func (k *KeyFormat) KeyIndex(v ChunkVars, i int) string {
	path := k.path.expand(nil, &v, k.varFn(&v, nil, i), k.clean)
	return string(k.key.expand(nil, &v, k.varFn(&v, path, i), k.clean))
}

// UsesIndex reports whether the key has %{index}: its chunks' names are
// chosen by a Namer.
func (k *KeyFormat) UsesIndex() bool { return k.index }

func (k *KeyFormat) varFn(v *ChunkVars, path []byte, index int) func([]byte, string) []byte {
	return func(dst []byte, name string) []byte {
		switch name {
		case "path":
			return append(dst, path...)
		case "time_slice":
			t := v.TimeKey
			if t.IsZero() {
				t = v.Created
			}
			return k.timeSlice.Append(dst, t)
		case "chunk_id":
			return append(dst, v.ID...)
		case "hostname":
			if k.clean != nil {
				return append(dst, k.clean(v.Hostname)...)
			}
			return append(dst, v.Hostname...)
		case "uuid_flush":
			return appendUUID(dst, v.ID)
		case "hex_random":
			return appendHexRandom(dst, v.ID, k.hexLen)
		case "file_extension":
			return append(dst, v.FileExtension...)
		case "index":
			return strconv.AppendInt(dst, int64(index), 10)
		}
		return dst
	}
}

// appendUUID writes a 32-hex-character id as a UUID (8-4-4-4-12); other ids
// are written as they are. Derived from the chunk id, %{uuid_flush} is the
// same on every retry of a chunk.
func appendUUID(dst []byte, id string) []byte {
	if len(id) != 32 {
		return append(dst, id...)
	}
	dst = append(dst, id[0:8]...)
	dst = append(dst, '-')
	dst = append(dst, id[8:12]...)
	dst = append(dst, '-')
	dst = append(dst, id[12:16]...)
	dst = append(dst, '-')
	dst = append(dst, id[16:20]...)
	dst = append(dst, '-')
	return append(dst, id[20:]...)
}

// appendHexRandom writes the first n characters of the reversed id, as
// fluent-plugin-s3 derives %{hex_random} from the chunk's unique id.
func appendHexRandom(dst []byte, id string, n int) []byte {
	for i := len(id) - 1; i >= 0 && n > 0; i-- {
		dst = append(dst, id[i])
		n--
	}
	return dst
}

// CheckChunkKeys checks templates (values of path-like parameters) against
// the buffer's chunk keys: ${tag} needs tag, ${KEY} needs KEY and strftime
// conversions need time. Unknown %{name} placeholders are left to
// NewKeyFormat. Messages name the template's value; KeyFormat.CheckChunkKeys
// names the config key instead.
func CheckChunkKeys(templates []string, chunkKeys []string) error {
	for _, s := range templates {
		t, err := parseTemplate(strconv.Quote(s), s, keyVars)
		if err != nil {
			continue
		}
		if err := t.checkChunkKeys(chunkKeys); err != nil {
			return err
		}
	}
	return nil
}

// CheckChunkKeys compiles the key format cfg describes and reports a
// placeholder that needs a chunk key the buffer does not have; outputs'
// Config.CheckChunkKeys call it.
func (cfg KeyConfig) CheckChunkKeys(chunkKeys []string) error {
	kf, err := NewKeyFormat(cfg)
	if err != nil {
		return err
	}
	return kf.CheckChunkKeys(chunkKeys)
}

// Vars returns the values that name c's file or object.
func Vars(c *buffer.Chunk, hostname, fileExtension string) ChunkVars {
	return ChunkVars{
		ID:            c.ID,
		Tag:           c.Tag,
		Keys:          c.Keys,
		TimeKey:       c.TimeKey,
		Created:       c.Created,
		Hostname:      hostname,
		FileExtension: fileExtension,
	}
}
