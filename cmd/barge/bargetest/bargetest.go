// Package bargetest runs the real barge binary for end-to-end tests: it
// builds it, starts it on a config, reads its JSON log, kills it, and reads
// and checks what it wrote. It is imported only by tests (cmd/barge and
// output/internal/e2e), never by barge itself.
package bargetest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"

	"github.com/barge-dev/barge/cmd/internal/procstat"
	"github.com/klauspost/compress/zstd"
)

// Build compiles cmd/barge into a new temporary directory and returns the
// binary's path; remove its directory when done.
func Build() (string, error) {
	dir, err := os.MkdirTemp("", "barge-e2e-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "barge")
	build := exec.Command("go", "build", "-o", bin, "github.com/barge-dev/barge/cmd/barge")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("build barge: %w", err)
	}
	return bin, nil
}

// Proc is a running barge binary whose JSON log lines the test reads.
type Proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []map[string]any
	cond   *sync.Cond
	closed bool
	done   chan struct{}
	Addr   string // the forward input's host:port
	stdout bytes.Buffer
}

// Start writes config into dir/barge.conf and runs `bin run` in dir, with
// env added to its environment. It returns once barge logs that its
// forward input listens; t's cleanup kills it if it still runs.
func Start(t testing.TB, bin, dir, config string, env []string) *Proc {
	t.Helper()
	p := StartCommand(t, bin, dir, config, env, "run")
	line := p.WaitLog(10*time.Second, func(l map[string]any) bool { return l["msg"] == "listening" && l["port"] != nil })
	p.Addr = net.JoinHostPort(line["bind"].(string), fmt.Sprint(line["port"]))
	return p
}

// StartCommand writes config into dir/barge.conf and runs `bin COMMAND...
// -c dir/barge.conf --log-format json` in dir, with env added to its
// environment, and returns at once; t's cleanup kills it if it still runs.
func StartCommand(t testing.TB, bin, dir, config string, env []string, command ...string) *Proc {
	t.Helper()
	path := filepath.Join(dir, "barge.conf")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &Proc{t: t, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	args := append(append([]string(nil), command...), "-c", path, "--log-format", "json")
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.Stdout = &p.stdout
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go p.readLog(stderr)
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		<-p.done
		if t.Failed() {
			t.Logf("barge %s log:\n%s", strings.Join(command, " "), p.LogText())
		}
	})
	return p
}

func (p *Proc) readLog(r io.Reader) {
	defer close(p.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			l = map[string]any{"msg": "(not json) " + sc.Text()}
		}
		p.mu.Lock()
		p.lines = append(p.lines, l)
		p.cond.Broadcast()
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
}

// WaitLog blocks until a log line satisfies pred, failing the test if the
// process's log ends or timeout passes first.
func (p *Proc) WaitLog(timeout time.Duration, pred func(map[string]any) bool) map[string]any {
	p.t.Helper()
	expired := false
	timer := time.AfterFunc(timeout, func() {
		p.mu.Lock()
		expired = true
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	p.mu.Lock()
	for i := 0; ; i++ {
		for ; i < len(p.lines); i++ {
			if pred(p.lines[i]) {
				l := p.lines[i]
				p.mu.Unlock()
				return l
			}
		}
		if p.closed || expired {
			p.mu.Unlock()
			p.t.Fatalf("no such log line within %s; log:\n%s", timeout, p.LogText())
		}
		p.cond.Wait()
		i--
	}
}

func (p *Proc) LogText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, l := range p.lines {
		j, _ := json.Marshal(l)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// Kill9 kills barge with SIGKILL and waits for it.
func (p *Proc) Kill9() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	p.cmd.Wait()
	<-p.done
}

// Wait waits for barge to exit on its own (a one-shot command) and returns
// its exit code; past timeout it kills barge and fails the test.
func (p *Proc) Wait(timeout time.Duration) int {
	p.t.Helper()
	var expired atomic.Bool
	timer := time.AfterFunc(timeout, func() { expired.Store(true); p.cmd.Process.Kill() })
	p.cmd.Wait()
	timer.Stop()
	<-p.done
	if expired.Load() {
		p.t.Fatalf("barge did not exit within %v", timeout)
	}
	return p.cmd.ProcessState.ExitCode()
}

// PeakRSS is the most memory barge held over its whole run, its VmHWM in
// bytes, as its "stopped" log line reports it (the child's ru_maxrss would
// count the parent's memory shared before the exec); 0 if barge did not
// stop that way. Call it after the process ended.
func (p *Proc) PeakRSS() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lines {
		if l["msg"] == "stopped" {
			if v, ok := l["peak_rss_bytes"].(float64); ok {
				return int64(v)
			}
		}
	}
	return 0
}

// Stdout is what barge wrote to its standard output; call it after the
// process ended.
func (p *Proc) Stdout() string { return p.stdout.String() }

// Stop sends SIGTERM and returns barge's exit code.
func (p *Proc) Stop(timeout time.Duration) int {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	timer := time.AfterFunc(timeout, func() { p.cmd.Process.Kill() })
	defer timer.Stop()
	p.cmd.Wait()
	<-p.done
	return p.cmd.ProcessState.ExitCode()
}

// ReadRecords reads every record of every output file under dir,
// decompressing by extension. Hidden files (temporary names) and
// directories named *.buffer (a file output's buffer) are skipped.
func ReadRecords(t *testing.T, dir string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() && path != dir && strings.HasSuffix(d.Name(), ".buffer") {
			return filepath.SkipDir // a file output's buffer, beside its files
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		var r io.Reader = f
		switch {
		case strings.HasSuffix(path, ".gz"):
			zr, err := gzip.NewReader(f)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			r = zr
		case strings.HasSuffix(path, ".zst"):
			zr, err := zstd.NewReader(f)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			defer zr.Close()
			r = zr
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 16<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				return fmt.Errorf("%s: %q: %w", path, sc.Text(), err)
			}
			recs = append(recs, m)
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// WaitRecords polls dir until it holds at least n records or timeout passes.
// Polling the output directory is the observable contract here: a file
// appears there only after it was completely written and renamed.
func WaitRecords(t *testing.T, dir string, n int, timeout time.Duration) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		recs := ReadRecords(t, dir)
		if len(recs) >= n || time.Now().After(deadline) {
			return recs
		}
		<-tick.C
	}
}

// CheckSeqs checks that recs hold every "seq" in [0, n) exactly once.
func CheckSeqs(t *testing.T, recs []map[string]any, n int) {
	t.Helper()
	seen := make(map[int]int, n)
	for _, r := range recs {
		f, ok := r["seq"].(float64)
		if !ok {
			t.Fatalf("record without seq: %v", r)
		}
		seen[int(f)]++
	}
	missing, dup := 0, 0
	for i := range n {
		switch seen[i] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	if missing > 0 || dup > 0 || len(recs) != n {
		t.Fatalf("%d records, want %d: %d missing, %d duplicated", len(recs), n, missing, dup)
	}
}

// SendAcked sends records seq from..to-1 with fluent-logger-golang with
// RequestAck: Post returns only after barge acknowledged each record.
func SendAcked(t *testing.T, addr string, tag string, from, to int) {
	t.Helper()
	SendRecords(t, addr, tag, from, to, func(i int) map[string]any {
		return map[string]any{"seq": i, "msg": "hello from the e2e test", "level": "info"}
	})
}

// SendRecords sends record(i) for i in from..to-1 with RequestAck.
func SendRecords(t *testing.T, addr string, tag string, from, to int, record func(int) map[string]any) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	lg, err := fluent.New(fluent.Config{FluentHost: host, FluentPort: p, RequestAck: true, SubSecondPrecision: true, Timeout: 5 * time.Second, MaxRetry: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	for i := from; i < to; i++ {
		if err := lg.Post(tag, record(i)); err != nil {
			t.Fatalf("post seq %d: %v", i, err)
		}
	}
}

// CountLog counts the log lines so far whose message is msg.
// WaitNth blocks until the n-th log line that satisfies pred (n from 1),
// failing the test if the log ends or timeout passes first.
func (p *Proc) WaitNth(timeout time.Duration, n int, pred func(map[string]any) bool) map[string]any {
	p.t.Helper()
	seen := 0
	return p.WaitLog(timeout, func(l map[string]any) bool {
		if pred(l) {
			seen++
		}
		return seen >= n
	})
}

func (p *Proc) CountLog(msg string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.lines {
		if l["msg"] == msg {
			n++
		}
	}
	return n
}

// Pid is the process id of the running barge.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Memory reads the process's resident set size now (VmRSS) and its peak
// since start (VmHWM) from /proc, in bytes.
func (p *Proc) Memory() (rss, peak int64, err error) { return procstat.Memory(p.Pid()) }
