package tail

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"reflect"
	"testing"
)

// FuzzPositions: any bytes either fail to decode or decode to positions
// that are valid and that barge's format writes back and reads the same.
// Each input is also tried sealed with a valid trailer, so that the
// fuzzer reaches the line parser past the checksum; and salvaged.
func FuzzPositions(f *testing.F) {
	good := encodePositions(9, 0, sampleEntries())
	f.Add(good)
	f.Add(encodePositions(10, 77, sampleEntries()))
	f.Add(good[:len(good)-25])
	f.Add(good[:bytes.LastIndexByte(good[:len(good)-1], '\n')+1])
	f.Add(encodePositions(1, 0, nil))
	f.Add([]byte("/var/log/a.log\t00000000000001f4\t0000000000083f11\n/var/log/b\tffffffffffffffff\t01\n"))
	f.Add([]byte("/a\t1\t2\n/a\t3\t4\ngarbage\n/b\t0000000000000000\t00000000"))
	f.Add([]byte(`"a\tb"` + "\t0000000000000001\t0000000000000002\tdev=0000000000000003\tfp=0:00000000000000000000000000000000\tcrc=00000000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkPositions(t, b)
		body := b
		if n := bytes.LastIndexByte(b, '\n'); n >= 0 {
			body = b[:n+1]
		} else {
			body = nil
		}
		sealed := fmt.Appendf(bytes.Clone(body), "%s gen=5 entries=%d crc32c=%08x\n", trailerMagic, bytes.Count(body, []byte{'\n'}), crc32.Checksum(body, castagnoli))
		checkPositions(t, sealed)
		for _, e := range salvage(b) {
			if err := e.check(); err != nil {
				t.Fatalf("salvaged %+v: %v", e, err)
			}
		}
	})
}

func checkPositions(t *testing.T, b []byte) {
	pf, err := decodePositions(b)
	if err != nil {
		return
	}
	for p, e := range pf.entries {
		if err := e.check(); err != nil || e.Path != p {
			t.Fatalf("decoded %q: %+v: %v", p, e, err)
		}
	}
	again, err := decodePositions(encodePositions(pf.gen+1, pf.seq, pf.entries))
	if err != nil || !again.barge || again.gen != pf.gen+1 || again.seq != pf.seq || !reflect.DeepEqual(again.entries, pf.entries) {
		t.Fatalf("round trip: %v\n%q\n%+v\n%+v", err, b, pf.entries, again)
	}
}
