package format

import (
	"io"
	"os"
	"testing"
)

// benchEncode encodes 1000 realistic records of about 200 bytes each;
// SetBytes counts the msgpack input, the rate the pipeline must sustain.
func benchEncode(b *testing.B, cfg EncoderConfig) {
	frames := bigFrames(b, 1000)
	enc, err := NewEncoder(cfg, EncoderOptions{Hostname: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(frames.frames[0].entries)))
	b.ReportAllocs()
	var out int64
	for b.Loop() {
		frames.i = 0
		st, err := enc.Encode(io.Discard, frames)
		if err != nil {
			b.Fatal(err)
		}
		out = st.Out
	}
	b.ReportMetric(float64(out)/float64(len(frames.frames[0].entries)), "out/in")
}

func BenchmarkEncodeJSON(b *testing.B) {
	benchEncode(b, EncoderConfig{Format: DefaultConfig(), Compress: "none"})
}

func BenchmarkEncodeJSONInject(b *testing.B) {
	benchEncode(b, EncoderConfig{Format: DefaultConfig(), Compress: "none",
		Inject: InjectConfig{TagKey: "tag", TimeKey: "time", TimeType: "string", TimeFormat: "%Y-%m-%dT%H:%M:%S.%N%z"}})
}

func BenchmarkEncodeZstd(b *testing.B) {
	benchEncode(b, EncoderConfig{Format: DefaultConfig(), Compress: "zstd"})
}

func BenchmarkEncodeGzip(b *testing.B) {
	benchEncode(b, EncoderConfig{Format: DefaultConfig(), Compress: "gzip"})
}

func BenchmarkEncodeMsgpackZstd(b *testing.B) {
	benchEncode(b, EncoderConfig{Format: withType("msgpack"), Compress: "zstd"})
}

func BenchmarkEncodeLTSV(b *testing.B) {
	benchEncode(b, EncoderConfig{Format: withType("ltsv"), Compress: "none"})
}

// BenchmarkCheckRecord is the Encoder's check of each record (well-formed,
// within event.MaxDepth) alone, on the records of benchEncode: its share
// of BenchmarkEncodeJSON.
func BenchmarkCheckRecord(b *testing.B) {
	entries := bigFrames(b, 1000).frames[0].entries
	b.SetBytes(int64(len(entries)))
	for b.Loop() {
		for p := entries; len(p) > 0; {
			_, _, _, n, err := nextEntry(p)
			if err != nil {
				b.Fatal(err)
			}
			p = p[n:]
		}
	}
}

// BenchmarkZstdAlone is the ceiling of a zstd output: the compressor
// alone, with the settings the Encoder uses, on a file of JSON lines
// (BARGE_ZSTD_SAMPLE, for example one of barge's own output files,
// decompressed), fed in 64 KiB writes.
//
//	zstd -dc bench-out/loadgen.test/*.zst | head -c 64000000 > /tmp/sample.json
//	BARGE_ZSTD_SAMPLE=/tmp/sample.json go test ./output/format -run '^$' -bench ZstdAlone -cpu 1
func BenchmarkZstdAlone(b *testing.B) {
	path := os.Getenv("BARGE_ZSTD_SAMPLE")
	if path == "" {
		b.Skip("BARGE_ZSTD_SAMPLE is not set: it names the JSON-lines file to compress")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	c, err := newCompressors("zstd")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	var out countingWriter
	for b.Loop() {
		out = 0
		w := c.get(&out)
		for p := data; len(p) > 0; {
			k := min(len(p), 64<<10)
			if _, err := w.Write(p[:k]); err != nil {
				b.Fatal(err)
			}
			p = p[k:]
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		c.put(w)
	}
	b.ReportMetric(float64(len(data))/float64(out), "in/out")
}

type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
