package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/tinylib/msgp/msgp"
	"go.uber.org/goleak"

	"github.com/barge-dev/barge/forwarder/codec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server is a minimal forward-protocol receiver: it counts records, acks
// chunks and, with dir set, writes one line per record into a file per message.
type server struct {
	ln      net.Listener
	wg      sync.WaitGroup
	records atomic.Int64
	msgs    atomic.Int64
	dir     string
	key     string        // when set, a shared-key handshake opens each connection
	conns   chan struct{} // one value per accepted connection
	mu      sync.Mutex
	errs    []error
}

func newServer(t *testing.T, dir string) *server {
	t.Helper()
	return newKeyServer(t, dir, "")
}

// newKeyServer is newServer with a shared-key handshake when key is set.
func newKeyServer(t *testing.T, dir, key string) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, dir: dir, key: key, conns: make(chan struct{}, 64)}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns <- struct{}{}
			s.wg.Go(func() {
				defer c.Close()
				if err := s.serve(c); err != nil {
					s.mu.Lock()
					s.errs = append(s.errs, err)
					s.mu.Unlock()
				}
			})
		}
	})
	return s
}

// stop waits until conns connections were accepted (closing the listener
// earlier would drop connections still in its accept queue, with the data
// the client sent on them), then for every connection to end, and returns
// the errors seen.
func (s *server) stop(conns int) error {
	for range conns {
		<-s.conns
	}
	s.ln.Close()
	s.wg.Wait()
	return errors.Join(s.errs...)
}

func (s *server) serve(c net.Conn) error {
	r := msgp.NewReader(bufio.NewReader(c))
	if s.key != "" {
		if err := s.handshake(c, r); err != nil {
			return err
		}
	}
	for {
		n, err := r.ReadArrayHeader()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := r.ReadString(); err != nil {
			return err
		}
		var recs int64
		var raw []byte
		typ, err := r.NextType()
		if err != nil {
			return err
		}
		switch typ {
		case msgp.ArrayType: // forward
			k, err := r.ReadArrayHeader()
			if err != nil {
				return err
			}
			for range k {
				if err := r.Skip(); err != nil {
					return err
				}
			}
			recs = int64(k)
		case msgp.BinType, msgp.StrType: // packed
			if raw, err = r.ReadBytes(nil); err != nil {
				return err
			}
		default: // message: time, record
			if err := r.Skip(); err != nil {
				return err
			}
			if err := r.Skip(); err != nil {
				return err
			}
			recs = 1
		}
		var chunk string
		if (typ == msgp.ArrayType || typ == msgp.BinType || typ == msgp.StrType) && n == 3 || n == 4 { // an option map
			opts := map[string]any{}
			if err := r.ReadMapStrIntf(opts); err != nil {
				return err
			}
			if opts["compressed"] == "gzip" {
				z, err := gzip.NewReader(bytes.NewReader(raw))
				if err != nil {
					return err
				}
				if raw, err = io.ReadAll(z); err != nil {
					return err
				}
			}
			chunk, _ = opts["chunk"].(string)
		}
		for len(raw) > 0 { // count [time, record] entries
			if raw, err = msgp.Skip(raw); err != nil {
				return err
			}
			recs++
		}
		s.records.Add(recs)
		id := s.msgs.Add(1)
		if s.dir != "" {
			name := filepath.Join(s.dir, fmt.Sprintf("out-%d.log", id))
			if err := os.WriteFile(name, bytes.Repeat([]byte("{}\n"), int(recs)), 0o644); err != nil {
				return err
			}
		}
		if chunk != "" {
			ack := msgp.AppendMapHeader(nil, 1)
			ack = msgp.AppendString(ack, "ack")
			ack = msgp.AppendString(ack, chunk)
			if _, err := c.Write(ack); err != nil {
				return err
			}
		}
	}
}

// handshake sends HELO, checks the PING's digest and answers PONG.
func (s *server) handshake(c net.Conn, r *msgp.Reader) error {
	nonce := []byte("0123456789abcdef")
	if _, err := c.Write(codec.AppendHelo(nil, codec.Helo{Nonce: nonce, Keepalive: true})); err != nil {
		return err
	}
	var raw bytes.Buffer
	if _, err := r.CopyNext(&raw); err != nil {
		return err
	}
	ping, err := codec.DecodePing(raw.Bytes())
	if err != nil {
		return err
	}
	ok := ping.SharedKeyDigest == codec.SharedKeyDigest(ping.SharedKeySalt, ping.Hostname, nonce, s.key)
	pong := codec.Pong{OK: ok, Hostname: "server"}
	if !ok {
		pong.Reason = "shared_key mismatch"
	}
	if _, err := c.Write(codec.AppendPong(nil, pong)); err != nil {
		return err
	}
	if !ok {
		return errors.New("shared_key mismatch")
	}
	return nil
}

// TestSharedKey: with -shared-key, loadgen answers the HELO of a server
// with <security> and its records arrive; a wrong key is refused.
func TestSharedKey(t *testing.T) {
	srv := newKeyServer(t, "", "s3cret")
	cfg := config{addr: srv.ln.Addr().String(), mode: "packed", records: 5, recordSize: 100, conns: 2,
		messages: 4, ack: true, ackTimeout: 10 * time.Second, tag: "t", sharedKey: "s3cret"}
	if _, err := run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if err := srv.stop(cfg.conns); err != nil {
		t.Fatal(err)
	}
	if got := srv.records.Load(); got != 20 {
		t.Fatalf("server counted %d records, want 20", got)
	}

	bad := newKeyServer(t, "", "other")
	cfg.addr, cfg.conns = bad.ln.Addr().String(), 1
	_, err := run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "refused: shared_key mismatch") {
		t.Fatalf("wrong key: %v", err)
	}
	if err := bad.stop(1); err == nil {
		t.Fatal("the server saw no mismatch")
	}
}

func TestRunModes(t *testing.T) {
	for _, mode := range []string{"message", "forward", "packed", "compressed"} {
		for _, ack := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/ack=%v", mode, ack), func(t *testing.T) {
				srv := newServer(t, "")
				cfg := config{addr: srv.ln.Addr().String(), mode: mode, records: 7, recordSize: 150, conns: 2,
					messages: 9, ack: ack, ackTimeout: 10 * time.Second, tag: "t", eventTime: ack}
				res, err := run(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				if err := srv.stop(cfg.conns); err != nil {
					t.Fatal(err)
				}
				if res.messages != 9 || res.records != 63 {
					t.Errorf("result: %d messages, %d records; want 9, 63", res.messages, res.records)
				}
				if got := srv.records.Load(); got != 63 {
					t.Errorf("server counted %d records, want 63", got)
				}
				if ack && len(res.latencies) != 9 {
					t.Errorf("%d ack latencies, want 9", len(res.latencies))
				}
			})
		}
	}
}

func TestRunVerifyAndRSS(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "old.log"), []byte("x\ny\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, dir)
	cfg := config{addr: srv.ln.Addr().String(), mode: "packed", records: 5, recordSize: 200, conns: 1,
		messages: 4, ack: true, ackTimeout: 10 * time.Second, tag: "t", pid: os.Getpid(),
		verifyDir: dir, verifyTimeout: 10 * time.Second}
	var out bytes.Buffer
	res, err := run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.stop(cfg.conns); err != nil {
		t.Fatal(err)
	}
	res.print(&out, cfg)
	if !res.verifyDone || res.verified != 20 {
		t.Errorf("verified %d lines (done %v), want 20", res.verified, res.verifyDone)
	}
	if res.rss == nil || res.rss.peak <= 0 {
		t.Errorf("no RSS sampled: %+v", res.rss)
	}
	for _, want := range []string{"end to end:", "ack latency: p50=", "peak RSS:", "send rate:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCountLines(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v, err := newVerifier(dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := []byte(strings.Repeat("{\"a\":1}\n", 1000))
	var gz, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(lines)
	gw.Close()
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(lines)
	zw.Close()
	write("a.log", []byte("1\n2\n3"))         // 3 lines, the last without newline
	write("sub/b.json.gz", gz.Bytes())        // 1000
	write("sub/c.json.zst", zs.Bytes())       // 1000
	write(".hidden", lines)                   // skipped
	write("x.log.tmp", lines)                 // skipped
	write("torn.gz", gz.Bytes()[:gz.Len()/2]) // not counted yet
	n, _, err := v.scan()
	if err != nil {
		t.Fatal(err)
	}
	if n != 2003 {
		t.Errorf("scan = %d lines, want 2003", n)
	}
}

func TestGenRecordSize(t *testing.T) {
	for _, size := range []int{150, 200, 1000, 5000} {
		e := genEntries(10, size, true, time.Unix(1, 0), rand.New(rand.NewPCG(1, 2)))
		per := (len(e) - 10*11) / 10 // minus [ + EventTime
		if per < size-5 || per > size+5 {
			t.Errorf("record-size %d: records of %d bytes", size, per)
		}
	}
}

func TestRunMainFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := runMain(context.Background(), []string{"-mode", "bogus", "-messages", "1", "-addr", "127.0.0.1:1"}, &out, &errOut); err == nil {
		t.Error("bad mode: no error")
	}
	if err := runMain(context.Background(), []string{"-records", "0"}, &out, &errOut); err == nil {
		t.Error("-records 0: no error")
	}
}
