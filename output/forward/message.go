package forward

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/forwarder/codec"
)

// frames is what a splitter reads: (tag, entries) frames, io.EOF at the
// end (*buffer.Reader is one).
type frames interface {
	Next() (tag string, entries []byte, err error)
}

// splitter cuts a chunk into parts: runs of entries of one tag holding at
// most limit bytes of entries (a larger entry makes a part of its own),
// re-encoded in the v1 [time, record] form. The cuts depend only on the
// chunk and the configuration, so a retry finds the same parts.
type splitter struct {
	r       frames
	limit   int
	intTime bool // time_as_integer

	tag  string
	rest []byte // entries of the current frame not yet taken
	eof  bool
	buf  []byte
}

// splitter returns a splitter of r, a chunk of size bytes of entries,
// with a part buffer used before, or one sized for the chunk's first part
// (rather than grown to it by doubling).
func (o *Output) splitter(r frames, size int64) *splitter {
	sp, _ := o.splitters.Get().(*splitter)
	if sp == nil {
		sp = &splitter{}
	}
	limit := int(o.cfg.SendChunkSize)
	buf := sp.buf[:0]
	if want := int(min(size, int64(limit))) + partSlack; cap(buf) < want {
		buf = make([]byte, 0, want)
	}
	*sp = splitter{r: r, limit: limit, intTime: o.cfg.TimeAsInteger, buf: buf}
	return sp
}

// partSlack is room in a part buffer for the entry that does not fit.
const partSlack = 4 << 10

// putSplitter keeps sp's part buffer for the next flush, unless an entry
// larger than send_chunk_size made it much larger.
func (o *Output) putSplitter(sp *splitter) {
	if cap(sp.buf) > 2*sp.limit {
		return
	}
	*sp = splitter{buf: sp.buf[:0]}
	o.splitters.Put(sp)
}

// next returns the next part; entries are valid until the next call.
func (s *splitter) next() (tag string, entries []byte, records int, err error) {
	s.buf = s.buf[:0]
	tag = s.tag
	for {
		if len(s.rest) == 0 {
			if s.eof {
				if records > 0 {
					return tag, s.buf, records, nil
				}
				return "", nil, 0, io.EOF
			}
			t, e, err := s.r.Next()
			if errors.Is(err, io.EOF) {
				s.eof = true
				continue
			}
			if err != nil {
				return "", nil, 0, err
			}
			s.tag, s.rest = t, e
			if records > 0 && t != tag {
				return tag, s.buf, records, nil
			}
			tag = t
			continue
		}
		e, rest, err := event.Next(s.rest)
		if err != nil {
			return "", nil, 0, err
		}
		mark := len(s.buf)
		s.buf = appendEntry(s.buf, e, s.intTime)
		if records > 0 && len(s.buf) > s.limit {
			s.buf = s.buf[:mark]
			return tag, s.buf, records, nil
		}
		s.rest = rest
		records++
	}
}

// appendEntry appends [time, record] with an EventTime, or integer seconds
// when intTime.
func appendEntry(dst []byte, e event.Entry, intTime bool) []byte {
	dst = append(dst, 0x92)
	switch {
	case intTime:
		dst = msgp.AppendInt64(dst, e.Sec)
	case len(e.RawTime) == 10 && e.RawTime[0] == 0xd7 && e.RawTime[1] == event.EventTimeExt:
		dst = append(dst, e.RawTime...)
	default:
		dst = event.AppendEventTime(dst, e.Sec, e.Nsec)
	}
	return append(dst, e.Record...)
}

// partID is the chunk option of part i of a chunk: base64 of 16 bytes
// derived from the chunk id and i, the same on every retry.
func partID(chunkID string, i int) string {
	h := sha256.Sum256([]byte(chunkID + "/" + strconv.Itoa(i)))
	return base64.StdEncoding.EncodeToString(h[:16])
}

// compress returns entries compressed for the compressed option (gzip or
// zstd), or entries itself for text.
func compress(kind string, entries []byte) ([]byte, error) {
	switch kind {
	case "gzip":
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		if _, err := zw.Write(entries); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	case "zstd":
		zw, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer zw.Close()
		return zw.EncodeAll(entries, make([]byte, 0, len(entries)/4+64)), nil
	}
	return entries, nil
}

// message returns a PackedForward (or CompressedPackedForward) message
// [tag, bin(payload), {"size": records, "compressed": kind, "chunk": id}]
// as its head, payload and tail, for one vectored write. compressed "" and
// id "" leave those options out.
func message(tag string, payload []byte, records int, compressed, id string) (head, tail []byte) {
	head = msgp.AppendArrayHeader(nil, 3)
	head = msgp.AppendString(head, tag)
	head = appendBinHeader(head, len(payload))
	n := uint32(1)
	if compressed != "" {
		n++
	}
	if id != "" {
		n++
	}
	tail = msgp.AppendMapHeader(nil, n)
	tail = msgp.AppendString(tail, "size")
	tail = msgp.AppendInt(tail, records)
	if compressed != "" {
		tail = msgp.AppendString(tail, "compressed")
		tail = msgp.AppendString(tail, compressed)
	}
	if id != "" {
		tail = msgp.AppendString(tail, "chunk")
		tail = msgp.AppendString(tail, id)
	}
	return head, tail
}

// appendBinHeader appends the header of a msgpack bin of n bytes.
func appendBinHeader(dst []byte, n int) []byte {
	switch {
	case n < 1<<8:
		return append(dst, 0xc4, byte(n))
	case n < 1<<16:
		return append(dst, 0xc5, byte(n>>8), byte(n))
	}
	return append(dst, 0xc6, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// errAckMismatch is wrapped by the error of an ack for another chunk id.
var errAckMismatch = errors.New("forward: ack for another chunk")

// checkAck checks that frame is {"ack": want}.
func checkAck(frame []byte, want string) error {
	v, err := ackValue(frame)
	if err != nil {
		return err
	}
	if string(v) != want {
		return fmt.Errorf("%w: got %.40q, want %q", errAckMismatch, v, want)
	}
	return nil
}

// ackValue returns the value of the ack frame {"ack": value}, a str or a
// bin; it aliases frame.
func ackValue(frame []byte) ([]byte, error) {
	got, err := codec.DecodeAck(frame)
	if err != nil {
		return nil, err
	}
	v, _, err := msgp.ReadStringZC(got)
	if err != nil {
		if v, _, err = msgp.ReadBytesZC(got); err != nil {
			return nil, fmt.Errorf("%w: ack value is %s", codec.ErrMessage, msgp.NextType(got))
		}
	}
	return v, nil
}
