package forwarder

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/forwarder/codec"
	"github.com/tinylib/msgp/msgp"
)

// nullSink counts records and keeps nothing.
type nullSink struct{}

func (nullSink) Append(context.Context, string, []byte) error { return nil }

// BenchmarkServerPackedForward measures the whole server path over TCP
// loopback: one connection sending PackedForward messages of 1,000 records
// of about 200 bytes and waiting for each ack.
func BenchmarkServerPackedForward(b *testing.B) {
	var stream []byte
	for i := range 1000 {
		rec := record("host", "web-17.example.internal", "level", "info",
			"path", fmt.Sprintf("/api/v1/orders/%08d", i),
			"message", "request completed with status 200 in 12.5 ms by upstream pool a",
			"trace", "4bf92f3577b34da6a3ce929d0e0e4736")
		stream = event.AppendEntry(stream, event.AppendEventTime(nil, 1700000000, 1), rec)
	}
	msg := packed("bench", stream, true, chunkOpt(msgp.AppendString(nil, "MTcwMDAwMDAwMAo=")))
	s, err := NewServer(testConfig(), nullSink{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done; s.Close() }()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	fr := codec.NewFrameReader(nc, 1<<20)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := nc.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := fr.Next(); err != nil {
			b.Fatal(err)
		}
	}
}
