package codec

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/buffer/event"
)

func record(kv ...string) []byte {
	b := msgp.AppendMapHeader(nil, uint32(len(kv)/2))
	for _, s := range kv {
		b = msgp.AppendString(b, s)
	}
	return b
}

func entry(sec uint64, kv ...string) []byte {
	return event.AppendEntry(nil, msgp.AppendUint64(nil, sec), record(kv...))
}

func evEntry(sec, nsec int64, kv ...string) []byte {
	return event.AppendEntry(nil, event.AppendEventTime(nil, sec, nsec), record(kv...))
}

// v15Entry is [[EventTime, metadata], record].
func v15Entry(sec, nsec int64, kv ...string) []byte {
	b := msgp.AppendArrayHeader(nil, 2)
	b = msgp.AppendArrayHeader(b, 2)
	b = event.AppendEventTime(b, sec, nsec)
	b = append(b, record("otlp", "x")...)
	return append(b, record(kv...)...)
}

func options(chunk []byte, extra ...string) []byte {
	n := len(extra) / 2
	if chunk != nil {
		n++
	}
	b := msgp.AppendMapHeader(nil, uint32(n))
	if chunk != nil {
		b = msgp.AppendString(b, "chunk")
		b = append(b, chunk...)
	}
	for i := 0; i < len(extra); i += 2 {
		b = msgp.AppendString(b, extra[i])
		b = msgp.AppendString(b, extra[i+1])
	}
	return b
}

func packedMsg(tag string, stream []byte, bin bool, opt []byte) []byte {
	n := uint32(2)
	if opt != nil {
		n = 3
	}
	b := msgp.AppendArrayHeader(nil, n)
	b = msgp.AppendString(b, tag)
	if bin {
		b = msgp.AppendBytes(b, stream)
	} else {
		b = msgp.AppendStringFromBytes(b, stream)
	}
	return append(b, opt...)
}

func forwardMsg(tag string, entries [][]byte, opt []byte) []byte {
	n := uint32(2)
	if opt != nil {
		n = 3
	}
	b := msgp.AppendArrayHeader(nil, n)
	b = msgp.AppendString(b, tag)
	b = msgp.AppendArrayHeader(b, uint32(len(entries)))
	for _, e := range entries {
		b = append(b, e...)
	}
	return append(b, opt...)
}

func messageMsg(tag string, rawTime, rec, opt []byte) []byte {
	n := uint32(3)
	if opt != nil {
		n = 4
	}
	b := msgp.AppendArrayHeader(nil, n)
	b = msgp.AppendString(b, tag)
	b = append(b, rawTime...)
	b = append(b, rec...)
	return append(b, opt...)
}

func gz(members ...[]byte) []byte {
	var buf bytes.Buffer
	for _, m := range members {
		w := gzip.NewWriter(&buf)
		w.Write(m)
		w.Close()
	}
	return buf.Bytes()
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func TestDecodeModes(t *testing.T) {
	e1, e2 := entry(1700000000, "a", "1"), evEntry(1700000001, 5, "b", "2")
	canon := cat(e1, e2)
	chunk := msgp.AppendString(nil, "abc==\n")
	binChunk := msgp.AppendBytes(nil, []byte{1, 2, 0xff})
	cases := []struct {
		name    string
		msg     []byte
		mode    Mode
		want    []byte
		chunk   []byte
		records int
	}{
		{"message int time", messageMsg("t", msgp.AppendUint64(nil, 1700000000), record("a", "1"), nil), ModeMessage, e1, nil, 1},
		{"message EventTime with ack", messageMsg("t", event.AppendEventTime(nil, 1700000001, 5), record("b", "2"), options(chunk)), ModeMessage, e2, chunk, 1},
		{"message v1.5 time", messageMsg("t", v15Entry(1700000001, 5)[1:12+len(record("otlp", "x"))], record("b", "2"), nil), ModeMessage, e2, nil, 1},
		{"forward", forwardMsg("t", [][]byte{e1, e2}, options(binChunk)), ModeForward, canon, binChunk, 2},
		{"forward v1.5", forwardMsg("t", [][]byte{e1, v15Entry(1700000001, 5, "b", "2")}, nil), ModeForward, canon, nil, 2},
		{"forward empty", forwardMsg("t", nil, nil), ModeForward, nil, nil, 0},
		{"packed str", packedMsg("t", canon, false, options(chunk, "size", "2")), ModePackedForward, canon, chunk, 2},
		{"packed bin", packedMsg("t", canon, true, nil), ModePackedForward, canon, nil, 2},
		{"packed v1.5", packedMsg("t", cat(v15Entry(1700000001, 5, "b", "2"), e1), true, nil), ModePackedForward, cat(e2, e1), nil, 2},
		{"packed unknown option", packedMsg("t", canon, true, options(chunk, "fluent_signal", "1", "x", "y")), ModePackedForward, canon, chunk, 2},
		{"compressed", packedMsg("t", gz(canon), true, options(chunk, "compressed", "gzip")), ModeCompressedPackedForward, canon, chunk, 2},
		{"compressed multi-member", packedMsg("t", gz(e1, e2), true, options(nil, "compressed", "gzip")), ModeCompressedPackedForward, canon, nil, 2},
		{"compressed text", packedMsg("t", canon, false, options(nil, "compressed", "text")), ModePackedForward, canon, nil, 2},
	}
	var d Decoder
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := d.Decode(c.msg)
			if err != nil {
				t.Fatal(err)
			}
			if m.Mode != c.mode || string(m.Tag) != "t" || m.Records != c.records {
				t.Fatalf("mode %v tag %q records %d", m.Mode, m.Tag, m.Records)
			}
			if !bytes.Equal(m.Entries, c.want) {
				t.Fatalf("entries\n got %x\nwant %x", m.Entries, c.want)
			}
			if !bytes.Equal(m.Chunk, c.chunk) {
				t.Fatalf("chunk %x, want %x", m.Chunk, c.chunk)
			}
			if n, _, _, err := event.Count(m.Entries); err != nil || n != c.records {
				t.Fatalf("Count = %d, %v", n, err)
			}
		})
	}
}

func TestDecodeZeroTimeIsNow(t *testing.T) {
	now := time.Unix(1800000000, 42)
	d := Decoder{Now: func() time.Time { return now }}
	m, err := d.Decode(messageMsg("t", msgp.AppendUint64(nil, 0), record("a", "1"), nil))
	if err != nil {
		t.Fatal(err)
	}
	e, _, err := event.Next(m.Entries)
	if err != nil || e.Sec != 1800000000 || e.Nsec != 42 {
		t.Fatalf("entry %+v, %v", e, err)
	}
	m, err = d.Decode(forwardMsg("t", [][]byte{event.AppendEntry(nil, msgp.AppendNil(nil), record())}, nil))
	if err != nil || m.Records != 1 {
		t.Fatalf("nil time: %v", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := entry(1, "a", "b")
	bad := event.AppendEntry(nil, msgp.AppendString(nil, "now"), record())
	cases := map[string][]byte{
		"not array":        msgp.AppendString(nil, "x"),
		"one element":      cat(msgp.AppendArrayHeader(nil, 1), msgp.AppendString(nil, "t")),
		"five elements":    cat(msgp.AppendArrayHeader(nil, 5), msgp.AppendString(nil, "t"), msgp.AppendNil(nil), msgp.AppendNil(nil), msgp.AppendNil(nil), msgp.AppendNil(nil)),
		"tag int":          cat(msgp.AppendArrayHeader(nil, 3), msgp.AppendInt(nil, 1), msgp.AppendInt(nil, 1), record()),
		"record not map":   messageMsg("t", msgp.AppendUint64(nil, 1), msgp.AppendString(nil, "r"), nil),
		"negative time":    messageMsg("t", msgp.AppendInt64(nil, -5), record(), nil),
		"bad entry":        forwardMsg("t", [][]byte{good, bad}, nil),
		"packed garbage":   packedMsg("t", cat(good, []byte{0xc1, 0x00}), false, nil),
		"packed truncated": packedMsg("t", good[:len(good)-1], false, nil),
		"option not map":   cat(msgp.AppendArrayHeader(nil, 3), msgp.AppendString(nil, "t"), msgp.AppendString(nil, string(good)), msgp.AppendInt(nil, 3)),
		"bad gzip":         packedMsg("t", []byte("not gzip"), true, options(nil, "compressed", "gzip")),
		"unknown codec":    packedMsg("t", good, true, options(nil, "compressed", "zstd")),
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			var d Decoder
			if _, err := d.Decode(msg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestDecodeSkipInvalid(t *testing.T) {
	good := entry(1, "a", "b")
	bad := event.AppendEntry(nil, msgp.AppendString(nil, "now"), record())
	notMap := event.AppendEntry(nil, msgp.AppendUint64(nil, 1), msgp.AppendInt(nil, 3))
	d := Decoder{SkipInvalid: true}
	for _, msg := range [][]byte{
		forwardMsg("t", [][]byte{good, bad, notMap, good}, nil),
		packedMsg("t", cat(good, bad, good, notMap), true, nil),
	} {
		m, err := d.Decode(msg)
		if err != nil {
			t.Fatal(err)
		}
		if m.Records != 2 || m.Invalid != 2 || !bytes.Equal(m.Entries, cat(good, good)) {
			t.Fatalf("records %d invalid %d entries %x", m.Records, m.Invalid, m.Entries)
		}
	}
	// garbage in the middle of a packed stream: keep the valid prefix
	m, err := d.Decode(packedMsg("t", cat(good, []byte{0xc1}), true, nil))
	if err != nil || m.Records != 1 || m.Invalid != 1 {
		t.Fatalf("garbage tail: %+v %v", m, err)
	}
}

func TestGzipBomb(t *testing.T) {
	big := bytes.Repeat(entry(1, "k", strings.Repeat("x", 100)), 20000) // ~2.3 MB
	d := Decoder{Limit: 1 << 20}
	_, err := d.Decode(packedMsg("t", gz(big), true, options(nil, "compressed", "gzip")))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	d.Limit = 4 << 20
	m, err := d.Decode(packedMsg("t", gz(big), true, options(nil, "compressed", "gzip")))
	if err != nil || m.Records != 20000 {
		t.Fatalf("records %d err %v", m.Records, err)
	}
}

func TestAck(t *testing.T) {
	chunk := msgp.AppendString(nil, "id\n")
	ack := AppendAck(nil, chunk)
	sz, rest, err := msgp.ReadMapHeaderBytes(ack)
	if err != nil || sz != 1 {
		t.Fatal(err)
	}
	k, rest, _ := msgp.ReadStringBytes(rest)
	v, rest, err := msgp.ReadStringBytes(rest)
	if k != "ack" || v != "id\n" || len(rest) != 0 || err != nil {
		t.Fatalf("ack %q %q %v", k, v, err)
	}
	if got, err := DecodeAck(ack); err != nil || !bytes.Equal(got, chunk) {
		t.Fatalf("DecodeAck = %x, %v", got, err)
	}
	if _, err := DecodeAck(record("x", "y")); err == nil {
		t.Fatal("DecodeAck accepted a map without ack")
	}
}

func TestHandshakeRoundTrip(t *testing.T) {
	h := Helo{Nonce: []byte("nonce"), Auth: []byte("salt"), Keepalive: true}
	gh, err := DecodeHelo(AppendHelo(nil, h))
	if err != nil || string(gh.Nonce) != "nonce" || string(gh.Auth) != "salt" || !gh.Keepalive {
		t.Fatalf("helo %+v %v", gh, err)
	}
	p := Ping{"host", []byte("s"), SharedKeyDigest([]byte("s"), "host", []byte("nonce"), "k"), "u", PasswordDigest([]byte("salt"), "u", "p")}
	gp, err := DecodePing(AppendPing(nil, p))
	if err != nil || fmt.Sprint(gp) != fmt.Sprint(p) {
		t.Fatalf("ping %+v %v", gp, err)
	}
	po := Pong{OK: true, Hostname: "srv", SharedKeyDigest: "d"}
	gpo, err := DecodePong(AppendPong(nil, po))
	if err != nil || gpo != po {
		t.Fatalf("pong %+v %v", gpo, err)
	}
	if _, err := DecodePing(AppendHelo(nil, h)); err == nil {
		t.Fatal("HELO decoded as PING")
	}
	if len(p.SharedKeyDigest) != 128 {
		t.Fatalf("digest %q is not sha512 hex", p.SharedKeyDigest)
	}
}

func FuzzDecodeMessage(f *testing.F) {
	e := cat(entry(1, "a", "b"), evEntry(2, 3, "c", "d"))
	chunk := msgp.AppendString(nil, "c\n")
	f.Add(messageMsg("t", msgp.AppendUint64(nil, 1), record("a", "b"), options(chunk)))
	f.Add(forwardMsg("t", [][]byte{entry(1, "a", "b"), v15Entry(1, 2, "x", "y")}, options(chunk)))
	f.Add(packedMsg("t", e, false, options(chunk, "size", "2")))
	f.Add(packedMsg("t", e, true, nil))
	f.Add(packedMsg("t", gz(e, e), true, options(chunk, "compressed", "gzip")))
	f.Add([]byte{0x93, 0xa1, 't', 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add(packedMsg("t", event.AppendEntry(nil, msgp.AppendUint64(nil, 1), nested(event.MaxDepth+1)), true, nil))
	f.Add(messageMsg("t", msgp.AppendUint64(nil, 0), nested(event.MaxDepth), nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		// frame it as the server does, then decode
		fr := NewFrameReader(bytes.NewReader(b), 1<<16)
		for {
			frame, err := fr.Next()
			if err != nil {
				return
			}
			for _, skip := range []bool{false, true} {
				d := Decoder{SkipInvalid: skip, Limit: 1 << 16}
				m, err := d.Decode(frame)
				if err != nil {
					continue
				}
				n, _, _, err := event.Count(m.Entries)
				if err != nil || n != m.Records {
					t.Fatalf("decoded stream not canonical: %d/%d %v", n, m.Records, err)
				}
			}
		}
	})
}

// TestGunzipSizes shows the growth of a decompression buffer: from a hint
// that is not too large, the compressed payload, the old and the new
// buffer never hold more than twice the limit, and the size reaches the
// limit.
func TestGunzipSizes(t *testing.T) {
	const limit = 1 << 20
	for _, compressed := range []int{100, 64 << 10, limit / 2, limit - 100} {
		for _, hint := range []int{0, 1000, limit / 3, limit - compressed, limit, 1 << 31} {
			cur := gunzipSize(0, hint, compressed, limit)
			if cur < gunzipInitial || cur > limit || cur != min(max(hint, gunzipInitial), limit) {
				t.Fatalf("first size %d for hint %d", cur, hint)
			}
			for cur < limit {
				next := gunzipSize(cur, 0, compressed, limit)
				bounded := hint <= limit-compressed // else a hint proven wrong
				if next <= cur || bounded && compressed+cur+next > 2*limit+gunzipInitial {
					t.Fatalf("compressed %d hint %d: %d to %d", compressed, hint, cur, next)
				}
				cur = next
			}
		}
	}
}
