package codec

import (
	"errors"
	"fmt"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/tinylib/msgp/msgp"
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
	// payload (and so the memory a message can claim). 0 means 64 MiB.
	Limit int
	// Now gives the time of entries sent with time 0 or nil (Message and
	// Forward modes, as Fluentd). nil means time.Now.
	Now func() time.Time

	out  []byte
	one  []byte
	zbuf []byte
	gz   *gzip.Reader
	zr   byteReader
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
	if cap(d.out) > frameKeep {
		d.out = nil // do not keep a large buffer between messages
	}
	d.out = d.out[:0]
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
		m.Entries, m.Records, m.Invalid, err = d.walk(packed, -1, false)
		return m, err
	case t == msgp.ArrayType && !isTimeArray(b):
		if n > 3 {
			return m, fmt.Errorf("%w: Forward of %d elements", ErrMessage, n)
		}
		cnt, rest, err := msgp.ReadArrayHeaderBytes(b)
		if err != nil {
			return m, fmt.Errorf("%w: entries: %v", ErrMessage, err)
		}
		end, err := Skip(b)
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
		m.Entries, m.Records, m.Invalid, err = d.walk(b[len(b)-len(rest):end], int(cnt), true)
		return m, err
	default:
		if n < 3 {
			return m, fmt.Errorf("%w: Message of %d elements", ErrMessage, n)
		}
		end, err := Skip(b)
		if err != nil {
			return m, fmt.Errorf("%w: time: %v", ErrMessage, err)
		}
		rec, err := Skip(b[end:])
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
		// [time, record] is an entry once given an array header.
		d.one = append(d.one[:0], 0x92)
		d.one = append(d.one, b[:end+rec]...)
		m.Entries, m.Records, m.Invalid, err = d.walk(d.one, -1, true)
		return m, err
	}
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
		end, err := Skip(b)
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
		end, err := Skip(b)
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
