package buffer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// <buffer> compress gzip stores each frame's entries gzipped: the chunk
// file is smaller than its entries, readers get the entries back as they
// were, and a recovered chunk counts the same records and bytes.
func TestCompressGzip(t *testing.T) {
	for _, typ := range []string{"file", "memory"} {
		t.Run(typ, func(t *testing.T) {
			cfg := testConfig(t, typ)
			cfg.Compress = "gzip"
			cfg.FlushMode = "lazy"
			cfg.ChunkKeys = []string{"tag"}
			out := &recorder{}
			b, _ := open(t, cfg, out, Options{})
			ctx := context.Background()
			a, c := entries(200, t0, 100), entries(50, t0, 30)
			if err := b.Append(ctx, "app.a", a); err != nil {
				t.Fatal(err)
			}
			if err := b.AppendMarked(ctx, "app.a", c, Mark{Source: "tail\x00x", Seq: 1, Value: []byte("pos=1")}); err != nil {
				t.Fatal(err)
			}
			st := b.Stats()
			if st.StagedBytes != int64(len(a)+len(c)) {
				t.Fatalf("staged %d bytes, want the %d appended", st.StagedBytes, len(a)+len(c))
			}
			if typ == "file" {
				files, _ := filepath.Glob(filepath.Join(cfg.Path, "*.chunk"))
				if len(files) != 1 {
					t.Fatalf("chunk files %v", files)
				}
				fi, err := os.Stat(files[0])
				if err != nil {
					t.Fatal(err)
				}
				if fi.Size() >= int64(len(a)+len(c))/2 {
					t.Fatalf("chunk file of %d bytes for %d bytes of entries: not compressed", fi.Size(), len(a)+len(c))
				}
				// recovery reads the same records, bytes and mark
				b.Close()
				b, _ = open(t, cfg, out, Options{})
				if st := b.Stats(); st.StagedChunks+st.QueuedChunks != 1 || st.StagedBytes+st.QueuedBytes != int64(len(a)+len(c)) {
					t.Fatalf("recovered %+v, want one chunk of %d bytes", st, len(a)+len(c))
				}
				if ms := b.Marks("tail\x00"); len(ms) != 1 || ms[0].Seq != 1 {
					t.Fatalf("marks %v", ms)
				}
			}
			if err := b.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			b.Close()
			got := out.got()
			if len(got) != 1 || len(got[0].frames) != 2 {
				t.Fatalf("flushed %+v", got)
			}
			if !bytes.Equal(got[0].frames[0].entries, a) || !bytes.Equal(got[0].frames[1].entries, c) {
				t.Fatal("the entries read back differ from those appended")
			}
		})
	}
}

// A damaged gzip member is an error of the reader, never wrong entries.
func TestGunzipDamaged(t *testing.T) {
	var z frameGzip
	frame := appendFrame(nil, "t", entries(10, t0, 20), 10, 1, 2)
	gz, err := z.frame(frame)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := parseBody(gz[frameHead:])
	if err != nil || !fi.gzipped || fi.size() != int64(len(entries(10, t0, 20))) {
		t.Fatalf("%+v, %v", fi, err)
	}
	var g gunzipper
	bad := bytes.Clone(fi.entries)
	bad[len(bad)/2] ^= 0xff
	if _, err := g.gunzip(bad); err == nil {
		t.Fatal("a damaged member was read without an error")
	}
	if got, err := g.gunzip(fi.entries); err != nil || !bytes.Equal(got, entries(10, t0, 20)) {
		t.Fatalf("after a damaged member: %v", err)
	}
}
