package objkey

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/output/format"
)

func TestMetadata(t *testing.T) {
	enc, err := format.NewEncoder(format.EncoderConfig{Format: format.DefaultConfig(), Inject: format.DefaultInjectConfig(), Compress: "zstd"}, format.EncoderOptions{})
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

// TestMetadataHostileValues checks that values from the data are bounded,
// valid UTF-8 without control characters, and barge-keys printable ASCII
// JSON that gives the values back.
func TestMetadataHostileValues(t *testing.T) {
	enc, err := format.NewEncoder(format.EncoderConfig{Format: format.DefaultConfig(), Compress: "gzip"}, format.EncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{
		"env":    "prod",
		"nl":     "a\nb\t\"q\" \\ \x00 \x7f",
		"utf8":   "日本 é 🙂",
		"binary": "\xff\xfe",
	}
	c := &buffer.Chunk{ID: "0123456789abcdef0123456789abcdef", Tag: "app.\n日本", Keys: keys}
	m := Metadata(c, enc, "host\x01", "v1")
	if m[MetaTag] != "app._日本" || m[MetaHost] != "host_" {
		t.Errorf("tag %q host %q", m[MetaTag], m[MetaHost])
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(m[MetaKeys]), &got); err != nil {
		t.Fatalf("barge-keys %q: %v", m[MetaKeys], err)
	}
	keys["binary"] = "\uFFFD\uFFFD"
	if !maps.Equal(got, keys) {
		t.Errorf("barge-keys %q gives %q, want %q", m[MetaKeys], got, keys)
	}
	if !printable(m[MetaKeys]) {
		t.Errorf("barge-keys %q is not printable ASCII", m[MetaKeys])
	}

	// Longest values: cut, bounded, distinct, deterministic.
	long := strings.Repeat("日", event.MaxTagLen/3)
	many := map[string]string{}
	for i := range 12 {
		many[fmt.Sprintf("key_%02d", i)] = strings.Repeat("\n", 1000) + strconv.Itoa(i)
	}
	c = &buffer.Chunk{ID: c.ID, Tag: long, Keys: many}
	m = Metadata(c, enc, strings.Repeat("h", 300), strings.Repeat("v", 300))
	for k, max := range map[string]int{MetaTag: MaxMetaTagLen, MetaKeys: MaxMetaKeysLen, MetaHost: MaxMetaHostLen, MetaVersion: MaxMetaHostLen} {
		if v := m[k]; len(v) > max || !utf8.ValidString(v) || !strings.Contains(v, "~") {
			t.Errorf("%s = %q (%d bytes), want at most %d, cut with a hash", k, v, len(v), max)
		}
	}
	if !strings.HasPrefix(m[MetaTag], "日日") || m[MetaTag] == Metadata(&buffer.Chunk{Tag: long + "x"}, enc, "", "")[MetaTag] {
		t.Errorf("tag %q", m[MetaTag])
	}
	got = nil
	if err := json.Unmarshal([]byte(m[MetaKeys]), &got); err != nil || len(got) != 12 || !printable(m[MetaKeys]) {
		t.Fatalf("barge-keys %q: %v", m[MetaKeys], err)
	}
	if again := Metadata(c, enc, strings.Repeat("h", 300), strings.Repeat("v", 300)); !maps.Equal(again, m) {
		t.Error("metadata differs between two calls")
	}
	// Names that leave no room: barge-keys is left out.
	huge := map[string]string{strings.Repeat("n", 300): "a", strings.Repeat("m", 300): "b"}
	if v, ok := Metadata(&buffer.Chunk{Keys: huge}, enc, "", "")[MetaKeys]; ok {
		t.Errorf("barge-keys %q with names longer than its bound", v)
	}
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
