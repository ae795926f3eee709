package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/forwarder/codec"
)

type result struct {
	messages   int64
	records    int64
	bytes      int64 // msgpack bytes of the entries sent
	elapsed    time.Duration
	latencies  []time.Duration
	rss        *rssSampler
	verified   int64         // lines found under -verify-dir
	endToEnd   time.Duration // first send until the last record was written
	verifyDone bool
}

// run sends traffic as c says and measures it.
func run(ctx context.Context, c config) (*result, error) {
	// A pool of distinct messages, built once: sending costs loadgen
	// almost no CPU, and the data varies like real logs.
	pool := make([]message, max(c.variety, 1))
	now := time.Now()
	for i := range pool {
		rng := mrand.New(mrand.NewPCG(uint64(i), 0x6c6f6164))
		entries := genEntries(c.records, c.recordSize, c.eventTime, now, rng)
		m, err := buildMessage(c.mode, c.tag, entries, c.records, c.ack)
		if err != nil {
			return nil, err
		}
		pool[i] = m
	}
	var err error
	var ver *verifier
	if c.verifyDir != "" {
		if ver, err = newVerifier(c.verifyDir); err != nil {
			return nil, err
		}
	}
	res := &result{}
	sampleCtx, stopSampling := context.WithCancel(ctx)
	var sampling sync.WaitGroup
	if c.pid > 0 {
		res.rss = &rssSampler{pid: c.pid}
		sampling.Go(func() { res.rss.run(sampleCtx, 100*time.Millisecond) })
	}
	defer func() {
		stopSampling()
		sampling.Wait()
	}()

	conns := make([]net.Conn, c.conns)
	var d net.Dialer
	for i := range conns {
		if conns[i], err = d.DialContext(ctx, "tcp", c.addr); err != nil {
			for _, cn := range conns[:i] {
				cn.Close()
			}
			return nil, fmt.Errorf("dial %s: %w", c.addr, err)
		}
		if c.sharedKey != "" {
			if err := handshake(conns[i], c.sharedKey); err != nil {
				for _, cn := range conns[:i+1] {
					cn.Close()
				}
				return nil, fmt.Errorf("handshake with %s: %w", c.addr, err)
			}
		}
	}
	sendCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		claimed atomic.Int64
		wg      sync.WaitGroup
		mu      sync.Mutex
		errs    []error
	)
	start := time.Now()
	deadline := start.Add(c.duration)
	claim := func() bool {
		if sendCtx.Err() != nil {
			return false
		}
		if c.messages > 0 {
			return claimed.Add(1) <= c.messages
		}
		return time.Now().Before(deadline)
	}
	for _, cn := range conns {
		wg.Go(func() {
			w := worker{conn: cn, ack: c.ack, ackTimeout: c.ackTimeout}
			for _, m := range pool {
				m.buf = slices.Clone(m.buf)
				w.msgs = append(w.msgs, m)
			}
			stop := context.AfterFunc(sendCtx, func() { cn.Close() })
			err := w.send(claim)
			stop()
			cn.Close()
			mu.Lock()
			defer mu.Unlock()
			res.messages += w.sent
			res.bytes += w.bytes
			res.latencies = append(res.latencies, w.latencies...)
			if err != nil && sendCtx.Err() == nil {
				errs = append(errs, err)
				cancel()
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.records = res.messages * int64(c.records)
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if ver != nil {
		if err := res.verify(ctx, ver, start, c.verifyTimeout); err != nil {
			return res, err
		}
	}
	return res, nil
}

// worker sends on one connection.
type worker struct {
	conn       net.Conn
	msgs       []message // sent in turn
	bytes      int64     // msgpack bytes of the entries sent
	ack        bool
	ackTimeout time.Duration
	sent       int64
	latencies  []time.Duration
}

func (w *worker) send(claim func() bool) error {
	var prefix [8]byte
	if _, err := rand.Read(prefix[:]); err != nil {
		return err
	}
	r := msgp.NewReader(bufio.NewReaderSize(w.conn, 4096))
	for claim() {
		msg := &w.msgs[w.sent%int64(len(w.msgs))]
		chunk := msg.setChunk(prefix, uint64(w.sent))
		t0 := time.Now()
		if _, err := w.conn.Write(msg.buf); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if w.ack {
			if err := w.conn.SetReadDeadline(time.Now().Add(w.ackTimeout)); err != nil {
				return err
			}
			if err := readAck(r, chunk); err != nil {
				return err
			}
			w.latencies = append(w.latencies, time.Since(t0))
		}
		w.sent++
		w.bytes += int64(msg.entries)
	}
	return nil
}

// readAck reads {"ack": chunk} and checks the chunk id.
func readAck(r *msgp.Reader, chunk []byte) error {
	n, err := r.ReadMapHeader()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("connection closed while waiting for an ack")
		}
		return fmt.Errorf("read ack: %w", err)
	}
	var got []byte
	for range n {
		k, err := r.ReadMapKeyPtr()
		if err != nil {
			return fmt.Errorf("read ack: %w", err)
		}
		if string(k) != "ack" {
			if err := r.Skip(); err != nil {
				return fmt.Errorf("read ack: %w", err)
			}
			continue
		}
		if got, err = r.ReadStringAsBytes(got[:0]); err != nil {
			return fmt.Errorf("read ack: %w", err)
		}
	}
	if string(got) != string(chunk) {
		return fmt.Errorf("ack %q does not match chunk %q", got, chunk)
	}
	return nil
}

// verify waits until the records sent appear under the verify directory.
func (res *result) verify(ctx context.Context, v *verifier, start time.Time, timeout time.Duration) error {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	limit := time.NewTimer(timeout)
	defer limit.Stop()
	for {
		lines, last, err := v.scan()
		if err != nil {
			return err
		}
		res.verified = lines
		if lines >= res.records {
			res.verifyDone = true
			res.endToEnd = last.Sub(start)
			if res.endToEnd < res.elapsed { // coarse modification times
				res.endToEnd = res.elapsed
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-limit.C:
			return fmt.Errorf("verify: %d of %d records written after %v", lines, res.records, timeout)
		case <-t.C:
		}
	}
}

func (res *result) print(w io.Writer, c config) {
	secs := res.elapsed.Seconds()
	fmt.Fprintf(w, "sent:        %d messages, %d records, %.1f MB in %.2fs\n", res.messages, res.records, float64(res.bytes)/1e6, secs)
	if secs > 0 {
		fmt.Fprintf(w, "send rate:   %.0f records/s, %.1f MB/s (msgpack entries)\n", float64(res.records)/secs, float64(res.bytes)/1e6/secs)
	}
	if len(res.latencies) > 0 {
		l := slices.Clone(res.latencies)
		slices.Sort(l)
		p := func(q float64) time.Duration {
			return l[min(len(l)-1, int(q*float64(len(l))))].Round(10 * time.Microsecond)
		}
		fmt.Fprintf(w, "ack latency: p50=%v p90=%v p99=%v max=%v\n", p(0.50), p(0.90), p(0.99), l[len(l)-1].Round(10*time.Microsecond))
	}
	if c.verifyDir != "" {
		if res.verifyDone {
			e := res.endToEnd.Seconds()
			fmt.Fprintf(w, "end to end:  %d lines in %s after %.2fs: %.0f records/s, %.1f MB/s\n",
				res.verified, c.verifyDir, e, float64(res.records)/e, float64(res.bytes)/1e6/e)
		} else {
			fmt.Fprintf(w, "end to end:  %d of %d lines found in %s\n", res.verified, res.records, c.verifyDir)
		}
	}
	if res.rss != nil {
		if res.rss.err != nil {
			fmt.Fprintf(w, "peak RSS:    pid %d: %v\n", c.pid, res.rss.err)
		} else {
			fmt.Fprintf(w, "peak RSS:    pid %d: %.1f MiB sampled every 100ms (kernel VmHWM %.1f MiB)\n",
				c.pid, float64(res.rss.peak)/(1<<20), float64(res.rss.hwm)/(1<<20))
		}
	}
}

// handshake answers the server's HELO with a PING signed with key, as
// out_forward's <security> does, and checks its PONG.
func handshake(conn net.Conn, key string) error {
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	defer conn.SetDeadline(time.Time{})
	// The server sends nothing after HELO until PING, and nothing after
	// PONG until a message: a buffered reader reads no further.
	r := msgp.NewReader(conn)
	var raw bytes.Buffer
	if _, err := r.CopyNext(&raw); err != nil {
		return fmt.Errorf("read HELO: %w", err)
	}
	helo, err := codec.DecodeHelo(raw.Bytes())
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	salt := make([]byte, 16)
	rand.Read(salt)
	ping := codec.AppendPing(nil, codec.Ping{Hostname: host, SharedKeySalt: salt,
		SharedKeyDigest: codec.SharedKeyDigest(salt, host, helo.Nonce, key)})
	if _, err := conn.Write(ping); err != nil {
		return fmt.Errorf("send PING: %w", err)
	}
	raw.Reset()
	if _, err := r.CopyNext(&raw); err != nil {
		return fmt.Errorf("read PONG: %w", err)
	}
	pong, err := codec.DecodePong(raw.Bytes())
	if err != nil {
		return err
	}
	if !pong.OK {
		return fmt.Errorf("refused: %s", pong.Reason)
	}
	return nil
}
