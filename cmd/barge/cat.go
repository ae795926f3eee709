package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/barge-dev/barge/buffer/event"
)

// catBatch is how many records `barge cat` sends per acked message.
const catBatch = 1000

// cmdCat is `barge cat [-p PORT] [-h HOST] TAG`: like fluent-cat, it reads
// one JSON object per line from stdin and sends them in Forward mode,
// waiting for an ack of every message. It exits 1 if a record was not acked
// or a line was not a JSON object.
func cmdCat(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("p", 24224, "port")
	host := fs.String("h", "127.0.0.1", "host")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for each ack")
	if helpFlag(args, "cat", fs, stdout) {
		return 0
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: barge cat [-p PORT] [-h HOST] [--timeout 30s] TAG  < json-lines")
		return 2
	}
	tag := fs.Arg(0)
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)), *timeout)
	if err != nil {
		fmt.Fprintln(stderr, "barge cat:", err)
		return 1
	}
	defer conn.Close()
	s := catSender{conn: conn, r: msgp.NewReader(conn), tag: tag, timeout: *timeout}

	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	bad, line := 0, 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		rec, err := jsonToMsgpack(text)
		if err != nil {
			fmt.Fprintf(stderr, "barge cat: stdin:%d: %v\n", line, err)
			bad++
			continue
		}
		if err := s.add(rec); err != nil {
			fmt.Fprintln(stderr, "barge cat:", err)
			return 1
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(stderr, "barge cat: read stdin:", err)
		return 1
	}
	if err := s.flush(); err != nil {
		fmt.Fprintln(stderr, "barge cat:", err)
		return 1
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "barge cat: %d lines were not sent\n", bad)
		return 1
	}
	return 0
}

// catSender batches records into acked Forward-mode messages.
type catSender struct {
	conn    net.Conn
	r       *msgp.Reader
	tag     string
	timeout time.Duration
	entries []byte
	n       int
	sent    int
}

func (s *catSender) add(rec []byte) error {
	now := time.Now()
	s.entries = event.AppendEntry(s.entries, event.AppendEventTime(nil, now.Unix(), int64(now.Nanosecond())), rec)
	s.n++
	if s.n >= catBatch || len(s.entries) >= 1<<20 {
		return s.flush()
	}
	return nil
}

func (s *catSender) flush() error {
	if s.n == 0 {
		return nil
	}
	id := make([]byte, 16)
	rand.Read(id)
	chunk := base64.StdEncoding.EncodeToString(id)
	msg := msgp.AppendArrayHeader(nil, 3)
	msg = msgp.AppendString(msg, s.tag)
	msg = msgp.AppendArrayHeader(msg, uint32(s.n))
	msg = append(msg, s.entries...)
	msg = msgp.AppendMapHeader(msg, 1)
	msg = msgp.AppendString(msg, "chunk")
	msg = msgp.AppendString(msg, chunk)
	s.conn.SetDeadline(time.Now().Add(s.timeout))
	if _, err := s.conn.Write(msg); err != nil {
		return fmt.Errorf("send %d records (%d acked before): %w", s.n, s.sent, err)
	}
	if err := s.waitAck(chunk); err != nil {
		return fmt.Errorf("%d records not acked (%d acked before): %w", s.n, s.sent, err)
	}
	s.sent += s.n
	s.entries, s.n = s.entries[:0], 0
	return nil
}

func (s *catSender) waitAck(chunk string) error {
	n, err := s.r.ReadMapHeader()
	if err != nil {
		return err
	}
	for range n {
		k, err := s.r.ReadString()
		if err != nil {
			return err
		}
		if k != "ack" {
			if err := s.r.Skip(); err != nil {
				return err
			}
			continue
		}
		v, err := s.r.ReadString()
		if err != nil {
			return err
		}
		if v != chunk {
			return fmt.Errorf("ack for %q, want %q", v, chunk)
		}
		return nil
	}
	return errors.New("reply without ack")
}

// jsonToMsgpack converts one JSON object to a msgpack map, keeping integers
// as integers.
func jsonToMsgpack(text []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(text))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if d.More() {
		return nil, errors.New("more than one JSON value on the line")
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, errors.New("not a JSON object")
	}
	return appendJSONValue(nil, v), nil
}

func appendJSONValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case map[string]any:
		b = msgp.AppendMapHeader(b, uint32(len(v)))
		for k, x := range v {
			b = msgp.AppendString(b, k)
			b = appendJSONValue(b, x)
		}
		return b
	case []any:
		b = msgp.AppendArrayHeader(b, uint32(len(v)))
		for _, x := range v {
			b = appendJSONValue(b, x)
		}
		return b
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return msgp.AppendInt64(b, i)
		}
		f, _ := v.Float64()
		return msgp.AppendFloat64(b, f)
	case string:
		return msgp.AppendString(b, v)
	case bool:
		return msgp.AppendBool(b, v)
	default:
		return msgp.AppendNil(b)
	}
}
