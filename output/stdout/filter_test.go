package stdout

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/buffer/event"
)

// The stdout filter prints each event as the output does and passes the
// entries on unchanged.
func TestFilter(t *testing.T) {
	var out bytes.Buffer
	f, err := NewFilter(DefaultConfig(), Options{Writer: &out, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	var entries []byte
	for i, msg := range []string{"one", "two"} {
		rec := msgp.AppendMapHeader(nil, 1)
		rec = msgp.AppendString(rec, "msg")
		rec = msgp.AppendString(rec, msg)
		entries = event.AppendEntry(entries, event.AppendEventTime(nil, 1700000000+int64(i), 0), rec)
	}
	dst, err := f.Filter("app.x", entries, []byte("prefix"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst, append([]byte("prefix"), entries...)) {
		t.Fatal("the entries were not passed on as they are")
	}
	want := "2023-11-14 22:13:20.000000000 +0000 app.x: {\"msg\":\"one\"}\n2023-11-14 22:13:21.000000000 +0000 app.x: {\"msg\":\"two\"}\n"
	if out.String() != want {
		t.Fatalf("printed\n%s\nwant\n%s", out.String(), want)
	}
	if strings.Count(out.String(), "\n") != 2 {
		t.Fatal("want one line per event")
	}
}
