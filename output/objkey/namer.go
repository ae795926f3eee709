package objkey

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/barge-dev/barge/buffer"
)

// ListFunc returns the names (object keys, file paths) that exist at an
// output's destination and start with prefix, in any order. One call is one
// listing (ListObjectsV2, a GCS list, a directory read), not a probe per
// name.
type ListFunc func(ctx context.Context, prefix string) ([]string, error)

// ErrTaken is wrapped by an output's error when a create-only write found
// another chunk's object at a key with %{index}: Namer.Taken chooses the
// next index.
var ErrTaken = errors.New("output: another chunk's object is at the key")

// Taken returns err, its message unchanged, wrapping ErrTaken as well.
func Taken(err error) error { return takenError{err} }

type takenError struct{ err error }

func (e takenError) Error() string   { return e.err.Error() }
func (e takenError) Unwrap() []error { return []error{e.err, ErrTaken} }

// MaxTaken bounds how many keys one Flush tries when create-only writes
// keep finding other chunks' objects (another writer on the same prefix).
// Past it the flush fails and is retried with the buffer's backoff, from
// the last key recorded.
const MaxTaken = 16

// Namer names chunks with a KeyFormat. Without %{index} a chunk's key
// derives from the chunk (KeyFormat.Key). With %{index}, the key is chosen
// at the chunk's first flush attempt: the smallest index whose key is
// neither at the destination (one listing of the key's prefix, the key up
// to %{index}) nor chosen by this Namer for a chunk not yet stored. It is
// recorded with the chunk (buffer.Chunk.SetName) before any upload, so
// every later attempt, after an error or a crash, writes the same key.
// Choices for one prefix are serialized, so two chunks flushing at once
// never get the same index; another writer (another process) is caught by
// the create-only write, and Taken moves the chunk to the next index.
//
// A Namer is safe for concurrent use.
type Namer struct {
	kf    *KeyFormat
	owner string

	mu       sync.Mutex
	prefixes map[string]*prefixLock // prefixes being chosen in, or with keys held
	held     map[string]heldKey     // keys chosen here, not yet known stored
}

type prefixLock struct {
	mu   sync.Mutex // held while listing and choosing, and by Done
	refs int        // under Namer.mu: lockers and held keys
}

type heldKey struct{ id, prefix string }

// NewNamer returns a Namer for the keys of kf written to dest (the
// output's kind and destination, such as "s3://BUCKET"), which with kf's
// formats names the Namer's records in the chunks: another output, or the
// same one with other formats, does not take them.
func NewNamer(kf *KeyFormat, dest string) *Namer {
	return &Namer{kf: kf, owner: dest + " " + kf.owner, prefixes: map[string]*prefixLock{}, held: map[string]heldKey{}}
}

// Owner is the name under which the Namer records keys in chunks; an
// output may record more about a key under Owner() and a suffix.
func (n *Namer) Owner() string { return n.owner }

// Indexed reports whether the key format has %{index}.
func (n *Namer) Indexed() bool { return n.kf.index }

// Recorded returns the key recorded for c, "" if none.
func (n *Namer) Recorded(c *buffer.Chunk) string {
	if !n.kf.index {
		return ""
	}
	return c.Name(n.owner)
}

// Key returns the key of chunk c, whose names v describes: the key
// recorded with c, else for a format with %{index} a new one chosen with
// list and recorded; without %{index}, KeyFormat.Key. An error comes from
// list or from recording the key.
func (n *Namer) Key(ctx context.Context, c *buffer.Chunk, v ChunkVars, list ListFunc) (string, error) {
	if !n.kf.index {
		return n.kf.Key(v), nil
	}
	if key := c.Name(n.owner); key != "" {
		n.hold(key, c.ID, n.prefix(v))
		return key, nil
	}
	return n.choose(ctx, c, v, list, "")
}

// Taken chooses and records a new key for c after a create-only write
// found another chunk's object at key.
func (n *Namer) Taken(ctx context.Context, c *buffer.Chunk, v ChunkVars, key string, list ListFunc) (string, error) {
	return n.choose(ctx, c, v, list, key)
}

// Done says that the object at key is stored: the key is no longer held.
func (n *Namer) Done(key string) {
	if !n.kf.index {
		return
	}
	n.mu.Lock()
	h, ok := n.held[key]
	n.mu.Unlock()
	if !ok {
		return
	}
	// Under the prefix's lock: a choice that listed before the object was
	// stored still sees the key held.
	p := n.lock(h.prefix)
	n.mu.Lock()
	if n.held[key] == h {
		delete(n.held, key)
		p.refs--
	}
	n.mu.Unlock()
	n.unlock(h.prefix, p)
}

func (n *Namer) choose(ctx context.Context, c *buffer.Chunk, v ChunkVars, list ListFunc, taken string) (string, error) {
	prefix := n.prefix(v)
	p := n.lock(prefix)
	defer n.unlock(prefix, p)
	names, err := list(ctx, prefix)
	if err != nil {
		return "", fmt.Errorf("list %q: %w", prefix, err)
	}
	m := n.matcher(v, prefix)
	used := make(map[int]bool, len(names))
	for _, name := range names {
		if i, ok := m.index(name); ok {
			used[i] = true
		}
	}
	var key string
	n.mu.Lock()
	for i := 0; ; i++ {
		if used[i] {
			continue
		}
		key = n.kf.KeyIndex(v, i)
		if _, held := n.held[key]; !held && key != taken {
			break
		}
	}
	n.mu.Unlock()
	if err := c.SetName(n.owner, key); err != nil {
		return "", err
	}
	n.mu.Lock()
	if h, ok := n.held[taken]; ok && h.id == c.ID {
		delete(n.held, taken)
		if hp := n.prefixes[h.prefix]; hp != nil {
			hp.refs-- // h.prefix is prefix: p, still locked here
		}
	}
	n.held[key] = heldKey{c.ID, prefix}
	p.refs++
	n.mu.Unlock()
	return key, nil
}

// hold marks key, recorded with chunk id, as held.
func (n *Namer) hold(key, id, prefix string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.held[key]; ok {
		return
	}
	p := n.prefixes[prefix]
	if p == nil {
		p = &prefixLock{}
		n.prefixes[prefix] = p
	}
	p.refs++
	n.held[key] = heldKey{id, prefix}
}

// lock takes prefix's lock; unlock releases it.
func (n *Namer) lock(prefix string) *prefixLock {
	n.mu.Lock()
	p := n.prefixes[prefix]
	if p == nil {
		p = &prefixLock{}
		n.prefixes[prefix] = p
	}
	p.refs++
	n.mu.Unlock()
	p.mu.Lock()
	return p
}

func (n *Namer) unlock(prefix string, p *prefixLock) {
	p.mu.Unlock()
	n.mu.Lock()
	if p.refs--; p.refs == 0 {
		delete(n.prefixes, prefix)
	}
	n.mu.Unlock()
}

// prefix is the key up to its first %{index}: the prefix listed.
func (n *Namer) prefix(v ChunkVars) string {
	k0, k1 := n.kf.KeyIndex(v, 0), n.kf.KeyIndex(v, 1)
	i := 0
	for i < len(k0) && i < len(k1) && k0[i] == k1[i] {
		i++
	}
	return k0[:i]
}

// indexMatcher finds the index of a listed name.
type indexMatcher struct {
	kf     *KeyFormat
	v      ChunkVars
	prefix string
	suffix string // what follows the index, when the key has one %{index}
	once   bool
}

func (n *Namer) matcher(v ChunkVars, prefix string) indexMatcher {
	k0 := n.kf.KeyIndex(v, 0)
	m := indexMatcher{kf: n.kf, v: v, prefix: prefix}
	if len(n.kf.KeyIndex(v, 10)) == len(k0)+1 { // one %{index}
		m.once, m.suffix = true, k0[len(prefix)+1:]
	}
	return m
}

// index returns i when name is the key with %{index} i.
func (m indexMatcher) index(name string) (int, bool) {
	if len(name) <= len(m.prefix) || name[:len(m.prefix)] != m.prefix {
		return 0, false
	}
	rest := name[len(m.prefix):]
	d := 0
	for d < len(rest) && d < 9 && rest[d] >= '0' && rest[d] <= '9' {
		d++
	}
	if d == 0 || (d > 1 && rest[0] == '0') {
		return 0, false
	}
	i, _ := strconv.Atoi(rest[:d])
	if m.once {
		return i, rest[d:] == m.suffix
	}
	return i, m.kf.KeyIndex(m.v, i) == name
}
