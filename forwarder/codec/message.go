package codec

import (
	"errors"
	"fmt"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/buffer/event"
)

// ErrMessage is wrapped by every error about a forward-protocol message's shape.
var ErrMessage = errors.New("codec: malformed message")

// Mode is the forward-protocol carrier mode of a message.
type Mode uint8

// The carrier modes of the Forward Protocol v1.
const (
	ModeMessage Mode = iota + 1
	ModeForward
	ModePackedForward
	ModeCompressedPackedForward
)

func (m Mode) String() string {
	switch m {
	case ModeMessage:
		return "Message"
	case ModeForward:
		return "Forward"
	case ModePackedForward:
		return "PackedForward"
	case ModeCompressedPackedForward:
		return "CompressedPackedForward"
	}
	return "unknown"
}

// Message is a decoded forward-protocol message. Its slices alias the frame
// or the Decoder's buffers: they are valid until the next Decode.
type Message struct {
	Mode Mode
	// Tag is the raw tag (str or bin payload).
	Tag []byte
	// Entries is the canonical entries stream ([time, record]...).
	Entries []byte
	// Records is the number of entries in Entries.
	Records int
	// Invalid is the number of entries dropped by SkipInvalid.
	Invalid int
	// Deep is how many of them were nested deeper than event.MaxDepth.
	Deep int
	// Chunk is the msgpack encoding of the chunk option, exactly as sent
	// (str or bin, byte for byte), or nil when the sender wants no ack.
	Chunk []byte
	// Size is the size option, or -1 when absent.
	Size int64
}

// Decoder decodes forward-protocol messages into canonical entries streams
// without decoding records. A Decoder reuses its buffers and is not safe
// for concurrent use.
type Decoder struct {
	// SkipInvalid drops invalid entries (counted in Message.Invalid)
	// instead of rejecting the whole message.
	SkipInvalid bool
	// Limit bounds the decompressed size of a CompressedPackedForward
	// payload and the size of the canonical entries stream (and so the
	// memory a message can claim). 0 means 64 MiB.
	Limit int
	// Now gives the time of entries sent with time 0 or nil (Message and
	// Forward modes, as Fluentd). nil means time.Now.
	Now func() time.Time
	// Alloc, when set, supplies the buffers (see Allocator).
	Alloc Allocator

	out  []byte // re-encoded entries
	one  []byte // the entry of a Message-mode message
	zbuf []byte // decompressed payload
	gz   *gzip.Reader
	zr   byteReader
	tbuf [10]byte // a re-encoded time
	peek [1]byte  // a byte read past a full decompression buffer
}

func (d *Decoder) limit() int {
	if d.Limit <= 0 {
		return 64 << 20
	}
	return d.Limit
}

// Release gives the buffers of the last message, when large, back to the
// Allocator (Decode does so too, before decoding the next message). The
// last Message's slices are then invalid.
func (d *Decoder) Release() {
	p := pool{d.Alloc}
	p.release(&d.out)
	p.release(&d.one)
	p.release(&d.zbuf)
}

// Decode decodes one complete message frame (see FrameReader).
func (d *Decoder) Decode(frame []byte) (Message, error) {
	m := Message{Size: -1}
	n, b, err := msgp.ReadArrayHeaderBytes(frame)
	if err != nil {
		return m, fmt.Errorf("%w: not an array", ErrMessage)
	}
	if n < 2 || n > 4 {
		return m, fmt.Errorf("%w: array of %d elements", ErrMessage, n)
	}
	m.Tag, b, err = readRaw(b)
	if err != nil {
		return m, fmt.Errorf("%w: tag: %v", ErrMessage, err)
	}
	d.Release()
	var opt []byte
	switch t := msgp.NextType(b); {
	case t == msgp.StrType || t == msgp.BinType:
		if n > 3 {
			return m, fmt.Errorf("%w: PackedForward of %d elements", ErrMessage, n)
		}
		var packed []byte
		packed, b, err = readRaw(b)
		if err != nil {
			return m, fmt.Errorf("%w: entries: %v", ErrMessage, err)
		}
		if n == 3 {
			opt = b
		}
		var compressed []byte
		compressed, m.Chunk, m.Size, err = readOptions(opt)
		if err != nil {
			return m, err
		}
		m.Mode = ModePackedForward
		switch string(compressed) {
		case "", "text":
		case "gzip":
			m.Mode = ModeCompressedPackedForward
			if packed, err = d.gunzip(packed); err != nil {
				return m, err
			}
		default:
			return m, fmt.Errorf("%w: unknown compression %q", ErrMessage, compressed)
		}
		// a decompressed payload is ours: re-encode it in place
		m.Entries, m.Records, m.Invalid, m.Deep, err = d.walk(packed, -1, false, m.Mode == ModeCompressedPackedForward)
		return m, err
	case t == msgp.ArrayType && !isTimeArray(b):
		if n > 3 {
			return m, fmt.Errorf("%w: Forward of %d elements", ErrMessage, n)
		}
		cnt, rest, err := msgp.ReadArrayHeaderBytes(b)
		if err != nil {
			return m, fmt.Errorf("%w: entries: %v", ErrMessage, err)
		}
		end, err := event.Skip(b)
		if err != nil {
			return m, fmt.Errorf("%w: entries: %v", ErrMessage, err)
		}
		if n == 3 {
			opt = b[end:]
		}
		if _, m.Chunk, m.Size, err = readOptions(opt); err != nil {
			return m, err
		}
		m.Mode = ModeForward
		m.Entries, m.Records, m.Invalid, m.Deep, err = d.walk(b[len(b)-len(rest):end], int(cnt), true, false)
		return m, err
	default:
		if n < 3 {
			return m, fmt.Errorf("%w: Message of %d elements", ErrMessage, n)
		}
		end, err := event.Skip(b)
		if err != nil {
			return m, fmt.Errorf("%w: time: %v", ErrMessage, err)
		}
		rec, containers, err := event.Skim(b[end:])
		if err != nil {
			return m, fmt.Errorf("%w: record: %v", ErrMessage, err)
		}
		if n == 4 {
			opt = b[end+rec:]
		}
		if _, m.Chunk, m.Size, err = readOptions(opt); err != nil {
			return m, err
		}
		m.Mode = ModeMessage
		err = d.message(&m, b[:end+rec], containers)
		return m, err
	}
}

// message sets m.Entries to the one entry of a Message-mode message, whose
// time and record are b (the record having that many non-empty maps and
// arrays), with a single copy: [time, record] needs an array header.
func (d *Decoder) message(m *Message, b []byte, containers int) error {
	e, _, useNow, err := parseFields(b, true)
	if err == nil && containers >= event.MaxDepth {
		if _, err = event.CheckRecord(e.Record); err == event.ErrTooDeep {
			m.Deep = 1
		}
	}
	if err != nil {
		if !d.SkipInvalid {
			return fmt.Errorf("entry 0: %w", err)
		}
		m.Invalid = 1
		return nil
	}
	if e.RawTime == nil {
		d.retime(&e, useNow)
	}
	n := 1 + len(e.RawTime) + len(e.Record)
	if n > d.limit() {
		return fmt.Errorf("%w: canonical entry over %d bytes", ErrTooLarge, d.limit())
	}
	out, err := pool{d.Alloc}.buffer(&d.one, n)
	if err != nil {
		return err
	}
	d.one = event.AppendEntry(out, e.RawTime, e.Record)
	m.Entries, m.Records = d.one, 1
	return nil
}

// isTimeArray reports whether b starts with a Forward Protocol v1.5 time,
// [EventTime, metadata], rather than an array of entries.
func isTimeArray(b []byte) bool {
	n, rest, err := msgp.ReadArrayHeaderBytes(b)
	return err == nil && n == 2 && msgp.NextType(rest) == msgp.ExtensionType
}

// readRaw reads a str or bin and returns its payload.
func readRaw(b []byte) (v, rest []byte, err error) {
	switch msgp.NextType(b) {
	case msgp.StrType:
		return msgp.ReadStringZC(b)
	case msgp.BinType:
		return msgp.ReadBytesZC(b)
	}
	return nil, b, fmt.Errorf("%s, want str or bin", msgp.NextType(b))
}

// readOptions reads the option map (b may be empty, or nil msgpack).
// Unknown options are ignored.
func readOptions(b []byte) (compressed, chunk []byte, size int64, err error) {
	size = -1
	if len(b) == 0 || msgp.IsNil(b) {
		return nil, nil, size, nil
	}
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return nil, nil, size, fmt.Errorf("%w: option is %s, want map", ErrMessage, msgp.NextType(b))
	}
	for i := uint32(0); i < n; i++ {
		var key []byte
		key, b, err = readRaw(b)
		if err != nil {
			return nil, nil, size, fmt.Errorf("%w: option key: %v", ErrMessage, err)
		}
		end, err := event.Skip(b)
		if err != nil {
			return nil, nil, size, fmt.Errorf("%w: option %q: %v", ErrMessage, key, err)
		}
		val := b[:end]
		switch string(key) {
		case "chunk":
			chunk = val
		case "size":
			if s, _, err := msgp.ReadInt64Bytes(val); err == nil {
				size = s
			}
		case "compressed":
			if compressed, _, err = readRaw(val); err != nil {
				return nil, nil, size, fmt.Errorf("%w: option compressed: %v", ErrMessage, err)
			}
		}
		b = b[end:]
	}
	return compressed, chunk, size, nil
}

// AppendAck appends the response {"ack": chunk} where chunk is the raw
// msgpack of the chunk option (Message.Chunk).
func AppendAck(dst, chunk []byte) []byte {
	dst = append(dst, 0x81, 0xa3, 'a', 'c', 'k')
	return append(dst, chunk...)
}

// DecodeAck decodes a response {"ack": chunk} and returns the raw msgpack
// of the chunk value, for clients comparing it with what they sent.
func DecodeAck(b []byte) ([]byte, error) {
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return nil, fmt.Errorf("%w: ack is not a map", ErrMessage)
	}
	for i := uint32(0); i < n; i++ {
		var key []byte
		if key, b, err = readRaw(b); err != nil {
			return nil, fmt.Errorf("%w: ack key: %v", ErrMessage, err)
		}
		end, err := event.Skip(b)
		if err != nil {
			return nil, fmt.Errorf("%w: ack value: %v", ErrMessage, err)
		}
		if string(key) == "ack" {
			return b[:end], nil
		}
		b = b[end:]
	}
	return nil, fmt.Errorf("%w: no ack key", ErrMessage)
}
