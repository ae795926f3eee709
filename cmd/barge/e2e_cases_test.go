package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
)

// fileConfig is a forward source on an ephemeral port and a file output
// with a file buffer under dir; flush sets the <buffer> flush parameters.
func fileConfig(flush string) string {
	return `
<system>
  shutdown_timeout 20s
</system>
<source>
  @type forward
  bind 127.0.0.1
  port 0
</source>
<match **>
  @type file
  path ./out/${tag}/
  compress gzip
  <buffer tag>
    @type file
    path ./buf
` + flush + `
  </buffer>
</match>
`
}

func TestRunFlushesAtShutdown(t *testing.T) {
	dir := t.TempDir()
	p := startBarge(t, dir, fileConfig("flush_interval 1h"))
	bargetest.SendAcked(t, p.Addr, "app.web", 0, 300)
	bargetest.SendAcked(t, p.Addr, "app.db", 300, 500)
	if code := p.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	bargetest.CheckSeqs(t, bargetest.ReadRecords(t, filepath.Join(dir, "out")), 500)
	for _, tag := range []string{"app.web", "app.db"} {
		if _, err := os.Stat(filepath.Join(dir, "out", tag)); err != nil {
			t.Errorf("no directory for tag %s: %v", tag, err)
		}
	}
}

// TestKill9KeepsAckedRecords kills barge after it acked records that it had
// not flushed yet, restarts it, and finds every record in the output.
func TestKill9KeepsAckedRecords(t *testing.T) {
	dir := t.TempDir()
	p := startBarge(t, dir, fileConfig("flush_interval 1h"))
	bargetest.SendAcked(t, p.Addr, "app.crash", 0, 2000)
	p.Kill9()
	if recs := bargetest.ReadRecords(t, filepath.Join(dir, "out")); len(recs) != 0 {
		t.Fatalf("%d records written before the crash; the test needs them buffered", len(recs))
	}

	p2 := startBarge(t, dir, fileConfig("flush_mode interval\n flush_interval 1s"))
	line := p2.WaitLog(10*time.Second, func(l map[string]any) bool { return l["msg"] == "recovered buffer" })
	if c, _ := line["chunks"].(float64); c < 1 {
		t.Errorf("recovered %v chunks, want at least 1", line["chunks"])
	}
	recs := bargetest.WaitRecords(t, filepath.Join(dir, "out"), 2000, 20*time.Second)
	bargetest.CheckSeqs(t, recs, 2000)
	if code := p2.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// TestTornChunkRecovered damages the tail of a buffered chunk the way a
// crash in the middle of a write would, and checks that barge keeps the
// valid prefix, moves the rest aside and says so.
func TestTornChunkRecovered(t *testing.T) {
	dir := t.TempDir()
	p := startBarge(t, dir, fileConfig("flush_interval 1h"))
	bargetest.SendAcked(t, p.Addr, "app.torn", 0, 100)
	p.Kill9()

	chunks, _ := filepath.Glob(filepath.Join(dir, "buf", "*.chunk"))
	if len(chunks) != 1 {
		t.Fatalf("%d chunk files in the buffer, want 1: %v", len(chunks), chunks)
	}
	f, err := os.OpenFile(chunks[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A frame header promising more bytes than follow: a torn write.
	if _, err := f.Write([]byte{0, 0, 1, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	p2 := startBarge(t, dir, fileConfig("flush_mode interval\n flush_interval 1s"))
	line := p2.WaitLog(10*time.Second, func(l map[string]any) bool { return l["msg"] == "recovered buffer" })
	if c, _ := line["corrupt"].(float64); c < 1 {
		t.Errorf("recovery reported %v corrupt parts, want 1", line["corrupt"])
	}
	bargetest.CheckSeqs(t, bargetest.WaitRecords(t, filepath.Join(dir, "out"), 100, 20*time.Second), 100)
	aside, _ := filepath.Glob(filepath.Join(dir, "buf", "corrupt", "*"))
	if len(aside) == 0 {
		t.Errorf("the torn tail was not moved aside into buf/corrupt/")
	}
	if code := p2.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestCatSendsWithAck(t *testing.T) {
	dir := t.TempDir()
	p := startBarge(t, dir, fileConfig("flush_interval 1h"))
	_, port, _ := net.SplitHostPort(p.Addr)
	var in bytes.Buffer
	for i := range 50 {
		fmt.Fprintf(&in, `{"seq": %d, "msg": "line %d", "nested": {"a": [1, 2.5, null, true]}}`+"\n", i, i)
	}
	cat := exec.Command(bargeBin, "cat", "-p", port, "-h", "127.0.0.1", "cat.test")
	cat.Stdin = &in
	if out, err := cat.CombinedOutput(); err != nil {
		t.Fatalf("barge cat: %v\n%s", err, out)
	}
	if code := p.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	recs := bargetest.ReadRecords(t, filepath.Join(dir, "out"))
	bargetest.CheckSeqs(t, recs, 50)
	if got := fmt.Sprint(recs[0]["nested"]); got != "map[a:[1 2.5 <nil> true]]" {
		t.Errorf("nested = %s", got)
	}
}

func TestCatFailsWithoutServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close() // nothing listens on port now
	cat := exec.Command(bargeBin, "cat", "-p", port, "x")
	cat.Stdin = strings.NewReader(`{"a":1}` + "\n")
	out, err := cat.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("barge cat without a server: err %v, want exit 1\n%s", err, out)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	os.WriteFile(good, []byte(fileConfig("flush_interval 10s")), 0o644)
	if out, err := exec.Command(bargeBin, "check", "-c", good).CombinedOutput(); err != nil {
		t.Fatalf("check good config: %v\n%s", err, out)
	}
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte(`<source>
  @type forward
  port abc
  bindd 127.0.0.1
</source>
<match **>
  @type file
  <buffer>
    flush_mode sometimes
  </buffer>
</match>
<nonsense>
</nonsense>
`), 0o644)
	out, err := exec.Command(bargeBin, "check", "-c", bad).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Fatalf("check bad config: err %v, want non-zero exit\n%s", err, out)
	}
	for _, want := range []string{
		bad + ":3: ",  // port abc
		bad + ":4: ",  // unknown bindd
		bad + ":9: ",  // flush_mode enum
		bad + ":12: ", // unknown directive
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(string(out), "'path'") {
		t.Errorf("check output does not name the missing 'path':\n%s", out)
	}
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(bargeBin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "barge ") {
		t.Fatalf("barge version: %v %q", err, out)
	}
}

// pythonSender sends records seq 0..N-1 with Debian's python3-fluent-logger
// (which has no ack support: it sends Message mode and reports errors).
const pythonSender = `
import sys
from fluent import sender
s = sender.FluentSender("py", host="127.0.0.1", port=int(sys.argv[1]), nanosecond_precision=True)
for i in range(int(sys.argv[2])):
    if not s.emit("e2e", {"seq": i, "msg": "from python", "unicode": "h\u00e9llo \u2603"}):
        print(s.last_error, file=sys.stderr)
        sys.exit(1)
s.close()
`

func TestPythonClientEndToEnd(t *testing.T) {
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import fluent.sender").CombinedOutput(); err != nil {
		t.Fatalf("%s with module fluent.sender is needed: apt-get install python3-fluent-logger (%v: %s)", python, err, out)
	}
	dir := t.TempDir()
	p := startBarge(t, dir, fileConfig("flush_mode immediate"))
	script := filepath.Join(dir, "send.py")
	if err := os.WriteFile(script, []byte(pythonSender), 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(p.Addr)
	if out, err := exec.Command(python, script, port, "200").CombinedOutput(); err != nil {
		t.Fatalf("python sender: %v\n%s", err, out)
	}
	// Python's sender does not wait for acks, so wait for the output.
	recs := bargetest.WaitRecords(t, filepath.Join(dir, "out", "py.e2e"), 200, 20*time.Second)
	bargetest.CheckSeqs(t, recs, 200)
	if code := p.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if recs[0]["unicode"] != "héllo ☃" {
		t.Errorf("unicode field = %q", recs[0]["unicode"])
	}
}

// TestShutdownTimeoutKeepsUnflushed stops barge while its output cannot
// write: barge still exits 0 within shutdown_timeout, says what it left
// in the buffer, and the next start writes it out.
func TestShutdownTimeoutKeepsUnflushed(t *testing.T) {
	dir := t.TempDir()
	// A regular file where the output wants a directory: every flush fails.
	if err := os.WriteFile(filepath.Join(dir, "out"), []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	config := strings.Replace(fileConfig("flush_mode interval\n flush_interval 1s\n retry_wait 100ms"), "shutdown_timeout 20s", "shutdown_timeout 2s", 1)
	p := startBarge(t, dir, config)
	bargetest.SendAcked(t, p.Addr, "app.stuck", 0, 100)
	p.WaitLog(10*time.Second, func(l map[string]any) bool { return l["level"] == "WARN" && l["chunk_id"] != nil })
	start := time.Now()
	if code := p.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("shutdown took %s with shutdown_timeout 2s", took)
	}
	p.WaitLog(time.Second, func(l map[string]any) bool { return l["msg"] == "chunks left on disk for the next start" })

	if err := os.Remove(filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	p2 := startBarge(t, dir, config)
	bargetest.CheckSeqs(t, bargetest.WaitRecords(t, filepath.Join(dir, "out"), 100, 20*time.Second), 100)
	if code := p2.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// TestCheckExamples checks that every config under examples/ is valid.
func TestCheckExamples(t *testing.T) {
	configs, _ := filepath.Glob("../../examples/*.conf")
	bench, _ := filepath.Glob("../../examples/bench/*.conf")
	configs = append(configs, bench...)
	if len(configs) < 3 {
		t.Fatalf("found only %d example configs", len(configs))
	}
	for _, c := range configs {
		t.Run(filepath.Base(c), func(t *testing.T) {
			cmd := exec.Command(bargeBin, "check", "-c", c)
			cmd.Env = append(os.Environ(), "BARGE_ROOT_DIR="+t.TempDir(), "FLUENT_SHARED_KEY=secret", "POD_NAME=pod-1")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("barge check: %v\n%s", err, out)
			}
		})
	}
}

// TestCheckObjectStores checks that barge check reports the s3 and gcs
// outputs' problems with FILE:LINE and the key.
func TestCheckObjectStores(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte(`<source>
  @type forward
</source>
<match s3.**>
  @type s3
  s3_buckt logs
  store_as lz4
  <buffer tag>
    path ./buf-s3
  </buffer>
</match>
<match gcs.**>
  @type gcs
  bucket logs
  chunk_size abc
  <buffer tag>
    path ./buf-gcs
  </buffer>
</match>
<match keys.**>
  @type gcs
  bucket logs
  path logs/${host}/
  <buffer tag>
    path ./buf-keys
  </buffer>
</match>
`), 0o644)
	out, err := exec.Command(bargeBin, "check", "-c", bad).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("check bad config: err %v, want exit 1\n%s", err, out)
	}
	for _, want := range []string{
		bad + ":6: ",  // s3_buckt
		bad + ":7: ",  // store_as enum
		bad + ":4: ",  // s3_bucket missing
		bad + ":15: ", // chunk_size
		bad + ":20: ", // ${host} is not a chunk key
		"'s3_bucket'", "'store_as'", "'chunk_size'", "'host' is not a chunk key",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}

// TestCheckLoader checks that barge check refuses a <loader> whose source
// output writes objects the loader could not load, with FILE:LINE.
func TestCheckLoader(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(bad, []byte(`<match a.**>
  @type gcs
  @id two_hours
  bucket logs
  path a/
  <buffer time>
    path ./buf-a
    timekey 2h
    timekey_use_utc true
  </buffer>
</match>
<match b.**>
  @type gcs
  @id india
  bucket logs
  path b/
  <buffer time>
    path ./buf-b
    timekey 1h
    timekey_zone +05:30
  </buffer>
</match>
<match c.**>
  @type gcs
  @id no_time
  bucket logs
  path c/
  <buffer time>
    path ./buf-c
    timekey 1h
    timekey_use_utc true
  </buffer>
</match>
<loader a>
  @type bigquery
  dataset d
  table t
  partition_type HOUR
  source_output two_hours
</loader>
<loader b>
  @type bigquery
  dataset d
  table t
  partition_type HOUR
  source_output india
</loader>
<loader c>
  @type bigquery
  dataset d
  table t
  partition_field time
  source_output no_time
</loader>
<loader d>
  @type bigquery
  dataset d
  table t
  source s3://logs/d/
</loader>
<match e.**>
  @type s3
  @id s3_out
  s3_bucket logs
  path e/
  <buffer time>
    path ./buf-e
    timekey 1h
    timekey_use_utc true
  </buffer>
</match>
<loader e>
  @type bigquery
  dataset d
  table t
  source_output s3_out
</loader>
`), 0o644)
	out, err := exec.Command(bargeBin, "check", "-c", bad).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("check bad config: err %v, want exit 1\n%s", err, out)
	}
	for _, want := range []string{
		bad + ":39: ", "timekey 2h0m0s would mix hour partitions",
		bad + ":46: ", "starts chunks off the UTC partition boundaries",
		bad + ":53: ", "<inject> time_key time",
		bad + ":59: ", "is on S3: set 'staging'",
		bad + ":76: ", "is an s3 output: set 'staging'",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}

// TestSignals: SIGHUP reloads the config (unchanged here: everything is
// kept), SIGUSR2 is logged and ignored (barge keeps running and serving),
// and SIGUSR1 flushes buffered records at once, an hour before their
// flush_interval.
func TestSignals(t *testing.T) {
	dir := t.TempDir()
	p := startBarge(t, dir, fileConfig("flush_interval 1h"))
	bargetest.SendAcked(t, p.Addr, "app.sig", 0, 100)
	if err := syscall.Kill(p.Pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	l := p.WaitLog(10*time.Second, func(l map[string]any) bool { return l["msg"] == "config reloaded" })
	if got, want := fmt.Sprint(l["changes"]), "sources: 1 kept, 0 started, 0 stopped; matches: 1 kept, 0 started, 0 stopped"; !strings.HasPrefix(got, want) {
		t.Fatalf("reload of the same config: %q, want %q", got, want)
	}
	if err := syscall.Kill(p.Pid(), syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	p.WaitLog(10*time.Second, func(l map[string]any) bool {
		return l["msg"] == "signal ignored: barge restarts on SIGTERM and a new start, and reloads on SIGHUP"
	})
	bargetest.SendAcked(t, p.Addr, "app.sig", 100, 200) // still serving
	if err := syscall.Kill(p.Pid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	bargetest.WaitRecords(t, filepath.Join(dir, "out"), 200, 30*time.Second)
	if code := p.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	bargetest.CheckSeqs(t, bargetest.ReadRecords(t, filepath.Join(dir, "out")), 200)
}
