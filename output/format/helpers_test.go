package format

import (
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"go.uber.org/goleak"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// frame is one (tag, entries) pair of a test chunk.
type frame struct {
	tag     string
	entries []byte
}

// sliceFrames serves frames from memory.
type sliceFrames struct {
	frames []frame
	i      int
}

func (s *sliceFrames) Next() (string, []byte, error) {
	if s.i >= len(s.frames) {
		return "", nil, io.EOF
	}
	f := s.frames[s.i]
	s.i++
	return f.tag, f.entries, nil
}

// entry appends one [EventTime, record] entry; rec is a msgpack map.
func entry(dst []byte, sec, nsec int64, rec []byte) []byte {
	return event.AppendEntry(dst, event.AppendEventTime(nil, sec, nsec), rec)
}

// kvs is an ordered map for record.
type kvs []any

// raw is msgpack inserted as it is.
type raw []byte

// record builds a msgpack map from key/value pairs in order. Values are
// kvs (a nested map in order), raw, or anything msgp.AppendIntf takes.
func record(t testing.TB, kv ...any) []byte {
	t.Helper()
	return appendKVs(t, nil, kv)
}

func appendKVs(t testing.TB, b []byte, kv []any) []byte {
	b = msgp.AppendMapHeader(b, uint32(len(kv)/2))
	for i := 0; i+1 < len(kv); i += 2 {
		b = appendValue(t, b, kv[i])
		b = appendValue(t, b, kv[i+1])
	}
	return b
}

func appendValue(t testing.TB, b []byte, v any) []byte {
	switch v := v.(type) {
	case kvs:
		return appendKVs(t, b, v)
	case raw:
		return append(b, v...)
	}
	b, err := msgp.AppendIntf(b, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// logRecord is a realistic log record of about 200 bytes of msgpack: a few
// strings from small sets, ids and numbers that vary, a nested map. i seeds
// the variation, so records are reproducible.
func logRecord(t testing.TB, i int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	methods := []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	statuses := []int{200, 200, 200, 201, 204, 301, 404, 500}
	msgs := []string{"request completed", "request completed", "cache miss, fetched from origin", "slow request", "upstream timeout, retrying"}
	pods := []string{"web-7f9c4d-x2k8q", "web-7f9c4d-9zt4m", "web-7f9c4d-qq81c"}
	return record(t,
		"level", []string{"info", "info", "info", "warn", "error"}[r.IntN(5)],
		"method", methods[r.IntN(len(methods))],
		"path", fmt.Sprintf("/api/v1/orders/%d/items?page=%d", r.IntN(1000000), r.IntN(10)),
		"status", statuses[r.IntN(len(statuses))],
		"bytes", r.IntN(100000),
		"latency", float64(r.IntN(500000))/1e6,
		"request_id", fmt.Sprintf("%016x", r.Uint64()),
		"msg", msgs[r.IntN(len(msgs))],
		"kubernetes", kvs{"namespace", "shop", "pod", pods[r.IntN(len(pods))], "container", "app"},
	)
}
