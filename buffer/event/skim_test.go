package event

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// skimCases are msgpack objects of every type Skim reads itself, and some
// it leaves to skimSlow, whole, truncated and damaged.
func skimCases() [][]byte {
	long := strings.Repeat("x", 300)
	rec := msgp.AppendMapHeader(nil, 9)
	rec = msgp.AppendString(rec, "s")
	rec = msgp.AppendString(rec, "short")
	rec = msgp.AppendString(rec, "s8")
	rec = msgp.AppendString(rec, long[:200])
	rec = msgp.AppendString(rec, "s16")
	rec = msgp.AppendString(rec, long)
	rec = msgp.AppendString(rec, "b")
	rec = msgp.AppendBytes(rec, []byte(long))
	rec = msgp.AppendString(rec, "n")
	rec = msgp.AppendArrayHeader(rec, 6)
	rec = msgp.AppendInt(rec, -3)
	rec = msgp.AppendInt64(rec, 1<<40)
	rec = msgp.AppendUint8(rec, 200)
	rec = msgp.AppendFloat64(rec, 1.5)
	rec = msgp.AppendFloat32(rec, 2.5)
	rec = msgp.AppendNil(rec)
	rec = msgp.AppendString(rec, "t")
	rec = AppendEventTime(rec, 1700000000, 5)
	rec = msgp.AppendString(rec, "m")
	rec = append(rec, skimNested(20)...)
	rec = msgp.AppendString(rec, "e")
	rec = msgp.AppendArrayHeader(rec, 0)
	rec = msgp.AppendString(rec, "big") // map16: left to skimSlow
	rec = msgp.AppendMapHeader(rec, 20)
	for i := range 20 {
		rec = msgp.AppendInt(rec, i)
		rec = msgp.AppendBool(rec, i%2 == 0)
	}
	cases := [][]byte{rec, skimNested(100), {0xc1}, {}, {0x81, 0xa1, 'a'}, {0x92, 0xd9}, {0x91, 0xda, 0x01}}
	for _, n := range []int{1, 2, 3, 12, 50, 150, 400, len(rec) - 1} {
		cases = append(cases, rec[:n])
	}
	for _, at := range []int{0, 1, 5, 40, 250} {
		bad := bytes.Clone(rec)
		bad[at] = 0xc1
		cases = append(cases, bad)
	}
	return cases
}

// TestSkim: Skim and Next return what skimSlow and nextSlow do.
func TestSkim(t *testing.T) {
	for i, b := range skimCases() {
		checkSkim(t, i, b)
		entry := append([]byte{0x92}, AppendEventTime(nil, 1700000000, 7)...)
		checkNextEntry(t, i, append(append(entry, b...), 0x01))
	}
	checkNextEntry(t, -1, append([]byte{0x92, 0xd7, 0x00, 0, 0, 0, 1, 0x3b, 0x9a, 0xca, 0x00}, skimRecord("a", "b")...)) // 1e9 ns
	checkNextEntry(t, -2, append([]byte{0x92, 0xd7, 0x05, 0, 0, 0, 1, 0, 0, 0, 0}, skimRecord("a", "b")...))             // ext 5
	checkNextEntry(t, -3, skimRecords(3))
}

func checkSkim(t *testing.T, i int, b []byte) {
	t.Helper()
	n, c, err := Skim(b)
	wn, wc, werr := skimSlow(b)
	if n != wn || c != wc || err != werr {
		t.Errorf("case %d: Skim = %d, %d, %v; skimSlow = %d, %d, %v", i, n, c, err, wn, wc, werr)
	}
}

func checkNextEntry(t *testing.T, i int, b []byte) {
	t.Helper()
	e, rest, err := Next(b)
	we, wrest, werr := nextSlow(b)
	if !bytes.Equal(e.RawTime, we.RawTime) || e.Sec != we.Sec || e.Nsec != we.Nsec || !bytes.Equal(e.Record, we.Record) ||
		!bytes.Equal(rest, wrest) || (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
		t.Errorf("case %d: Next = %+v, %d left, %v; nextSlow = %+v, %d left, %v", i, e, len(rest), err, we, len(wrest), werr)
	}
}

func FuzzSkim(f *testing.F) {
	for _, b := range skimCases() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkSkim(t, 0, b)
		checkNextEntry(t, 0, b)
	})
}

func BenchmarkSkim(b *testing.B) {
	stream := skimRecords(1000)
	for _, bb := range []struct {
		name string
		next func([]byte) (Entry, []byte, error)
	}{{"nextSlow", nextSlow}, {"Next", Next}} {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(stream)))
			for b.Loop() {
				for s := stream; len(s) > 0; {
					_, rest, err := bb.next(s)
					if err != nil {
						b.Fatal(err)
					}
					s = rest
				}
			}
		})
	}
}

// skimNested is levels of maps and arrays, {} at the bottom.
func skimNested(levels int) []byte {
	var b []byte
	for l := 1; l < levels; l++ {
		if l%3 == 0 {
			b = append(b, 0x91) // [x]
			continue
		}
		b = append(b, 0x81, 0xa1, 'a') // {"a": x}
	}
	return append(b, 0x80)
}

func skimRecord(kv ...string) []byte {
	b := msgp.AppendMapHeader(nil, uint32(len(kv)/2))
	for _, s := range kv {
		b = msgp.AppendString(b, s)
	}
	return b
}

// skimRecords is n entries of a typical log record.
func skimRecords(n int) []byte {
	var b []byte
	for i := range n {
		rec := skimRecord(
			"host", "web-17.example.internal",
			"level", "info",
			"path", fmt.Sprintf("/api/v1/orders/%08d", i),
			"message", "request completed with status 200 in 12.5 ms by upstream pool a",
			"trace", "4bf92f3577b34da6a3ce929d0e0e4736",
		)
		b = AppendEntry(b, AppendEventTime(nil, 1700000000+int64(i), 123456789), rec)
	}
	return b
}
