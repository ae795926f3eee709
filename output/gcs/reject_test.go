package gcs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/objkey"
)

// deepEntry is an entry whose record nests one level deeper than
// event.MaxDepth: the encoder rejects it.
func deepEntry() []byte {
	b := append([]byte{0x92, 0x01, 0x81, 0xa1, 'k'}, bytes.Repeat([]byte{0x91}, event.MaxDepth)...)
	return append(b, 0xc0)
}

// TestRejectedRecords: the object holds the records the encoder wrote,
// barge-records counts them, and put returns the others with
// buffer.Rejected; in one request as in a resumable upload, which starts
// once the whole object is encoded: one session, with the count.
func TestRejectedRecords(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		uploads int // resumable uploads started
	}{
		{"single", 100, 0},
		{"resumable", 8000, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, true)
			o := newOutput(t, func(c *Config) { c.StoreAs = "json"; c.ChunkSize = 256 << 10 })
			chunk := append(append(entries(0, tc.n/2, 200), deepEntry()...), entries(tc.n/2, tc.n/2, 200)...)
			key, err := putFrames(context.Background(), o, vars(), oneFrame(chunk))
			rs, ok := buffer.RejectedRecords(err)
			if !ok || len(rs) != 1 || !bytes.Equal(rs[0].Entry, deepEntry()) || buffer.IsPermanent(err) {
				t.Fatalf("err = %v, want buffer.Rejected of the deep record", err)
			}
			data, attrs := srv.object(t, key)
			checkSeq(t, decodeLines(t, data, "none"), tc.n)
			if got := attrs.Metadata[objkey.MetaRecords]; got != strconv.Itoa(tc.n) {
				t.Errorf("%s = %s, want %d: the records in the object", objkey.MetaRecords, got, tc.n)
			}
			if got := srv.reqs.count("POST", "uploadType=resumable", "ifGenerationMatch=0"); got != tc.uploads {
				t.Errorf("%d resumable uploads, want %d: %v", got, tc.uploads, srv.reqs.reqs)
			}
			if keys := srv.keys(t); len(keys) != 1 {
				t.Errorf("objects %v", keys)
			}
		})
	}
}

// TestKeyTooLong: a key past GCS's 1024 bytes is a permanent error naming
// it, before any request.
func TestKeyTooLong(t *testing.T) {
	srv := startServer(t, true)
	o := newOutput(t, func(c *Config) { c.Path = strings.Repeat("${tag}/", 6) })
	v := vars()
	v.Tag = strings.Repeat("t", 256)
	key, err := putFrames(context.Background(), o, v, oneFrame(entries(0, 10, 0)))
	if !buffer.IsPermanent(err) || !errors.Is(err, objkey.ErrObjectKey) || !strings.Contains(err.Error(), "gs://"+bucketName+"/"+key[:100]) {
		t.Fatalf("err = %v, want permanent naming the key", err)
	}
	if len(srv.reqs.reqs) != 0 {
		t.Errorf("requests %v, want none", srv.reqs.reqs)
	}
}

// TestHostileTagAndKeys: a tag and chunk key values with slashes,
// newlines, bytes that are not UTF-8 and lengths past every limit still
// upload, under a clean key, with metadata that decodes.
func TestHostileTagAndKeys(t *testing.T) {
	srv := startServer(t, false)
	o := newOutput(t, func(c *Config) { c.Path = "logs/${tag}/${region}/" })
	c := &buffer.Chunk{ID: chunkID, Tag: "../" + strings.Repeat("日本", 200), Records: 10,
		Keys: map[string]string{"region": "eu\n/..\xff" + strings.Repeat("x", 3000)}}
	v := objkey.Vars(c, "node-1", o.enc.FileExtension())
	key := o.Key(v)
	meta := objkey.Metadata(c, o.enc, "node-1", "test")
	if err := o.put(context.Background(), key, meta, func(w io.Writer) (format.Stats, error) {
		return o.enc.Encode(w, oneFrame(entries(0, 10, 0)))
	}); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(key, "/")
	if len(parts) != 4 || parts[0] != "logs" || len(parts[1]) > objkey.MaxValueLen || !strings.HasPrefix(parts[2], "eu__.._x") {
		t.Fatalf("key %q", key)
	}
	_, attrs := srv.object(t, key)
	if tag := attrs.Metadata[objkey.MetaTag]; !strings.HasPrefix(tag, "../日本日本") || len(tag) > objkey.MaxMetaTagLen {
		t.Errorf("tag metadata %q", tag)
	}
	if k := attrs.Metadata[objkey.MetaKeys]; !strings.HasPrefix(k, `{"region":"eu\n/..\ufffdxxx`) || len(k) > objkey.MaxMetaKeysLen {
		t.Errorf("keys metadata %q", k)
	}
	if attrs.Metadata[objkey.MetaRecords] != "10" {
		t.Errorf("records metadata %q", attrs.Metadata[objkey.MetaRecords])
	}
}
