package output

import (
	"maps"
	"testing"
	"time"

	"github.com/barge-dev/barge/buffer"
)

func TestMetadata(t *testing.T) {
	enc, err := NewEncoder(EncoderConfig{Format: DefaultFormatConfig(), Inject: DefaultInjectConfig(), Compress: "zstd"}, EncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := time.Date(2026, 11, 22, 13, 5, 1, 123456789, time.FixedZone("X", 3600))
	c := &buffer.Chunk{
		ID:      "0123456789abcdef0123456789abcdef",
		Tag:     "app.web",
		Keys:    map[string]string{"region": "eu", "env": "prod"},
		TimeKey: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC),
		Records: 42,
		First:   first,
		Last:    first.Add(time.Minute),
	}
	want := map[string]string{
		MetaChunkID:  c.ID,
		MetaRecords:  "42",
		MetaFirst:    "2026-11-22T12:05:01.123456789Z",
		MetaLast:     "2026-11-22T12:06:01.123456789Z",
		MetaTimeKey:  "2026-11-22T12:00:00Z",
		MetaTag:      "app.web",
		MetaKeys:     `{"env":"prod","region":"eu"}`,
		MetaHost:     "host-1",
		MetaVersion:  "v1.2.3",
		MetaFormat:   "json",
		MetaCompress: "zstd",
	}
	if got := Metadata(c, enc, "host-1", "v1.2.3"); !maps.Equal(got, want) {
		t.Errorf("Metadata =\n%v\nwant\n%v", got, want)
	}
	// Without tag, time or record keys, those entries are absent.
	c.Tag, c.Keys, c.TimeKey = "", nil, time.Time{}
	got := Metadata(c, enc, "h", "v")
	for _, k := range []string{MetaTag, MetaKeys, MetaTimeKey} {
		if _, ok := got[k]; ok {
			t.Errorf("%s present without that chunk key: %q", k, got[k])
		}
	}
}
