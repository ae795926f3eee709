package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/tinylib/msgp/msgp"
	"go.uber.org/goleak"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/buffertest"
	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/objkey"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const chunkID = "0123456789abcdef0123456789abcdef"

// frames serves (tag, entries) pairs.
type frames struct {
	tags    []string
	entries [][]byte
}

func (f *frames) Next() (string, []byte, error) {
	if len(f.tags) == 0 {
		return "", nil, io.EOF
	}
	tag, e := f.tags[0], f.entries[0]
	f.tags, f.entries = f.tags[1:], f.entries[1:]
	return tag, e, nil
}

// entries returns n entries {"seq": i, "msg": ...} from seq from.
func entries(from, n int) []byte {
	var b []byte
	for i := from; i < from+n; i++ {
		rec := msgp.AppendMapHeader(nil, 2)
		rec = msgp.AppendString(rec, "seq")
		rec = msgp.AppendInt(rec, i)
		rec = msgp.AppendString(rec, "msg")
		rec = msgp.AppendString(rec, fmt.Sprintf("hello %d", i))
		b = event.AppendEntry(b, event.AppendEventTime(nil, 1795341845, int64(i)), rec)
	}
	return b
}

func vars() objkey.ChunkVars {
	return objkey.ChunkVars{ID: chunkID, Tag: "app.web", TimeKey: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), Created: time.Now()}
}

func newOutput(t *testing.T, mod func(*Config)) *Output {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Path = filepath.Join(t.TempDir(), "out", "${tag}") + "/"
	if mod != nil {
		mod(&cfg)
	}
	o, err := New(cfg, Options{Hostname: "node-1", Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func flushFrames(o *Output, ctx context.Context, v objkey.ChunkVars, f format.Frames) error {
	v.FileExtension = o.enc.FileExtension()
	v.Hostname = o.hostname
	return o.flush(ctx, v, func(w io.Writer) (format.Stats, error) { return o.enc.Encode(w, f) })
}

// readJSONLines reads a possibly compressed file of JSON lines.
func readJSONLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader = bytes.NewReader(data)
	switch {
	case strings.HasSuffix(path, ".gz"):
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case strings.HasSuffix(path, ".zst"):
		zr, err := zstd.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	}
	var recs []map[string]any
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %q: %v", path, sc.Text(), err)
		}
		recs = append(recs, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// listFiles returns every file under dir, relative, hidden ones included.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			names = append(names, rel)
		}
		return nil
	})
	return names
}

func TestFlushCompressions(t *testing.T) {
	for _, tt := range []struct{ compress, ext string }{{"gzip", "gz"}, {"zstd", "zst"}, {"none", "json"}} {
		t.Run(tt.compress, func(t *testing.T) {
			o := newOutput(t, func(c *Config) { c.Compress = tt.compress; c.Inject.TagKey = "tag" })
			f := &frames{tags: []string{"app.web", "app.web"}, entries: [][]byte{entries(0, 3000), entries(3000, 2000)}}
			if err := flushFrames(o, context.Background(), vars(), f); err != nil {
				t.Fatal(err)
			}
			name := o.Name(vars())
			want := "2026112210_" + chunkID + "." + tt.ext
			if filepath.Base(name) != want || filepath.Base(filepath.Dir(name)) != "app.web" {
				t.Fatalf("name %s, want .../app.web/%s", name, want)
			}
			recs := readJSONLines(t, name)
			if len(recs) != 5000 {
				t.Fatalf("%d records, want 5000", len(recs))
			}
			for i, r := range recs {
				if r["seq"] != float64(i) || r["tag"] != "app.web" || r["msg"] != fmt.Sprintf("hello %d", i) {
					t.Fatalf("record %d: %v", i, r)
				}
			}
			if files := listFiles(t, filepath.Dir(name)); len(files) != 1 {
				t.Errorf("files %v, want only the output", files)
			}
		})
	}
}

func TestRetriedFlushReplacesItsFile(t *testing.T) {
	o := newOutput(t, nil)
	dir := filepath.Dir(o.Name(vars()))
	// A crash left a temporary file behind; the first try fails mid-way.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ".tmp-"+chunkID), []byte("garbage"), 0o644)
	failing := func(w io.Writer) (format.Stats, error) {
		w.Write([]byte("partial"))
		return format.Stats{}, errors.New("disk full")
	}
	v := vars()
	v.FileExtension, v.Hostname = "gz", "node-1"
	if err := o.flush(context.Background(), v, failing); err == nil || buffer.IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if files := listFiles(t, dir); len(files) != 0 {
		t.Fatalf("files after a failed flush: %v", files)
	}
	for range 3 {
		f := &frames{tags: []string{"app.web"}, entries: [][]byte{entries(0, 100)}}
		if err := flushFrames(o, context.Background(), vars(), f); err != nil {
			t.Fatal(err)
		}
	}
	files := listFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("files %v, want one", files)
	}
	if n := len(readJSONLines(t, filepath.Join(dir, files[0]))); n != 100 {
		t.Errorf("%d records, want 100", n)
	}
}

// blockingFrames checks, between frames, that only the hidden temporary file
// exists.
type blockingFrames struct {
	t     *testing.T
	dir   string
	final string
	n     int
}

func (b *blockingFrames) Next() (string, []byte, error) {
	b.n++
	if b.n > 3 {
		return "", nil, io.EOF
	}
	if b.n > 1 {
		if _, err := os.Stat(b.final); !errors.Is(err, os.ErrNotExist) {
			b.t.Errorf("final name visible while writing: %v", err)
		}
		for _, f := range listFiles(b.t, b.dir) {
			if !strings.HasPrefix(f, ".tmp-") {
				b.t.Errorf("non-hidden file %s while writing", f)
			}
		}
	}
	return "app.web", entries(b.n*1000, 20000), nil
}

func TestTemporaryNameWhileWriting(t *testing.T) {
	o := newOutput(t, nil)
	final := o.Name(vars())
	f := &blockingFrames{t: t, dir: filepath.Dir(final), final: final}
	if err := flushFrames(o, context.Background(), vars(), f); err != nil {
		t.Fatal(err)
	}
	if len(readJSONLines(t, final)) != 60000 {
		t.Error("wrong record count")
	}
}

func TestUnwritablePathNamesIt(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "blocker")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	o := newOutput(t, func(c *Config) { c.Path = blocker + "/sub/${tag}/" })
	err := flushFrames(o, context.Background(), vars(), &frames{tags: []string{"a"}, entries: [][]byte{entries(0, 1)}})
	if err == nil || !strings.Contains(err.Error(), blocker+"/sub/app.web") {
		t.Fatalf("err = %v, want it to name the path", err)
	}
	if buffer.IsPermanent(err) {
		t.Error("a file system error should be retried")
	}
}

// TestMalformedRecordsRejected checks that bad records are left out of the
// file and returned as buffer.Rejected, the others written.
func TestMalformedRecordsRejected(t *testing.T) {
	o := newOutput(t, func(c *Config) { c.Compress = "none" })
	bad := []byte{0x92, 0xa1, 'x', 0x80} // [ "x", {} ]: a string time
	deep := bytes.Repeat([]byte{0x91}, event.MaxDepth)
	deep = append(append([]byte{0x92, 0x01, 0x81, 0xa1, 'k'}, deep...), 0xc0) // 101 levels
	chunk := append(append(append(entries(0, 2), bad...), deep...), entries(2, 2)...)
	err := flushFrames(o, context.Background(), vars(), &frames{tags: []string{"a"}, entries: [][]byte{chunk}})
	rs, ok := buffer.RejectedRecords(err)
	if !ok || buffer.IsPermanent(err) || len(rs) != 2 {
		t.Fatalf("err = %v, want buffer.Rejected of 2 records", err)
	}
	if !bytes.Equal(rs[0].Entry, bad) || !bytes.Equal(rs[1].Entry, deep) || rs[0].Tag != "a" || !strings.Contains(rs[1].Reason, "nested deeper") {
		t.Errorf("rejects %+v", rs)
	}
	recs := readJSONLines(t, o.Name(vars()))
	if len(recs) != 4 || recs[3]["seq"] != float64(3) {
		t.Errorf("file holds %v, want the 4 good records", recs)
	}
}

func TestMalformedChunkIsPermanent(t *testing.T) {
	o := newOutput(t, nil)
	bad := []byte{0x92, 0xa1, 'x', 0x80, 0x92, 0x01, 0x01}
	err := flushFrames(o, context.Background(), vars(), &frames{tags: []string{"a"}, entries: [][]byte{bad}})
	if !buffer.IsPermanent(err) || !errors.Is(err, format.ErrAllRejected) || !strings.Contains(err.Error(), chunkID) {
		t.Fatalf("err = %v, want permanent ErrAllRejected naming the chunk", err)
	}
	if files := listFiles(t, filepath.Dir(o.Name(vars()))); len(files) != 0 {
		t.Errorf("files left: %v", files)
	}
}

// TestLongTag is a tag longer than a path element may be: it is cut to 200
// bytes with a hash, and the chunk is written, under the same name on
// every retry.
func TestLongTag(t *testing.T) {
	o := newOutput(t, nil)
	v := vars()
	v.Tag = strings.Repeat("L", 256)
	for range 2 {
		if err := flushFrames(o, context.Background(), v, &frames{tags: []string{v.Tag}, entries: [][]byte{entries(0, 3)}}); err != nil {
			t.Fatal(err)
		}
	}
	name := o.Name(v)
	if d := filepath.Base(filepath.Dir(name)); len(d) != objkey.MaxValueLen || !strings.HasPrefix(d, "LLL") {
		t.Errorf("directory %q", d)
	}
	if files := listFiles(t, filepath.Dir(name)); len(files) != 1 || len(readJSONLines(t, name)) != 3 {
		t.Errorf("files %v", files)
	}
}

// TestNameTooLongIsPermanent: a path element that no retry can create (two
// 200-byte values joined) is a permanent error naming the path, at once.
func TestNameTooLongIsPermanent(t *testing.T) {
	o := newOutput(t, func(c *Config) { c.Path = filepath.Join(t.TempDir(), "${tag}-${tag}") + "/" })
	v := vars()
	v.Tag = strings.Repeat("L", 256)
	err := flushFrames(o, context.Background(), v, &frames{tags: []string{v.Tag}, entries: [][]byte{entries(0, 1)}})
	if !buffer.IsPermanent(err) || !errors.Is(err, syscall.ENAMETOOLONG) || !strings.Contains(err.Error(), filepath.Dir(o.Name(v))) {
		t.Fatalf("err = %v, want permanent ENAMETOOLONG naming the path", err)
	}
}

func TestNameErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		perm bool
	}{
		{&os.PathError{Op: "mkdir", Path: "p", Err: syscall.ENAMETOOLONG}, true},
		{&os.PathError{Op: "open", Path: "p", Err: syscall.EINVAL}, true},
		{&os.LinkError{Op: "rename", Old: "a", New: "b", Err: syscall.EILSEQ}, true},
		{&os.PathError{Op: "mkdir", Path: "p", Err: syscall.EACCES}, false},
		{&os.PathError{Op: "open", Path: "p", Err: syscall.ENOSPC}, false},
	} {
		err := nameErr(fmt.Errorf("create %q: %w", "p", tc.err))
		if buffer.IsPermanent(err) != tc.perm || !strings.Contains(err.Error(), `"p"`) {
			t.Errorf("%v: permanent %v, want %v", err, buffer.IsPermanent(err), tc.perm)
		}
	}
}

func TestFlushCanceled(t *testing.T) {
	o := newOutput(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := flushFrames(o, ctx, vars(), &frames{tags: []string{"a"}, entries: [][]byte{entries(0, 1)}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestTagCannotEscape(t *testing.T) {
	o := newOutput(t, nil)
	v := vars()
	v.Tag = "../../../etc"
	name := o.Name(v)
	if strings.Contains(name, "/../") {
		t.Errorf("name %s climbs out of the output directory", name)
	}
}

func TestPermissions(t *testing.T) {
	o := newOutput(t, func(c *Config) { c.FilePermission = "0600"; c.DirPermission = "0700" })
	if err := flushFrames(o, context.Background(), vars(), &frames{tags: []string{"a"}, entries: [][]byte{entries(0, 1)}}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(o.Name(vars()))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v", st.Mode())
	}
	st, _ = os.Stat(filepath.Dir(o.Name(vars())))
	if st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v", st.Mode())
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) {}, ""},
		{func(c *Config) { c.Path = "" }, `'path' is required`},
		{func(c *Config) { c.Append = true }, `'append' true is not supported: each chunk is written as its own file`},
		{func(c *Config) { c.Compress = "lz4" }, `'compress' "lz4" is not one of gzip, zstd, none`},
		{func(c *Config) { c.DirPermission = "rwx" }, `'dir_permission' "rwx" is not an octal mode like 0644`},
		{func(c *Config) { c.FilePermission = "0999" }, `'file_permission' "0999" is not an octal mode like 0644`},
		{func(c *Config) { c.ObjectKeyFormat = "%{path}%{time_slice}.gz" }, `'object_key_format' "%{path}%{time_slice}.gz" must contain %{chunk_id}, %{uuid_flush} or %{index}`},
		{func(c *Config) { c.Format.Type = "csv" }, `'@type' "csv" is not a format barge has`},
		{func(c *Config) { c.Inject.TimeType = "iso" }, `'time_type' "iso" is not one of`},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		c.Path = "./out/${tag}/"
		tt.mod(&c)
		err := c.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)) {
			t.Errorf("got %v, want %q", err, tt.want)
		}
		if _, nerr := New(c, Options{}); (nerr == nil) != (err == nil) {
			t.Errorf("New and Validate disagree: %v vs %v", nerr, err)
		}
	}
	c := DefaultConfig()
	c.Path = "./out/${tag}/${host}/"
	if err := c.CheckChunkKeys([]string{"tag"}); err == nil || err.Error() != `'path' uses ${host} but 'host' is not a chunk key` {
		t.Errorf("CheckChunkKeys: %v", err)
	}
}

// TestWithMemoryBuffer runs the output behind a real buffer.
func TestWithMemoryBuffer(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Path = dir + "/${tag}/%Y/"
	cfg.Compress = "zstd"
	o, err := New(cfg, Options{Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	bcfg := buffer.DefaultConfig("memory")
	bcfg.ChunkKeys = []string{"tag", "time"}
	bcfg.TimeKey = time.Hour
	if err := cfg.CheckChunkKeys(bcfg.ChunkKeys); err != nil {
		t.Fatal(err)
	}
	buf := buffertest.Start(t, bcfg, o, "test")
	for i, tag := range []string{"a.b", "c.d", "a.b"} {
		buf.Append(tag, entries(i*100, 100))
	}
	buf.Finish(10 * time.Second)
	year := time.Unix(1795341845, 0).Format("2006")
	total := 0
	for _, tag := range []string{"a.b", "c.d"} {
		files, _ := filepath.Glob(filepath.Join(dir, tag, year, "*.zst"))
		if len(files) == 0 {
			t.Errorf("no file for %s under %s: %v", tag, dir, listFiles(t, dir))
		}
		for _, f := range files {
			total += len(readJSONLines(t, f))
		}
	}
	if total != 300 {
		t.Errorf("%d records written, want 300", total)
	}
}
