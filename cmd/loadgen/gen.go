package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/tinylib/msgp/msgp"
)

// chunkLen is the length of a chunk id: base64 of 16 bytes, as Fluentd's
// out_forward sends.
const chunkLen = 24

// genEntries returns a canonical entries stream of n records of about size
// msgpack bytes each, all with the event time now. Each record has a "seq"
// field: its index in the message. Field values are drawn from rng, so
// that messages built with different seeds differ the way real logs do
// (compression ratios like real logs', not like one repeated record).
func genEntries(n, size int, eventTime bool, now time.Time, rng *rand.Rand) []byte {
	var b []byte
	for i := range n {
		b = append(b, 0x92)
		b = appendTime(b, now, eventTime)
		b = appendRecord(b, i, size, rng)
	}
	return b
}

func appendTime(b []byte, t time.Time, eventTime bool) []byte {
	if !eventTime {
		return msgp.AppendInt64(b, t.Unix())
	}
	b = append(b, 0xd7, 0x00)
	b = append(b, byte(t.Unix()>>24), byte(t.Unix()>>16), byte(t.Unix()>>8), byte(t.Unix()))
	ns := t.Nanosecond()
	return append(b, byte(ns>>24), byte(ns>>16), byte(ns>>8), byte(ns))
}

// words is the vocabulary of generated messages.
var words = strings.Fields(`request user session cache miss hit upstream
timeout retry connection pool database query slow fast handler order item
payment invoice account login logout token refresh expired invalid valid
created updated deleted queue worker job started finished failed backend
frontend service region zone node pod container image pulled scheduled
latency bytes sent received checksum shard replica leader follower commit
rollback snapshot index search result page limit offset filter sort`)

var levels = []string{"info", "info", "info", "info", "debug", "warn", "error"}
var statuses = []int{200, 200, 200, 200, 201, 204, 301, 304, 400, 404, 500, 503}

// appendRecord appends a realistic access-log record padded (in "msg") to
// about size bytes.
func appendRecord(b []byte, seq, size int, rng *rand.Rand) []byte {
	path := "/api/v1/" + words[rng.IntN(len(words))] + "/" + strconv.Itoa(rng.IntN(1000000))
	level := levels[rng.IntN(len(levels))]
	host := "web-" + strconv.Itoa(rng.IntN(64)) + ".prod.example.com"
	status := statuses[rng.IntN(len(statuses))]
	reqID := strconv.FormatUint(rng.Uint64(), 16)
	head := "GET " + path + " " + strconv.Itoa(status) + " in " + strconv.Itoa(rng.IntN(5000)) + "ms"
	var tail []string
	for range 64 {
		tail = append(tail, words[rng.IntN(len(words))])
	}
	build := func(dst []byte, pad int) []byte {
		dst = msgp.AppendMapHeader(dst, 7)
		dst = msgp.AppendString(dst, "level")
		dst = msgp.AppendString(dst, level)
		dst = msgp.AppendString(dst, "host")
		dst = msgp.AppendString(dst, host)
		dst = msgp.AppendString(dst, "path")
		dst = msgp.AppendString(dst, path)
		dst = msgp.AppendString(dst, "status")
		dst = msgp.AppendInt(dst, status)
		dst = msgp.AppendString(dst, "request_id")
		dst = msgp.AppendString(dst, reqID)
		dst = msgp.AppendString(dst, "seq")
		dst = msgp.AppendInt(dst, seq)
		dst = msgp.AppendString(dst, "msg")
		msg := head
		for i := 0; len(msg) < pad; i++ {
			msg += " " + tail[i%len(tail)]
		}
		if len(msg) > pad && pad >= 0 {
			msg = msg[:max(pad, 0)]
		}
		return msgp.AppendString(dst, msg)
	}
	// Find the message length that brings the record closest to size; the
	// string header grows at 32 and 256 bytes.
	pad := max(size-len(build(nil, 0)), 0)
	for range 3 {
		if d := size - len(build(nil, pad)); d != 0 && pad+d >= 0 {
			pad += d
		}
	}
	return build(b, pad)
}

// message is one precomputed message: its bytes, and where its chunk id
// goes (-1 when there is none).
type message struct {
	buf      []byte
	chunkOff int
	records  int
	entries  int // msgpack bytes of the entries
}

// buildMessage encodes entries (n records) in the given forward mode. In
// message mode the message is n Message-mode frames; only the last one
// carries the chunk option.
func buildMessage(mode, tag string, entries []byte, n int, ack bool) (message, error) {
	m := message{chunkOff: -1, records: n, entries: len(entries)}
	option := func(b []byte, extra ...string) []byte {
		fields := len(extra) / 2
		if ack {
			fields++
		}
		b = msgp.AppendMapHeader(b, uint32(fields))
		for i := 0; i < len(extra); i += 2 {
			b = msgp.AppendString(b, extra[i])
			if extra[i] == "size" {
				b = msgp.AppendInt(b, n)
			} else {
				b = msgp.AppendString(b, extra[i+1])
			}
		}
		if ack {
			b = msgp.AppendString(b, "chunk")
			b = msgp.AppendString(b, string(make([]byte, chunkLen)))
			m.chunkOff = len(b) - chunkLen
		}
		return b
	}
	var b []byte
	switch mode {
	case "message":
		rest := entries
		for i := range n {
			// Each entry is [time, record]: reuse its two elements.
			_, body, err := msgp.ReadArrayHeaderBytes(rest)
			if err != nil {
				return m, err
			}
			after, err := msgp.Skip(body)
			if err == nil {
				after, err = msgp.Skip(after)
			}
			if err != nil {
				return m, err
			}
			last := i == n-1
			if last && ack {
				b = msgp.AppendArrayHeader(b, 4)
			} else {
				b = msgp.AppendArrayHeader(b, 3)
			}
			b = msgp.AppendString(b, tag)
			b = append(b, body[:len(body)-len(after)]...)
			if last && ack {
				b = option(b)
			}
			rest = after
		}
	case "forward":
		b = msgp.AppendArrayHeader(b, 3)
		b = msgp.AppendString(b, tag)
		b = msgp.AppendArrayHeader(b, uint32(n))
		b = append(b, entries...)
		b = option(b, "size", "")
	case "packed":
		b = msgp.AppendArrayHeader(b, 3)
		b = msgp.AppendString(b, tag)
		b = msgp.AppendBytes(b, entries)
		b = option(b, "size", "")
	case "compressed":
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		if _, err := w.Write(entries); err != nil {
			return m, err
		}
		if err := w.Close(); err != nil {
			return m, err
		}
		b = msgp.AppendArrayHeader(b, 3)
		b = msgp.AppendString(b, tag)
		b = msgp.AppendBytes(b, z.Bytes())
		b = option(b, "size", "", "compressed", "gzip")
	default:
		return m, fmt.Errorf("unknown mode %q (message, forward, packed, compressed)", mode)
	}
	m.buf = b
	return m, nil
}

// setChunk writes the chunk id made of the connection's prefix and the
// message counter into the message, and returns it.
func (m *message) setChunk(prefix [8]byte, counter uint64) []byte {
	if m.chunkOff < 0 {
		return nil
	}
	var raw [16]byte
	copy(raw[:8], prefix[:])
	for i := range 8 {
		raw[15-i] = byte(counter >> (8 * i))
	}
	dst := m.buf[m.chunkOff : m.chunkOff+chunkLen]
	base64.StdEncoding.Encode(dst, raw[:])
	return dst
}
