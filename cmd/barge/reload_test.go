package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
)

// reloadConfig is a barge with the metrics listener on hport, a forward
// input on fport (with extra parameters) and a file output under out/.
func reloadConfig(hport, fport int, extra, out string) string {
	return fmt.Sprintf(`<system>
  http_port %d
  shutdown_timeout 20s
</system>
<source>
  @type forward
  bind 127.0.0.1
  port %d
%s</source>
<match app.**>
  @type file
  path %s/
  compress gzip
  <buffer>
    @type file
    path buf
    flush_mode interval
    flush_interval 200ms
  </buffer>
</match>
`, hport, fport, extra, out)
}

// Reloads under load lose and repeat nothing: three clients send records
// with acks (fluent-logger-golang, which reconnects when a connection
// closes) while the config is reloaded three times: by barge reload, a
// bad config (refused, the old one goes on), and SIGHUP. Each changes the
// output and the forward input, whose port stays bound.
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	hport, fport := freePort(t), freePort(t)
	conf := filepath.Join(dir, "barge.conf")
	p := startBarge(t, dir, reloadConfig(hport, fport, "", "out-a"))

	const senders = 3
	stop := make(chan struct{})
	sent := make([]int, senders)
	errs := make(chan error, senders)
	var wg sync.WaitGroup
	for k := range senders {
		wg.Go(func() {
			lg, err := fluent.New(fluent.Config{FluentHost: "127.0.0.1", FluentPort: fport, RequestAck: true,
				Timeout: 5 * time.Second, MaxRetry: 20, RetryWait: 50})
			if err != nil {
				errs <- err
				return
			}
			defer lg.Close()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := lg.Post("app.reload", map[string]any{"sender": k, "i": i, "msg": strings.Repeat("x", 100)}); err != nil {
					errs <- fmt.Errorf("sender %d, record %d: %w", k, i, err)
					return
				}
				sent[k] = i + 1
			}
		})
	}
	failed := func() {
		t.Helper()
		select {
		case err := <-errs:
			close(stop)
			wg.Wait()
			t.Fatal(err)
		default:
		}
	}
	grow := func(out string, n int) {
		t.Helper()
		if got := len(bargetest.WaitRecords(t, filepath.Join(dir, out), n, 30*time.Second)); got < n {
			failed()
			t.Fatalf("%s holds %d records, want at least %d", out, got, n)
		}
	}
	grow("out-a", 2000)

	// 1. barge reload: a new output directory, and a forward input that
	// adds the client's hostname (its sockets are handed over)
	if err := os.WriteFile(conf, []byte(reloadConfig(hport, fport, "  source_hostname_key host\n", "out-b")), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"reload", "-c", conf}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("barge reload: exit %d: %s", code, stderr.String())
	}
	want := "sources: 0 kept, 1 started, 1 stopped; matches: 0 kept, 1 started, 1 stopped"
	if !strings.Contains(stdout.String(), want) {
		t.Fatalf("barge reload printed %q, want %q", stdout.String(), want)
	}
	p.WaitLog(10*time.Second, func(l map[string]any) bool {
		return l["msg"] == "listening on the sockets kept from the previous config"
	})
	grow("out-b", 2000)

	// 2. a bad config is refused with its FILE:LINE, and the running one
	// goes on
	bad := strings.Replace(reloadConfig(hport, fport, "  source_hostname_key host\n", "out-c"), "compress gzip", "compress gzip\n  no_such_param 1", 1)
	if err := os.WriteFile(conf, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"reload", "--addr", fmt.Sprintf("127.0.0.1:%d", hport)}, nil, &stdout, &stderr); code != 1 {
		t.Fatalf("barge reload of a bad config: exit %d, want 1: %s%s", code, stdout.String(), stderr.String())
	}
	line := strings.Count(bad[:strings.Index(bad, "no_such_param")], "\n") + 1
	if want := fmt.Sprintf("%s:%d: ", conf, line); !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "no_such_param") {
		t.Fatalf("barge reload of a bad config printed %q, want %q and the parameter", stderr.String(), want)
	}
	before := len(bargetest.ReadRecords(t, filepath.Join(dir, "out-b")))
	grow("out-b", before+1000)

	// 3. SIGHUP: the input unchanged (its connections stay), the output
	// moved again
	if err := os.WriteFile(conf, []byte(reloadConfig(hport, fport, "  source_hostname_key host\n", "out-c")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(p.Pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	l := p.WaitNth(30*time.Second, 2, func(l map[string]any) bool { return l["msg"] == "config reloaded" })
	if got, want := fmt.Sprint(l["changes"]), "sources: 1 kept, 0 started, 0 stopped; matches: 0 kept, 1 started, 1 stopped"; !strings.HasPrefix(got, want) {
		t.Fatalf("SIGHUP reload: %q, want %q", got, want)
	}
	grow("out-c", 2000)
	failed()
	close(stop)
	wg.Wait()
	failed()
	if code := p.Stop(60 * time.Second); code != 0 {
		t.Fatalf("barge exited %d", code)
	}

	seen := map[[2]int]int{}
	total := 0
	for _, out := range []string{"out-a", "out-b", "out-c"} {
		recs := bargetest.ReadRecords(t, filepath.Join(dir, out))
		hosts := 0
		for _, r := range recs {
			seen[[2]int{int(r["sender"].(float64)), int(r["i"].(float64))}]++
			if r["host"] != nil {
				hosts++
			}
		}
		t.Logf("%s: %d records, %d with host", out, len(recs), hosts)
		if out != "out-a" && hosts == 0 {
			t.Errorf("%s: no record has the host the reloaded input adds", out)
		}
		total += len(recs)
	}
	missing, dup := 0, 0
	for k := range senders {
		for i := range sent[k] {
			switch seen[[2]int{k, i}] {
			case 0:
				missing++
			case 1:
			default:
				dup++
			}
		}
	}
	want2 := 0
	for _, n := range sent {
		want2 += n
	}
	t.Logf("%d records acked by barge, %d written out", want2, total)
	// a record whose ack the client was still waiting for when it stopped
	// may be written without being counted as sent
	if missing > 0 || dup > 0 || total > want2+senders {
		t.Fatalf("%d acked, %d written: %d missing, %d duplicated", want2, total, missing, dup)
	}
	if n := p.CountLog("config reload refused; the running config goes on"); n != 1 {
		t.Errorf("%d refusals logged, want 1", n)
	}
}

// Requests that arrive during a reload are served by one more reload
// after it, which answers them all: coalesced, none lost. After serve
// returns, a request is answered at once.
func TestReloadsCoalesce(t *testing.T) {
	var r reloader
	started := make(chan int)
	release := make(chan struct{})
	runs := 0
	do := func(context.Context) reloadOutcome {
		runs++
		started <- runs
		<-release
		return reloadOutcome{summary: fmt.Sprint("run ", runs)}
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); r.serve(ctx, do) }()

	first := make(chan reloadOutcome, 1)
	r.request(first)
	if n := receive(t, started); n != 1 {
		t.Fatalf("run %d started", n)
	}
	// three requests (and a signal, which wants no answer) during run 1
	during := []chan reloadOutcome{make(chan reloadOutcome, 1), make(chan reloadOutcome, 1), make(chan reloadOutcome, 1)}
	for _, c := range during {
		r.request(c)
	}
	r.request(nil)
	release <- struct{}{}
	if out := receive(t, first); out.summary != "run 1" {
		t.Fatalf("first request: %+v", out)
	}
	if n := receive(t, started); n != 2 {
		t.Fatalf("run %d started", n)
	}
	release <- struct{}{}
	for i, c := range during {
		if out := receive(t, c); out.summary != "run 2" {
			t.Fatalf("request %d during run 1: %+v, want run 2", i, out)
		}
	}
	cancel()
	receive(t, served)
	if runs != 2 {
		t.Fatalf("%d reloads ran, want 2", runs)
	}
	late := make(chan reloadOutcome, 1)
	r.request(late)
	if out := receive(t, late); out.err == nil || !out.refused {
		t.Fatalf("request after serve returned: %+v", out)
	}
}

// receive takes a value from c, failing the test after 10 s.
func receive[T any](t *testing.T, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
	}
	panic("not reached")
}
