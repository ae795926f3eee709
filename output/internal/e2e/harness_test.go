package e2e

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
	"syscall"
	"testing"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"
	"github.com/klauspost/compress/zstd"
	"go.uber.org/goleak"
)

// The process harness below is cmd/barge's (e2e_test.go), which this
// package cannot share: keep the two in step.

// bargeBin is the barge binary the end-to-end tests run, built once.
var bargeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "barge-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bargeBin = filepath.Join(dir, "barge")
	build := exec.Command("go", "build", "-o", bargeBin, "github.com/barge-dev/barge/cmd/barge")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build barge:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		// go.opencensus.io's init starts a worker; the storage client
		// the GCS tests read with pulls it in.
		if err := goleak.Find(goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running barge binary whose JSON log lines the test reads.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []map[string]any
	cond   *sync.Cond
	closed bool
	done   chan struct{}
	addr   string
	stdout bytes.Buffer
}

// startBarge writes config into dir/barge.conf and runs `barge run` in dir.
// It returns once barge logs that its forward input listens.
func startBarge(t *testing.T, dir, config string) *proc {
	t.Helper()
	return startBargeEnv(t, dir, config, nil)
}

// startBargeEnv is startBarge with env added to barge's environment.
func startBargeEnv(t *testing.T, dir, config string, env []string) *proc {
	t.Helper()
	path := filepath.Join(dir, "barge.conf")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	p.cmd = exec.Command(bargeBin, "run", "-c", path, "--log-format", "json")
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
			t.Logf("barge log:\n%s", p.logText())
		}
	})
	line := p.waitLog(10*time.Second, func(l map[string]any) bool { return l["msg"] == "listening" && l["port"] != nil })
	p.addr = net.JoinHostPort(line["bind"].(string), fmt.Sprint(line["port"]))
	return p
}

func (p *proc) readLog(r io.Reader) {
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

// waitLog blocks until a log line satisfies pred, failing the test if the
// process's log ends or timeout passes first.
func (p *proc) waitLog(timeout time.Duration, pred func(map[string]any) bool) map[string]any {
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
			p.t.Fatalf("no such log line within %s; log:\n%s", timeout, p.logText())
		}
		p.cond.Wait()
		i--
	}
}

func (p *proc) logText() string {
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

// kill9 kills barge with SIGKILL and waits for it.
func (p *proc) kill9() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	p.cmd.Wait()
	<-p.done
}

// stop sends SIGTERM and returns barge's exit code.
func (p *proc) stop(timeout time.Duration) int {
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

// readRecords reads every record of every output file under dir,
// decompressing by extension. Hidden files (temporary names) are skipped.
func readRecords(t *testing.T, dir string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
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

// waitRecords polls dir until it holds at least n records or timeout passes.
// Polling the output directory is the observable contract here: a file
// appears there only after it was completely written and renamed.
func waitRecords(t *testing.T, dir string, n int, timeout time.Duration) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		recs := readRecords(t, dir)
		if len(recs) >= n || time.Now().After(deadline) {
			return recs
		}
		<-tick.C
	}
}

// seqs checks that recs hold every "seq" in [0, n) exactly once.
func checkSeqs(t *testing.T, recs []map[string]any, n int) {
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

// sendAcked sends records seq from..to-1 with fluent-logger-golang with
// RequestAck: Post returns only after barge acknowledged each record.
func sendAcked(t *testing.T, addr string, tag string, from, to int) {
	t.Helper()
	sendRecords(t, addr, tag, from, to, func(i int) map[string]any {
		return map[string]any{"seq": i, "msg": "hello from the e2e test", "level": "info"}
	})
}

// sendRecords sends record(i) for i in from..to-1 with RequestAck.
func sendRecords(t *testing.T, addr string, tag string, from, to int, record func(int) map[string]any) {
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
