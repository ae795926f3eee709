package forward

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// TestWire decodes what the output sends with tinylib/msgp alone: plain
// Forward Protocol v1 PackedForward [tag, bin(entries), options], or
// CompressedPackedForward, and zstd as Fluentd 1.19 sends it.
func TestWire(t *testing.T) {
	for _, tt := range []struct {
		compress string
		ack      bool
	}{{"text", false}, {"text", true}, {"gzip", true}, {"zstd", true}, {"zstd", false}} {
		t.Run(tt.compress+map[bool]string{true: "_ack"}[tt.ack], func(t *testing.T) {
			rs := startRaw(t, ackReply)
			o := newOutput(t, func(c *Config) {
				c.Servers = []ServerConfig{server(rs.port())}
				c.Compress = tt.compress
				c.RequireAckResponse = tt.ack
			}, Options{})
			fs := []frame{{"wire.a", entries(0, 30, false)}}
			c := holdChunk(t, fs...)
			if err := o.Flush(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			m := rs.next(t)
			if m.arrayLen != 3 || m.tag != "wire.a" || !m.binary {
				t.Fatalf("message: %d elements, tag %q, bin %v; want [tag, bin, options]", m.arrayLen, m.tag, m.binary)
			}
			if m.opts["size"] != int64(30) {
				t.Errorf("size option %#v, want 30", m.opts["size"])
			}
			id, hasChunk := m.opts["chunk"].(string)
			if hasChunk != tt.ack || tt.ack && id != partID(c.ID, 0) {
				t.Errorf("chunk option %#v with require_ack_response %v", m.opts["chunk"], tt.ack)
			}
			payload := m.payload
			switch tt.compress {
			case "text":
				if _, ok := m.opts["compressed"]; ok {
					t.Errorf("compressed option without compression")
				}
			case "gzip":
				if m.opts["compressed"] != "gzip" {
					t.Fatalf("compressed option %#v", m.opts["compressed"])
				}
				zr, err := gzip.NewReader(bytes.NewReader(payload))
				if err != nil {
					t.Fatal(err)
				}
				if payload, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			case "zstd":
				if m.opts["compressed"] != "zstd" {
					t.Fatalf("compressed option %#v", m.opts["compressed"])
				}
				zr, err := zstd.NewReader(nil)
				if err != nil {
					t.Fatal(err)
				}
				payload, err = zr.DecodeAll(payload, nil)
				zr.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			checkRecords(t, decodeEntries(t, m.tag, payload), false, fs...)
			rs.none(t)
		})
	}
}
