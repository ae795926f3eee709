package tail

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func gzLines(t *testing.T, from, to int) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	for i := from; i < to; i++ {
		fmt.Fprintf(zw, "line %06d\n", i)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A .gz file the glob matches is read decompressed, also while it is
// still being written; its position counts decompressed bytes.
func TestTailGzip(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Path = filepath.Join(dir, "app.log*")
	path := filepath.Join(dir, "app.log.1.gz")
	z := gzLines(t, 0, 3000)
	w := openWriter(t, path)
	w.write(string(z[:len(z)/2])) // cut short: a compressor still writing
	sink := &recSink{}
	tl, _ := start(t, cfg, sink, nil)
	waitFor(t, "some lines", func() bool { return len(sink.messages()) > 0 })
	w.write(string(z[len(z)/2:]))
	waitFor(t, "3000 lines", func() bool { return len(sink.messages()) >= 3000 })
	waitFor(t, "the position at the decompressed end", func() bool {
		e, ok := position(tl, path)
		return ok && e.Offset == 3000*int64(len("line 000000\n"))
	})
	checkOnce(t, sink.messages(), 3000, 0)
}

// The rest of a file rotated and compressed while stopped is found by the
// fingerprint of its decompressed first bytes.
func TestTailRotatedGzipWhileStopped(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	w := openWriter(t, path)
	w.lines(0, 100)
	cfg := testConfig(dir)
	sink := &recSink{}
	_, stop := start(t, cfg, sink, nil)
	waitFor(t, "100 lines", func() bool { return len(sink.messages()) >= 100 })
	stop()
	if err := os.Remove(path); err != nil { // rotated, compressed
		t.Fatal(err)
	}
	put(t, path+".1.gz", string(gzLines(t, 0, 120)))
	openWriter(t, path).lines(120, 150)
	sink2 := &recSink{}
	tl2, _ := start(t, cfg, sink2, nil)
	waitFor(t, "50 lines", func() bool { return len(sink2.messages()) >= 50 })
	waitFor(t, "the old file closed", func() bool { return tl2.Stats().Files == 1 })
	checkOnce(t, append(sink.messages(), sink2.messages()...), 150, 120)
}
