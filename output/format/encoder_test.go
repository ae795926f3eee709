package format

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// bigFrames is n realistic records in frames of 1000.
func bigFrames(t testing.TB, n int) *sliceFrames {
	var fs []frame
	for i := 0; i < n; i += 1000 {
		var b []byte
		for j := i; j < i+1000 && j < n; j++ {
			b = entry(b, 1795341845+int64(j/1000), int64(j%1000)*1e6, logRecord(t, j))
		}
		fs = append(fs, frame{"app.web", b})
	}
	return &sliceFrames{frames: fs}
}

func decompress(t *testing.T, kind string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch kind {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		return b
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEncodeCompressed(t *testing.T) {
	var plain bytes.Buffer
	enc, err := NewEncoder(EncoderConfig{Format: DefaultConfig(), Compress: "none"}, EncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Encode(&plain, bigFrames(t, 5000)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ kind, ext, ctype string }{
		{"gzip", "gz", "application/gzip"},
		{"zstd", "zst", "application/zstd"},
		{"none", "json", "application/x-ndjson"},
		{"text", "json", "application/x-ndjson"},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			enc, err := NewEncoder(EncoderConfig{Format: DefaultConfig(), Compress: tt.kind}, EncoderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if enc.FileExtension() != tt.ext || enc.ContentType() != tt.ctype {
				t.Errorf("extension %q type %q, want %q %q", enc.FileExtension(), enc.ContentType(), tt.ext, tt.ctype)
			}
			// Twice, so the second run uses pooled state.
			for range 2 {
				var out bytes.Buffer
				stats, err := enc.Encode(&out, bigFrames(t, 5000))
				if err != nil {
					t.Fatal(err)
				}
				if stats.Records != 5000 || stats.Out != int64(out.Len()) || stats.In == 0 {
					t.Errorf("stats %+v, wrote %d", stats, out.Len())
				}
				if got := decompress(t, tt.kind, out.Bytes()); !bytes.Equal(got, plain.Bytes()) {
					t.Fatalf("decompressed output differs from plain output (%d vs %d bytes)", len(got), plain.Len())
				}
			}
		})
	}
}

// TestEncodeMemoryBounded checks that encoding allocates nothing per record:
// memory does not grow with the chunk's size.
func TestEncodeMemoryBounded(t *testing.T) {
	frames := bigFrames(t, 20000)
	for _, kind := range []string{"none", "gzip", "zstd"} {
		enc, err := NewEncoder(EncoderConfig{Format: DefaultConfig(), Inject: InjectConfig{TagKey: "tag", TimeKey: "time", TimeType: "string"}, Compress: kind}, EncoderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		run := func() {
			frames.i = 0
			if _, err := enc.Encode(io.Discard, frames); err != nil {
				t.Fatal(err)
			}
		}
		run()
		if allocs := testing.AllocsPerRun(5, run); allocs > 200 { // a few per Encode (more under -race, where sync.Pool drops items), none per record
			t.Errorf("%s: %v allocations to encode 20000 records", kind, allocs)
		}
	}
}

type errFrames struct{ err error }

func (e errFrames) Next() (string, []byte, error) { return "", nil, e.err }

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestEncodeErrors(t *testing.T) {
	enc, err := NewEncoder(EncoderConfig{Format: DefaultConfig(), Compress: "gzip"}, EncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Encode(io.Discard, errFrames{errors.New("crc mismatch")}); err == nil || !strings.Contains(err.Error(), "crc mismatch") {
		t.Errorf("frames error: %v", err)
	}
	if _, err := enc.Encode(failWriter{}, bigFrames(t, 1000)); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("writer error: %v", err)
	}
}

func TestNewEncoderErrors(t *testing.T) {
	if _, err := NewEncoder(EncoderConfig{Format: DefaultConfig(), Compress: "lz4"}, EncoderOptions{}); err == nil || !strings.HasPrefix(err.Error(), "'compress'") {
		t.Errorf("err = %v", err)
	}
	if _, err := NewEncoder(EncoderConfig{Format: withType("xml"), Compress: "none"}, EncoderOptions{}); err == nil {
		t.Error("no error for format xml")
	}
}

// TestEncodeConcurrent runs several Encodes of one Encoder at once, as
// several flush threads do.
func TestEncodeConcurrent(t *testing.T) {
	for _, kind := range []string{"gzip", "zstd"} {
		enc, err := NewEncoder(EncoderConfig{Format: DefaultConfig(), Inject: InjectConfig{TimeKey: "t", TimeType: "string", TimeFormat: "%H:%M:%S.%N"}, Compress: kind}, EncoderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if _, err := enc.Encode(&want, bigFrames(t, 3000)); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 3 {
					var out bytes.Buffer
					if _, err := enc.Encode(&out, bigFrames(t, 3000)); err != nil {
						t.Error(err)
						return
					}
					if !bytes.Equal(out.Bytes(), want.Bytes()) {
						t.Error("concurrent output differs")
						return
					}
				}
			})
		}
		wg.Wait()
	}
}
