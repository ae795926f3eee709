package null

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
	"go.uber.org/goleak"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/buffertest"
	"github.com/barge-dev/barge/buffer/event"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func entries(n int) []byte {
	var b []byte
	for i := range n {
		rec := msgp.AppendMapHeader(nil, 1)
		rec = msgp.AppendString(rec, "i")
		rec = msgp.AppendInt(rec, i)
		b = event.AppendEntry(b, event.AppendEventTime(nil, 1795341845, 0), rec)
	}
	return b
}

func TestNullCounts(t *testing.T) {
	o, err := New(DefaultConfig(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	bcfg := buffer.DefaultConfig("memory")
	bcfg.FlushMode = "immediate"
	buf := buffertest.Start(t, bcfg, o, "null")
	e := entries(10)
	for range 3 {
		buf.Append("t", e)
	}
	buf.Finish(10 * time.Second)
	st := o.Stats()
	if st.Records != 30 || st.Chunks < 1 || st.Bytes != int64(3*len(e)) {
		t.Errorf("stats %+v, want 30 records of %d bytes", st, 3*len(e))
	}
}

func TestNeverFlush(t *testing.T) {
	o, err := New(Config{Type: "null", NeverFlush: true}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Flush(context.Background(), &buffer.Chunk{ID: "x", Records: 1}); !errors.Is(err, ErrNeverFlush) {
		t.Errorf("err = %v", err)
	}
	if st := o.Stats(); st.Records != 0 {
		t.Errorf("stats %+v", st)
	}
	o, _ = New(DefaultConfig(), Options{})
	if err := o.Flush(context.Background(), &buffer.Chunk{ID: "x", Records: 5, Size: 50}); err != nil {
		t.Fatal(err)
	}
	if st := o.Stats(); st != (Stats{Chunks: 1, Records: 5, Bytes: 50}) {
		t.Errorf("stats %+v", st)
	}
}
