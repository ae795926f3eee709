package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
)

// freePort returns a port of 127.0.0.1 that was free a moment ago: the
// receiver of the forward output tests restarts on the same port.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// receiverConfig is a barge receiving forward on port (with a shared-key
// handshake) and writing zstd files under out/.
func receiverConfig(port int) string {
	return fmt.Sprintf(`<source>
  @type forward
  bind 127.0.0.1
  port %d
  <security>
    self_hostname receiver
    shared_key s3cret
  </security>
</source>
<match **>
  @type file
  path ./out/
  compress zstd
  <buffer>
    @type file
    path ./buf
    flush_mode interval
    flush_interval 200ms
  </buffer>
</match>
`, port)
}

// senderConfig is a barge receiving forward on an ephemeral port and
// sending on with @type forward, acks required, to 127.0.0.1:port.
func senderConfig(port int) string {
	return fmt.Sprintf(`<source>
  @type forward
  bind 127.0.0.1
  port 0
</source>
<match **>
  @type forward
  require_ack_response true
  ack_response_timeout 5s
  recover_wait 500ms
  compress gzip
  <security>
    self_hostname sender
    shared_key s3cret
  </security>
  <server>
    host 127.0.0.1
    port %d
  </server>
  <buffer>
    @type file
    path ./buf
    flush_mode interval
    flush_interval 200ms
    chunk_limit_records 1000
    retry_wait 200ms
    retry_max_interval 1s
  </buffer>
</match>
`, port)
}

// TestForwardOutputToBarge sends records to one barge, which forwards
// them with @type forward (handshake, gzip, acks) to a second barge; the
// receiver is killed with kill -9 while records flow and restarted on the
// same port. Every record reaches the receiver's output; a duplicate can
// only come from a chunk in flight at the kill (acked by nobody), so at
// most one chunk's records (chunk_limit_records 1000) per kill.
func TestForwardOutputToBarge(t *testing.T) {
	rdir, sdir := t.TempDir(), t.TempDir()
	port := freePort(t)
	recv := startBarge(t, rdir, receiverConfig(port))
	send := startBarge(t, sdir, senderConfig(port))
	out := filepath.Join(rdir, "out")

	bargetest.SendAcked(t, send.Addr, "app.fw", 0, 5000)
	waitDistinct(t, out, 1, 30*time.Second)
	recv.Kill9()
	bargetest.SendAcked(t, send.Addr, "app.fw", 5000, 10000) // buffered by the sender meanwhile
	recv = startBarge(t, rdir, receiverConfig(port))
	bargetest.SendAcked(t, send.Addr, "app.fw", 10000, 12000)
	const n = 12000
	waitDistinct(t, out, n, 60*time.Second)
	if code := send.Stop(30 * time.Second); code != 0 {
		t.Fatalf("sender exit code %d", code)
	}
	if code := recv.Stop(30 * time.Second); code != 0 {
		t.Fatalf("receiver exit code %d", code)
	}
	recs := bargetest.ReadRecords(t, out)
	dups := checkNoneLost(t, recs, n)
	if dups > 1000 {
		t.Fatalf("%d records duplicated by one kill, more than one chunk's 1000", dups)
	}
	for _, r := range recs {
		if r["msg"] != "hello from the e2e test" {
			t.Fatalf("record changed on the way: %v", r)
		}
	}
	t.Logf("%d records through two barges, %d duplicated by the kill", n, dups)
}

// TestForwardOutputVerifyAtStartup: with verify_connection_at_startup, a
// barge whose forward server is not there does not start, and says which
// server; with ignore_network_errors_at_startup it starts and warns.
func TestForwardOutputVerifyAtStartup(t *testing.T) {
	port := freePort(t) // nothing listens there
	config := strings.Replace(senderConfig(port), "  require_ack_response true\n",
		"  require_ack_response true\n  verify_connection_at_startup true\n", 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "barge.conf")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bargeBin, "run", "-c", path)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("barge run: %v, want exit status 1\n%s", err, out)
	}
	if want := fmt.Sprintf("127.0.0.1:%d", port); !strings.Contains(string(out), want) {
		t.Fatalf("the error does not name the server %s:\n%s", want, out)
	}

	config = strings.Replace(config, "  verify_connection_at_startup true\n",
		"  verify_connection_at_startup true\n  ignore_network_errors_at_startup true\n", 1)
	p := startBarge(t, t.TempDir(), config)
	p.WaitLog(10*time.Second, func(l map[string]any) bool {
		return l["level"] == "WARN" && strings.Contains(fmt.Sprint(l), fmt.Sprintf("127.0.0.1:%d", port))
	})
	if code := p.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
