package codec

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/buffer/event"
)

func TestFrameReader(t *testing.T) {
	big := packedMsg("t", bytes.Repeat(entry(1, "k", "vvvvvvvvvv"), 30000), true, nil) // > 64 KiB
	msgs := [][]byte{
		messageMsg("t", msgp.AppendUint64(nil, 1), record("a", "b"), nil),
		big,
		forwardMsg("t", [][]byte{entry(1, "a", "b")}, nil),
		msgp.AppendNil(nil),
	}
	stream := cat(msgs...)
	for name, r := range map[string]io.Reader{
		"whole":    bytes.NewReader(stream),
		"one byte": iotest.OneByteReader(bytes.NewReader(stream)),
		"half":     iotest.HalfReader(bytes.NewReader(stream)),
	} {
		t.Run(name, func(t *testing.T) {
			fr := NewFrameReader(r, 1<<20)
			for i, want := range msgs {
				got, err := fr.Next()
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("frame %d: %d bytes, want %d", i, len(got), len(want))
				}
			}
			if _, err := fr.Next(); err != io.EOF {
				t.Fatalf("end: %v", err)
			}
		})
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestFrameReaderLimits(t *testing.T) {
	const limit = 100 << 10
	// a str header declaring 10 MiB: rejected after reading the header only
	huge := cat(msgp.AppendArrayHeader(nil, 2), msgp.AppendString(nil, "t"), []byte{0xdb, 0, 0xa0, 0, 0})
	cr := &countingReader{r: io.MultiReader(bytes.NewReader(huge), bytes.NewReader(make([]byte, 10<<20)))}
	if _, err := NewFrameReader(cr, limit).Next(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("declared size: %v", err)
	}
	if cr.n > 1<<20 {
		t.Fatalf("read %d bytes before rejecting", cr.n)
	}
	// many small elements adding up past the limit
	many := cat(msgp.AppendArrayHeader(nil, 2), msgp.AppendString(nil, "t"), msgp.AppendArrayHeader(nil, 1<<20))
	many = append(many, bytes.Repeat([]byte{0xc0}, 1<<20)...)
	if _, err := NewFrameReader(bytes.NewReader(many), limit).Next(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("element count: %v", err)
	}
	if _, err := NewFrameReader(bytes.NewReader([]byte{0x92, 0xc1}), limit).Next(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("0xc1: %v", err)
	}
	if _, err := NewFrameReader(bytes.NewReader([]byte{0x92, 0x01}), limit).Next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated: %v", err)
	}
	deep := append(bytes.Repeat([]byte{0x91}, 1<<16), 0xc0)
	if f, err := NewFrameReader(bytes.NewReader(deep), 1<<20).Next(); err != nil || len(f) != len(deep) {
		t.Fatalf("deep nesting: %v", err)
	}
}

func TestSkipMatchesMsgp(t *testing.T) {
	objs := [][]byte{
		record("a", "b"), msgp.AppendFloat64(nil, 1.5), msgp.AppendInt64(nil, -1<<40),
		event.AppendEventTime(nil, 1, 2), msgp.AppendBytes(nil, make([]byte, 300)),
		msgp.AppendString(nil, string(make([]byte, 70000))), entry(1, "x", "y"),
	}
	for i, o := range objs {
		n, err := event.Skip(append(o, 0xc0))
		if err != nil || n != len(o) {
			t.Errorf("obj %d: Skip = %d, %v; want %d", i, n, err, len(o))
		}
	}
}

// TestFrameReaderGrowth shows that the buffer follows the bytes received:
// a frame declaring a large payload does not get it before sending it,
// while one declaring up to 1 MiB gets its buffer in one step.
func TestFrameReaderGrowth(t *testing.T) {
	errStall := errors.New("stalled")
	hdr := cat(msgp.AppendArrayHeader(nil, 2), msgp.AppendString(nil, "t"), []byte{0xc6, 0, 0x80, 0, 0}) // bin32 of 8 MiB
	sent := cat(hdr, make([]byte, 100<<10))
	a := newStock()
	fr := NewFrameReader(io.MultiReader(bytes.NewReader(sent), iotest.ErrReader(errStall)), 16<<20)
	fr.Alloc = a
	if _, err := fr.Next(); !errors.Is(err, errStall) {
		t.Fatalf("Next = %v", err)
	}
	if a.max > 4*len(sent) {
		t.Fatalf("holds %d bytes after receiving %d", a.max, len(sent))
	}

	a = newStock()
	msg := packedMsg("t", make([]byte, 200<<10), true, nil)
	fr = NewFrameReader(bytes.NewReader(msg), 16<<20)
	fr.Alloc = a
	if f, err := fr.Next(); err != nil || len(f) != len(msg) {
		t.Fatalf("Next = %d bytes, %v", len(f), err)
	}
	if len(a.asked) != 2 || a.asked[1] > len(msg)+frameSlack {
		t.Fatalf("asked for %v for a %d-byte frame", a.asked, len(msg))
	}
	fr.Release()
	if a.out != frameInitial {
		t.Fatalf("%d bytes held after Release", a.out)
	}
}
