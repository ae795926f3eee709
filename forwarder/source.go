package forwarder

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

// addSource re-encodes entries (records of them) with source_address_key
// and source_hostname_key set in every record (replacing keys of the same
// name), into a buffer charged to memory_limit. This is the only path that
// decodes records, and only when configured.
func (c *conn) addSource(entries []byte, records int) ([]byte, error) {
	cfg := &c.s.cfg
	var kv [2][2]string
	n := 0
	if cfg.SourceAddressKey != "" {
		host, _, _ := net.SplitHostPort(c.peer)
		kv[n] = [2]string{cfg.SourceAddressKey, host}
		n++
	}
	if cfg.SourceHostnameKey != "" {
		kv[n] = [2]string{cfg.SourceHostnameKey, c.peerName()}
		n++
	}
	add := kv[:n]
	// each record grows by the pairs and at most 4 bytes of map header
	need := len(entries) + records*4
	for _, p := range add {
		need += records * (msgp.StringPrefixSize*2 + len(p[0]) + len(p[1]))
	}
	if cap(c.src) < need {
		b, err := c.mem.Get(need)
		if err != nil {
			return nil, err
		}
		if c.src != nil {
			c.mem.Put(c.src)
		}
		c.src = b
	}
	out := c.src[:0]
	for len(entries) > 0 {
		e, rest, err := event.Next(entries)
		if err != nil {
			return nil, err
		}
		entries = rest
		cnt, body, err := msgp.ReadMapHeaderBytes(e.Record)
		if err != nil {
			return nil, err
		}
		// copy the pairs whose key is not replaced
		kept := uint32(0)
		out = append(out, 0x92)
		out = append(out, e.RawTime...)
		hdr := len(out)
		out = append(out, 0xdf, 0, 0, 0, 0) // map32 header, patched below
		for i := uint32(0); i < cnt; i++ {
			k, after, err := msgp.ReadStringZC(body)
			if err != nil {
				k, after, err = msgp.ReadBytesZC(body)
			}
			vlen, serr := event.Skip(after)
			if serr != nil {
				return nil, fmt.Errorf("record: %w", serr)
			}
			pair := body[:len(body)-len(after)+vlen]
			body = after[vlen:]
			if err == nil && replaced(add, k) {
				continue
			}
			out = append(out, pair...)
			kept++
		}
		for _, p := range add {
			out = msgp.AppendString(out, p[0])
			out = msgp.AppendString(out, p[1])
		}
		total := kept + uint32(len(add))
		out[hdr+1], out[hdr+2], out[hdr+3], out[hdr+4] = byte(total>>24), byte(total>>16), byte(total>>8), byte(total)
	}
	c.src = out
	return out, nil
}

func replaced(add [][2]string, k []byte) bool {
	for _, p := range add {
		if p[0] == string(k) {
			return true
		}
	}
	return false
}

// peerName resolves the peer's host name once per connection (when
// resolve_hostname or source_hostname_key is set), falling back to its address.
func (c *conn) peerName() string {
	if c.hostname != "" {
		return c.hostname
	}
	host, _, _ := net.SplitHostPort(c.peer)
	c.hostname = host
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if names, err := net.DefaultResolver.LookupAddr(ctx, host); err == nil && len(names) > 0 {
		n := names[0]
		if len(n) > 1 && n[len(n)-1] == '.' {
			n = n[:len(n)-1]
		}
		c.hostname = n
	}
	return c.hostname
}
