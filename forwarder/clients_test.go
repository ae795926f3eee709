package forwarder

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"
	"github.com/tinylib/msgp/msgp"
)

func hostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(p)
	return h, port
}

// TestFluentLoggerGolang sends with github.com/fluent/fluent-logger-golang
// with RequestAck: Post returns nil only once the server acked.
func TestFluentLoggerGolang(t *testing.T) {
	p := newPKI(t)
	cases := []struct {
		name   string
		subsec bool
		tls    bool
	}{
		{"message mode", false, false},
		{"EventTime", true, false},
		{"tls", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			network := "tcp"
			if tc.tls {
				cfg.Transport = &TransportConfig{Protocol: "tls", CertPath: p.serverCert, PrivateKeyPath: p.serverKey}
				network = "tls"
			}
			sink := newSink()
			s, addr, _ := start(t, cfg, sink)
			host, port := hostPort(t, addr)
			logger, err := fluent.New(fluent.Config{
				FluentHost: host, FluentPort: port, FluentNetwork: network,
				RequestAck: true, SubSecondPrecision: tc.subsec, MaxRetry: 1,
				Timeout: 10 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
				TlsInsecureSkipVerify: tc.tls, // the test CA is not in the system pool
			})
			if err != nil {
				t.Fatal(err)
			}
			defer logger.Close()
			when := time.Unix(1700000000, 123456789)
			for i := range 3 {
				if err := logger.PostWithTime("app.go", when, map[string]any{"i": i, "msg": "hello"}); err != nil {
					t.Fatalf("post %d: %v", i, err)
				}
			}
			recs := sink.records(t)
			if len(recs) != 3 || s.Stats().Acks != 3 {
				t.Fatalf("%d records, stats %+v", len(recs), s.Stats())
			}
			wantNsec := int64(0)
			if tc.subsec {
				wantNsec = 123456789
			}
			for i, r := range recs {
				if r.tag != "app.go" || r.sec != 1700000000 || r.nsec != wantNsec || r.r["msg"] != "hello" || fmt.Sprint(r.r["i"]) != fmt.Sprint(i) {
					t.Errorf("record %d: %+v", i, r)
				}
			}
		})
	}
}

// TestFluentLoggerGolangForward sends Forward mode built with the library's
// own Forward type (its logger itself only sends Message mode).
func TestFluentLoggerGolangForward(t *testing.T) {
	sink := newSink()
	_, addr, _ := start(t, testConfig(), sink)
	fw := fluent.Forward{Tag: "app.fw", Option: map[string]string{"chunk": "Zm9yd2FyZA==", "size": "2"}, Entries: []fluent.Entry{
		{Time: 1700000000, Record: map[string]any{"a": "1"}},
		{Time: 1700000001, Record: map[string]any{"b": "2"}},
	}}
	b, err := fw.MarshalMsg(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, addr)
	c.send(b)
	if got := c.ack(); !bytes.Equal(got, msgp.AppendString(nil, "Zm9yd2FyZA==")) {
		t.Fatalf("ack %q", got)
	}
	if recs := sink.records(t); len(recs) != 2 || recs[1].sec != 1700000001 || recs[1].r["b"] != "2" {
		t.Fatalf("records %+v", recs)
	}
}

const pythonSender = `
import sys, time
from fluent import sender
port = int(sys.argv[1])
plain = sender.FluentSender("py", host="127.0.0.1", port=port)
nano = sender.FluentSender("py", host="127.0.0.1", port=port, nanosecond_precision=True)
for i in range(3):
    if not plain.emit_with_time("plain", 1700000000, {"i": i, "msg": "hello"}):
        sys.exit("emit: %r" % plain.last_error)
    if not nano.emit_with_time("nano", 1700000000.5, {"i": i, "msg": "hello"}):
        sys.exit("emit: %r" % nano.last_error)
plain.close()
nano.close()
`

// TestPythonFluentLogger sends with Debian's python3-fluent-logger.
func TestPythonFluentLogger(t *testing.T) {
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import fluent.sender").CombinedOutput(); err != nil {
		t.Fatalf("%s with module fluent.sender is needed: apt-get install python3-fluent-logger (%v: %s)", python, err, out)
	}
	sink := newSink()
	_, addr, _ := start(t, testConfig(), sink)
	_, port := hostPort(t, addr)
	script := filepath.Join(t.TempDir(), "send.py")
	if err := os.WriteFile(script, []byte(pythonSender), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(python, script, strconv.Itoa(port)).CombinedOutput(); err != nil {
		t.Fatalf("python sender: %v\n%s", err, out)
	}
	sink.wait(t, 6) // no ack in this library: wait for the appends
	var plain, nano int
	for _, r := range sink.records(t) {
		switch {
		case r.tag == "py.plain" && r.sec == 1700000000 && r.nsec == 0 && r.r["msg"] == "hello":
			plain++
		case r.tag == "py.nano" && r.sec == 1700000000 && r.nsec == 500000000 && r.r["msg"] == "hello":
			nano++
		default:
			t.Errorf("unexpected record %+v", r)
		}
	}
	if plain != 3 || nano != 3 {
		t.Fatalf("plain %d nano %d", plain, nano)
	}
}
