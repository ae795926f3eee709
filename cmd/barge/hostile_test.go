package main

// End-to-end tests of what a hostile client or a careless operator does to
// the real binary, each with a well-behaved client whose acked records must
// all arrive. Each test was a failure before the fix (issue 9).

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
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
	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/cmd/barge/bargetest"
	"github.com/barge-dev/barge/forwarder/codec"
)

// messageMode encodes a Message-mode forward message [tag, time, record,
// {"chunk": chunk}] whose record is {"a": 1} wrapped in nest levels of
// {"n": ...} maps (nest 0: the record is {"a": 1}, at depth 1).
func messageMode(tag string, nest int, chunk string) []byte {
	b := msgp.AppendArrayHeader(nil, 4)
	b = msgp.AppendString(b, tag)
	b = msgp.AppendInt64(b, time.Now().Unix())
	for range nest {
		b = msgp.AppendMapHeader(b, 1)
		b = msgp.AppendString(b, "n")
	}
	b = msgp.AppendMapHeader(b, 1)
	b = msgp.AppendString(b, "a")
	b = msgp.AppendInt(b, 1)
	b = msgp.AppendMapHeader(b, 1)
	b = msgp.AppendString(b, "chunk")
	return msgp.AppendString(b, chunk)
}

// exchange sends one message on a new connection and reports whether barge
// acked it and whether it then closed the connection.
func exchange(t *testing.T, addr string, msg []byte) (acked, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if n > 0 {
		if _, err := codec.DecodeAck(buf[:n]); err != nil {
			t.Fatalf("answer %q is not an ack: %v", buf[:n], err)
		}
		return true, false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("barge neither acked nor closed the connection within 10s")
	}
	return false, true // EOF or reset: closed without an ack
}

// TestLongTagNeverBlocksOutput: a tag of 256 bytes used to become a path
// component the file system refuses, and the chunk blocked every other
// tag's chunks, before and after a restart. Now the name is bounded, tags
// over the input's limit are refused without an ack, and every acked
// record arrives.
func TestLongTagNeverBlocksOutput(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("L", 256)
	p := startBarge(t, dir, fileConfig("flush_interval 1h\n retry_max_times 2\n retry_wait 100ms"))
	if acked, _ := exchange(t, p.Addr, messageMode(long, 0, "long-1")); !acked {
		t.Fatal("a 256-byte tag was not acked")
	}
	bargetest.SendAcked(t, p.Addr, "app.good", 0, 500)
	for _, bad := range []string{strings.Repeat("T", event.MaxTagLen+1), "app.\nforged", "app.\x00nul"} {
		acked, closed := exchange(t, p.Addr, messageMode(bad, 0, "bad"))
		if acked || !closed {
			t.Errorf("tag %.20q (%d bytes): acked %v, closed %v; want refused and closed", bad, len(bad), acked, closed)
		}
	}
	if acked, _ := exchange(t, p.Addr, messageMode(strings.Repeat("M", event.MaxTagLen), 0, "max")); !acked {
		t.Fatal("a tag of exactly MaxTagLen bytes was not acked")
	}
	bargetest.SendAcked(t, p.Addr, "app.good", 500, 1000)
	// Crash with everything still buffered: the restart must not be stuck
	// either.
	p.Kill9()

	p2 := startBarge(t, dir, fileConfig("flush_mode interval\n flush_interval 1s\n retry_max_times 2\n retry_wait 100ms"))
	out := filepath.Join(dir, "out")
	recs := bargetest.WaitRecords(t, out, 1002, 30*time.Second)
	var good []map[string]any
	others := 0
	for _, r := range recs {
		if _, ok := r["seq"]; ok {
			good = append(good, r)
		} else {
			others++
		}
	}
	bargetest.CheckSeqs(t, good, 1000)
	if others != 2 {
		t.Errorf("%d records of the long tags written, want 2", others)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if len(e.Name()) > 200 {
			t.Errorf("output directory name of %d bytes, want at most 200: %s", len(e.Name()), e.Name())
		}
	}
	if len(entries) != 3 {
		t.Errorf("%d output directories, want 3 (app.good and the two long tags)", len(entries))
	}
	if failed, _ := filepath.Glob(filepath.Join(dir, "buf", "failed", "*")); len(failed) > 0 {
		t.Errorf("chunks moved to failed/: %v", failed)
	}
	if code := p2.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// TestDeepRecordIsRefusedOrIsolated: a record nested deeper than the
// encoders accept used to be acked, and then failed its whole chunk,
// sending the well-behaved client's records to failed/ with it. Now the
// input refuses it (no ack), and a record the encoder cannot write that got
// into a chunk anyway (here: written by an older barge) is set aside alone.
func TestDeepRecordIsRefusedOrIsolated(t *testing.T) {
	dir := t.TempDir()
	// A chunk left by an earlier process: good records and one nested too
	// deep for any encoder, in the same chunk.
	seedChunk(t, filepath.Join(dir, "buf"), "app.good", 1000, 1010, event.MaxDepth+50)

	p := startBarge(t, dir, fileConfig("flush_mode interval\n flush_interval 1s"))
	for i := 0; i < 24; i++ {
		bargetest.SendAcked(t, p.Addr, "app.good", 2*i, 2*i+1)
		// Depth MaxDepth is the deepest record accepted: nest MaxDepth-1
		// maps around the innermost {"a": 1}.
		if acked, _ := exchange(t, p.Addr, messageMode("app.good", event.MaxDepth-1, "deep-ok")); !acked {
			t.Fatalf("a record nested %d levels was not acked", event.MaxDepth)
		}
		bargetest.SendAcked(t, p.Addr, "app.good", 2*i+1, 2*i+2)
	}
	acked, closed := exchange(t, p.Addr, messageMode("app.good", event.MaxDepth, "too-deep"))
	if acked || !closed {
		t.Fatalf("a record nested %d levels: acked %v, closed %v; want refused and closed", event.MaxDepth+1, acked, closed)
	}
	huge, _ := exchange(t, p.Addr, messageMode("app.good", 99_999, "very-deep"))
	if huge {
		t.Fatal("a record nested 99,999 levels was acked")
	}
	out := filepath.Join(dir, "out")
	recs := bargetest.WaitRecords(t, out, 48+24+10, 30*time.Second)
	var good []map[string]any
	deep := 0
	for _, r := range recs {
		switch {
		case r["seq"] != nil:
			if s := r["seq"].(float64); s < 1000 {
				good = append(good, r)
			}
		case r["n"] != nil:
			deep++
		}
	}
	bargetest.CheckSeqs(t, good, 48)
	if deep != 24 {
		t.Errorf("%d records of depth %d written, want 24", deep, event.MaxDepth)
	}
	if n := len(recs) - len(good) - deep; n != 10 {
		t.Errorf("%d of the 10 good records of the seeded chunk written", n)
	}
	// The one record no encoder accepts is alone in failed/. The buffer
	// writes it there once the output's flush returned, after the output
	// files the test saw appeared.
	var failed []string
	for deadline := time.Now().Add(10 * time.Second); len(failed) == 0 && time.Now().Before(deadline); {
		failed, _ = filepath.Glob(filepath.Join(dir, "buf", "failed", "*.chunk"))
		if len(failed) == 0 {
			time.Sleep(20 * time.Millisecond) // polling the directory: the observable contract
		}
	}
	if len(failed) != 1 {
		t.Fatalf("%d chunks in failed/, want 1 holding the rejected record: %v", len(failed), failed)
	}
	if n := countChunkRecords(t, failed[0]); n != 1 {
		t.Errorf("failed/ chunk holds %d records, want only the rejected one", n)
	}
	if code := p.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// seedChunk writes a buffer chunk into dir as a barge with fileConfig's
// <buffer tag> would: records seq from..to-1 of tag, and one record nested
// depth levels in the middle of them.
func seedChunk(t *testing.T, dir, tag string, from, to, depth int) {
	t.Helper()
	cfg := buffer.DefaultConfig("file")
	cfg.Path = dir
	cfg.ChunkKeys = []string{"tag"}
	cfg.FlushInterval = time.Hour
	b, err := buffer.New(cfg, flushNothing{}, buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	var entries []byte
	for i := from; i < to; i++ {
		entries = msgp.AppendArrayHeader(entries, 2)
		entries = msgp.AppendInt64(entries, time.Now().Unix())
		entries = msgp.AppendMapHeader(entries, 1)
		entries = msgp.AppendString(entries, "seq")
		entries = msgp.AppendInt(entries, i)
		if i == (from+to)/2 {
			entries = msgp.AppendArrayHeader(entries, 2)
			entries = msgp.AppendInt64(entries, time.Now().Unix())
			for range depth - 1 {
				entries = msgp.AppendMapHeader(entries, 1)
				entries = msgp.AppendString(entries, "n")
			}
			entries = msgp.AppendMapHeader(entries, 1)
			entries = msgp.AppendString(entries, "a")
			entries = msgp.AppendInt(entries, 1)
		}
	}
	if err := b.Append(context.Background(), tag, entries); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

type flushNothing struct{}

func (flushNothing) Flush(context.Context, *buffer.Chunk) error {
	return errors.New("the seeding buffer never flushes")
}

// countChunkRecords reads a chunk file the way barge's buffer does and
// counts its records.
func countChunkRecords(t *testing.T, path string) int {
	t.Helper()
	cfg := buffer.DefaultConfig("file")
	cfg.Path = t.TempDir()
	if err := os.Rename(path, filepath.Join(cfg.Path, filepath.Base(path))); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	count := flushCount{n: &n}
	b, err := buffer.New(cfg, count, buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.Close()
	return int(n.Load())
}

type flushCount struct{ n *atomic.Int64 }

func (f flushCount) Flush(_ context.Context, c *buffer.Chunk) error {
	f.n.Add(int64(c.Records))
	return nil
}

// TestTwoProcessesOneBufferPath: a second barge on the same buffer path
// used to start and rename the first one's live chunks away. Now it exits
// at start, naming the path and the pid that holds it, and the first one
// keeps every acked record.
func TestTwoProcessesOneBufferPath(t *testing.T) {
	dir := t.TempDir()
	p := startBarge(t, dir, fileConfig("flush_interval 1s"))
	bargetest.SendAcked(t, p.Addr, "app.one", 0, 200)

	second := bargetest.StartCommand(t, bargeBin, dir, fileConfig("flush_interval 1s"), nil, "run")
	if code := second.Wait(20 * time.Second); code == 0 {
		t.Fatal("the second barge on the same buffer path exited 0")
	}
	want := "buffer path " + filepath.Join(dir, "buf")
	line := second.WaitLog(time.Second, func(l map[string]any) bool {
		s, _ := l["err"].(string)
		return strings.Contains(s, "is in use by pid")
	})
	if s := line["err"].(string); !strings.Contains(s, want) && !strings.Contains(s, "buffer path ./buf") ||
		!strings.Contains(s, "pid "+strconv.Itoa(p.Pid())) {
		t.Errorf("error %q does not name the path and pid %d", s, p.Pid())
	}
	bargetest.SendAcked(t, p.Addr, "app.one", 200, 400)
	if code := p.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	bargetest.CheckSeqs(t, bargetest.ReadRecords(t, filepath.Join(dir, "out")), 400)
}

// TestFullBufferDiskRecovers fills the buffer's file system (a real tmpfs)
// while a client sends acked records. Before the fix a torn frame was left
// behind on ENOSPC and the chunk could never be flushed again. Now the
// failed append sends no ack, the chunk stays consistent, appends resume
// once space returns, and every acked record is written.
func TestFullBufferDiskRecovers(t *testing.T) {
	dir := t.TempDir()
	bufDir := filepath.Join(dir, "buf")
	if err := os.Mkdir(bufDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", bufDir, "tmpfs", 0, "size=512k"); err != nil {
		t.Skipf("cannot mount a tmpfs for the buffer (needs root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(bufDir, syscall.MNT_DETACH) })
	// Leave about 40 KiB free.
	filler := filepath.Join(bufDir, "filler")
	if err := os.WriteFile(filler, make([]byte, 472<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startBarge(t, dir, fileConfig("flush_interval 1h\n chunk_limit_size 4m"))
	lg := newLogger(t, p.Addr)
	payload := strings.Repeat("x", 2000)
	var acked []int
	seq := 0
	for ; seq < 200; seq++ {
		if err := lg.Post("app.disk", map[string]any{"seq": seq, "pad": payload}); err != nil {
			break
		}
		acked = append(acked, seq)
	}
	lg.Close()
	if seq == 200 {
		t.Fatal("200 records of 2 KB fit in 40 KiB: the disk never filled")
	}
	full := p.WaitLog(10*time.Second, func(l map[string]any) bool { return l["msg"] == diskFullMsg })
	if full["path"] == nil || full["free_bytes"] == nil {
		t.Errorf("the disk-full line does not name the path and free bytes: %v", full)
	}
	// Space returns: appends resume without a restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	lg = newLogger(t, p.Addr)
	for i := 0; i < 50; i++ {
		if err := lg.Post("app.disk", map[string]any{"seq": 1000 + i, "pad": payload}); err != nil {
			t.Fatalf("post after space returned: %v", err)
		}
		acked = append(acked, 1000+i)
	}
	lg.Close()
	if n := p.CountLog(diskFullMsg); n != 1 {
		t.Errorf("%d disk-full lines for one episode, want 1", n)
	}
	// Flushing at shutdown drains the chunk that saw the failed write.
	if code := p.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	got := map[int]int{}
	for _, r := range bargetest.ReadRecords(t, filepath.Join(dir, "out")) {
		got[int(r["seq"].(float64))]++
	}
	for _, s := range acked {
		if got[s] == 0 {
			t.Errorf("acked seq %d is not in the output", s)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(bufDir, "*.chunk")); len(left) > 0 {
		t.Errorf("chunks left in the buffer after a clean stop: %v", left)
	}
}

const diskFullMsg = "buffer disk full: appends fail until space is freed"

func newLogger(t *testing.T, addr string) *fluent.Fluent {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	lg, err := fluent.New(fluent.Config{FluentHost: host, FluentPort: mustAtoi(t, port), RequestAck: true,
		Timeout: 3 * time.Second, WriteTimeout: 3 * time.Second, ReadTimeout: 2 * time.Second,
		MaxRetry: 1, RetryWait: 1})
	if err != nil {
		t.Fatal(err)
	}
	return lg
}

// TestAttackKeepsMemoryBounded sends gzip bombs and floods of tiny entries
// on 200 connections at once while a well-behaved client sends acked
// records. Before the fix 100 bombs took 5.5 GB. Now barge stays under
// 256 MiB and the good client keeps getting acks.
func TestAttackKeepsMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: sends about 450 MB of decompressed attack traffic")
	}
	dir := t.TempDir()
	p := startBarge(t, dir, `
<source>
  @type forward
  bind 127.0.0.1
  port 0
  max_connections 1024
</source>
<match **>
  @type null
  <buffer>
    @type file
    path ./buf
    flush_mode interval
    flush_interval 1s
  </buffer>
</match>
`)
	idle, _, err := p.Memory()
	if err != nil {
		t.Fatal(err)
	}
	// A bomb: 64 MiB of zeros in about 65 KB, over chunk_size_limit once
	// decompressed. A flood: 11.1 million entries [0, {}] in about 32 KB,
	// accepted.
	bomb := compressedMessage(t, bytes.Repeat([]byte{0}, 64<<20), false)
	flood := compressedMessage(t, bytes.Repeat([]byte{0x92, 0x00, 0x80}, 11_100_000), true)
	var wg sync.WaitGroup
	var floodAcks atomic.Int64
	for i := range 200 {
		wg.Go(func() {
			msg := bomb
			if i%20 == 0 { // 10 floods among 190 bombs
				msg = flood
			}
			c, err := net.Dial("tcp", p.Addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.Write(msg)
			c.SetReadDeadline(time.Now().Add(2 * time.Minute))
			buf := make([]byte, 64)
			if n, _ := c.Read(buf); n > 0 {
				floodAcks.Add(1)
			}
		})
	}
	// The well-behaved client during the attack.
	lg := newLogger(t, p.Addr)
	posted := 0
	attack := make(chan struct{})
	go func() { wg.Wait(); close(attack) }()
	for done := false; !done; {
		select {
		case <-attack:
			done = true
		default:
		}
		if err := lg.Post("app.good", map[string]any{"seq": posted}); err != nil {
			t.Fatalf("the well-behaved client's record %d was not acked during the attack: %v", posted, err)
		}
		posted++
	}
	lg.Close()
	_, peak, err := p.Memory()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("idle RSS %d MiB, peak RSS %d MiB during the attack; %d good records acked; %d of 10 floods acked",
		idle>>20, peak>>20, posted, floodAcks.Load())
	if peak > 256<<20 {
		t.Errorf("peak RSS %d MiB, want under 256 MiB", peak>>20)
	}
	if floodAcks.Load() != 10 {
		t.Errorf("%d of the 10 entry floods acked; each is a valid message under chunk_size_limit", floodAcks.Load())
	}
	// After the attack memory returns near its idle size (the Go runtime
	// gives freed memory back to the OS over minutes; barge prompts it
	// once a GC has freed the heap). Usually within seconds; when no GC
	// ran after the last attacker left (a loaded machine), the runtime's
	// forced GC comes within two minutes.
	const settle = 3 * time.Minute
	deadline := time.Now().Add(settle)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		rss, _, err := p.Memory()
		if err != nil {
			t.Fatal(err)
		}
		if rss < idle+64<<20 {
			t.Logf("RSS %d MiB %s after the attack", rss>>20, time.Since(deadline.Add(-settle)).Round(time.Second))
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("RSS %d MiB %v after the attack, idle was %d MiB", rss>>20, settle, idle>>20)
			break
		}
		<-tick.C
	}
	if code := p.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// compressedMessage is a CompressedPackedForward message carrying payload
// gzipped, with an ack request when ack is set.
func compressedMessage(t *testing.T, payload []byte, ack bool) []byte {
	t.Helper()
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	zw.Write(payload)
	zw.Close()
	b := msgp.AppendArrayHeader(nil, 3)
	b = msgp.AppendString(b, "attack")
	b = msgp.AppendBytes(b, z.Bytes())
	n := uint32(1)
	if ack {
		n = 2
	}
	b = msgp.AppendMapHeader(b, n)
	b = msgp.AppendString(b, "compressed")
	b = msgp.AppendString(b, "gzip")
	if ack {
		b = msgp.AppendString(b, "chunk")
		b = msgp.AppendString(b, "flood")
	}
	return b
}

// TestOperatorMistakesFailFast: a config that is a directory, and a buffer
// path that cannot be written, are refused at start with the path and the
// reason instead of failing every append.
func TestOperatorMistakesFailFast(t *testing.T) {
	dir := t.TempDir()
	out, err := exec.Command(bargeBin, "check", "-c", dir).CombinedOutput()
	if err == nil || !strings.Contains(string(out), dir+": not a regular file (a directory)") {
		t.Errorf("barge check -c DIR: %v\n%s", err, out)
	}

	ro := filepath.Join(dir, "buf")
	if err := os.Mkdir(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", ro, "tmpfs", syscall.MS_RDONLY, "size=64k"); err != nil {
		t.Skipf("cannot mount a read-only tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(ro, syscall.MNT_DETACH) })
	p := bargetest.StartCommand(t, bargeBin, dir, fileConfig("flush_interval 1s"), nil, "run")
	if code := p.Wait(20 * time.Second); code == 0 {
		t.Fatal("barge started on a read-only buffer path")
	}
	p.WaitLog(time.Second, func(l map[string]any) bool {
		s, _ := l["err"].(string)
		return strings.Contains(s, "buf") && strings.Contains(s, "read-only file system")
	})
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
