package codec

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/buffer/event"
)

// stockAlloc hands out buffers made before the test measures, and counts
// what is out.
type stockAlloc struct {
	stock    [][]byte
	out, max int // bytes handed out and not given back; its high-water mark
	gets     int
	asked    []int // the sizes asked for
	fail     error
}

func newStock() *stockAlloc {
	a := &stockAlloc{}
	for size := 1 << 10; size <= 16<<20; size *= 2 {
		for range 3 {
			a.stock = append(a.stock, make([]byte, 0, size))
		}
	}
	return a
}

func (a *stockAlloc) Get(n int) ([]byte, error) {
	if a.fail != nil {
		return nil, a.fail
	}
	a.asked = append(a.asked, n)
	for i, b := range a.stock {
		if cap(b) >= n {
			a.stock = append(a.stock[:i], a.stock[i+1:]...)
			a.out += cap(b)
			a.max = max(a.max, a.out)
			a.gets++
			return b, nil
		}
	}
	panic("stock exhausted")
}

func (a *stockAlloc) Put(b []byte) {
	a.out -= cap(b)
	a.stock = append(a.stock, b[:0])
}

// TestAllocatorHoldsEveryLargeBuffer decodes large messages of every mode
// and shows that the memory they need comes from the Allocator (nothing
// large is allocated besides), and goes back to it.
func TestAllocatorHoldsEveryLargeBuffer(t *testing.T) {
	const n = 8000 // entries of ~130 bytes: ~1 MiB
	var stream []byte
	var entries [][]byte
	for i := range n {
		e := entry(uint64(1700000000+i), "k", strings.Repeat("v", 120))
		stream = append(stream, e...)
		entries = append(entries, event.AppendEntry(nil, msgp.AppendUint64(nil, 0), record("k", strings.Repeat("v", 120))))
	}
	v15 := cat(v15Entry(1, 2, "a", "b"), stream) // needs re-encoding
	big := record("k", strings.Repeat("v", 1<<20))
	msgs := map[string][]byte{
		"packed":            packedMsg("t", stream, true, nil),
		"packed re-encoded": packedMsg("t", v15, true, nil),
		"compressed":        packedMsg("t", gz(v15), true, options(nil, "compressed", "gzip")),
		"multi-member":      packedMsg("t", gz(v15[:len(v15)/2], v15[len(v15)/2:]), true, options(nil, "compressed", "gzip")),
		"forward":           forwardMsg("t", entries, nil),
		"message":           messageMsg("t", msgp.AppendUint64(nil, 0), big, nil),
	}
	for name, msg := range msgs {
		t.Run(name, func(t *testing.T) {
			a := newStock()
			fr := NewFrameReader(bytes.NewReader(bytes.Repeat(msg, 3)), 8<<20)
			fr.Alloc = a
			d := Decoder{Alloc: a, Limit: 8 << 20}
			var stats runtime.MemStats
			var before uint64
			for i := range 3 {
				if i == 1 { // the first round made the gzip reader
					runtime.GC()
					runtime.ReadMemStats(&stats)
					before = stats.TotalAlloc
				}
				frame, err := fr.Next()
				if err != nil {
					t.Fatal(err)
				}
				m, err := d.Decode(frame)
				if err != nil || m.Records == 0 {
					t.Fatalf("decode: %d records, %v", m.Records, err)
				}
				if _, _, _, err := event.Count(m.Entries); err != nil {
					t.Fatal(err)
				}
				d.Release()
			}
			runtime.ReadMemStats(&stats)
			if got := stats.TotalAlloc - before; got > 64<<10 {
				t.Errorf("allocated %d bytes besides the Allocator's", got)
			}
			if a.max < len(msg) {
				t.Errorf("the Allocator held at most %d bytes for a %d-byte message", a.max, len(msg))
			}
			fr.Release()
			if _, err := fr.Next(); err != io.EOF {
				t.Fatalf("end: %v", err)
			}
			// kept: the frame reader's first buffer and small decoder buffers
			if a.out > frameInitial+3*KeepSmall {
				t.Errorf("%d bytes not given back", a.out)
			}
		})
	}
}

func TestAllocatorError(t *testing.T) {
	errNoMemory := errors.New("no memory")
	a := &stockAlloc{fail: errNoMemory}
	msg := packedMsg("t", bytes.Repeat(entry(1, "k", "v"), 10000), true, nil)
	fr := NewFrameReader(bytes.NewReader(msg), 1<<20)
	fr.Alloc = a
	if _, err := fr.Next(); !errors.Is(err, errNoMemory) {
		t.Fatalf("Next = %v", err)
	}
	d := Decoder{Alloc: a}
	if _, err := d.Decode(packedMsg("t", gz(bytes.Repeat(entry(1, "k", "v"), 10000)), true, options(nil, "compressed", "gzip"))); !errors.Is(err, errNoMemory) {
		t.Fatalf("Decode = %v", err)
	}
}
