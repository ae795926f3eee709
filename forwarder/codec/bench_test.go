package codec

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/buffer/event"
)

// benchRecords returns n entries of about 200 bytes each.
func benchRecords(n int) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		rec := record(
			"host", "web-17.example.internal",
			"level", "info",
			"path", fmt.Sprintf("/api/v1/orders/%08d", i),
			"message", "request completed with status 200 in 12.5 ms by upstream pool a",
			"trace", "4bf92f3577b34da6a3ce929d0e0e4736",
		)
		b = event.AppendEntry(b, event.AppendEventTime(nil, 1700000000+int64(i), 123456789), rec)
	}
	return b
}

func BenchmarkPackedForward(b *testing.B) {
	stream := benchRecords(1000)
	chunk := msgp.AppendString(nil, "MTcwMDAwMDAwMAo=")
	msg := packedMsg("app.logs", stream, true, options(chunk, "size", "1000"))
	fr := NewFrameReader(bytes.NewReader(nil), 32<<20)
	var d Decoder
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		fr.r = bytes.NewReader(msg)
		frame, err := fr.Next()
		if err != nil {
			b.Fatal(err)
		}
		m, err := d.Decode(frame)
		if err != nil || m.Records != 1000 {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompressedPackedForward(b *testing.B) {
	stream := benchRecords(1000)
	msg := packedMsg("app.logs", gz(stream), true, options(nil, "compressed", "gzip"))
	var d Decoder
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		if m, err := d.Decode(msg); err != nil || m.Records != 1000 {
			b.Fatal(err)
		}
	}
}
