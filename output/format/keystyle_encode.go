package format

import (
	"fmt"
	"slices"
	"sync"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/barge-dev/barge/output/bigquery/bqschema"
	"github.com/tinylib/msgp/msgp"
)

// bigQueryKeys rewrites record keys for key_style bigquery while a format
// writes them. Each map is read twice: once to check its keys, once to
// write. When every key of a map is already a valid name and no two fold to
// the same name (the common case), the keys are written as they are,
// without allocating; otherwise the map's names are resolved by
// resolveNames.
type bigQueryKeys struct {
	// inj is the format's injector with its keys rewritten (nil: nothing
	// injected); injNames are the rewritten injected keys, injKeys the
	// configured ones.
	inj      *injector
	injNames []string
	injKeys  []string
	rep      *collisionReporter
	cache    nameCache
}

// newBigQueryKeys rewrites the injected keys (which keep their names in
// every record) and returns the state of key_style bigquery.
func newBigQueryKeys(inj *injector, hook func(KeyCollision)) *bigQueryKeys {
	k := &bigQueryKeys{rep: &collisionReporter{hook: hook}}
	if inj == nil {
		return k
	}
	c := *inj
	c.fields = slices.Clone(inj.fields)
	for i := range c.fields {
		k.injKeys = append(k.injKeys, c.fields[i].key)
	}
	k.injNames = resolveNames(k.injKeys, nil, nil, k.rep)
	for i := range c.fields {
		n := k.injNames[i]
		c.fields[i].jsonKey = append(appendString(nil, []byte(n)), ':')
		c.fields[i].msgpKey = appendStr(nil, n)
	}
	k.inj = &c
	return k
}

// mapNames checks the n keys of the map body at b. With top set, keys that
// an injected field replaces are dropped (counted in dropped, their name
// left empty) and the others must not take an injected name. names is nil
// when every key is written as it is; otherwise it holds each key's name.
// end is the rest of b after the map.
func (k *bigQueryKeys) mapNames(ks *keyScratch, b []byte, n int, top bool) (names []string, dropped int, end []byte, err error) {
	var inj *injector
	if top {
		inj = k.inj
	}
	ks.hashes = ks.hashes[:0]
	slow := false
	p := b
	for i := 0; i < n; i++ {
		key, rest, kerr := readBytesValue(p)
		switch {
		case kerr != nil:
			slow = true
			if rest, err = msgp.Skip(p); err != nil {
				return nil, 0, b, fmt.Errorf("%w: %v", errMsgpack, err)
			}
		case inj != nil && inj.has(key):
			dropped++
		case slow:
		case !bqschema.IsName(key) || top && hasFold(k.injNames, key):
			slow = true
		default:
			ks.hashes = append(ks.hashes, foldHash(key))
		}
		if p, err = msgp.Skip(rest); err != nil {
			return nil, 0, b, fmt.Errorf("%w: %v", errMsgpack, err)
		}
	}
	if !slow && !hasDuplicate(ks.hashes) {
		return nil, dropped, p, nil
	}
	// Slow path. Records often repeat the same keys: look the map's keys
	// (their msgpack bytes, which delimit themselves) up in the cache.
	sig := append(ks.sig[:0], 0)
	if top {
		sig[0] = 1
	}
	q := b
	for i := 0; i < n && len(sig) <= maxCachedSig; i++ {
		rest, _ := msgp.Skip(q)
		sig = append(sig, q[:len(q)-len(rest)]...)
		q, _ = msgp.Skip(rest)
	}
	ks.sig = sig
	cacheable := len(sig) <= maxCachedSig
	if cacheable {
		if names = k.cache.get(sig); names != nil {
			return names, dropped, p, nil
		}
	}
	names, err = k.resolve(ks, b, n, inj, top)
	if err != nil {
		return nil, 0, b, err
	}
	if cacheable {
		k.cache.put(sig, names)
	}
	return names, dropped, p, nil
}

// resolve computes the names of a map's keys (see mapNames).
func (k *bigQueryKeys) resolve(ks *keyScratch, b []byte, n int, inj *injector, top bool) ([]string, error) {
	keys := ks.keys[:0]
	kept := make([]bool, n)
	q := b
	for i := 0; i < n; i++ {
		text, rest, kerr := keyText(q)
		if kerr != nil {
			return nil, kerr
		}
		raw, _, rerr := readBytesValue(q)
		if kept[i] = rerr != nil || inj == nil || !inj.has(raw); kept[i] {
			keys = append(keys, text)
		}
		q, _ = msgp.Skip(rest)
	}
	var fixed, fixedKeys []string
	if top {
		fixed, fixedKeys = k.injNames, k.injKeys
	}
	resolved := resolveNames(keys, fixed, fixedKeys, k.rep)
	clear(keys)
	ks.keys = keys[:0]
	names := make([]string, n)
	j := 0
	for i := range names {
		if kept[i] {
			names[i] = resolved[j]
			j++
		}
	}
	return names, nil
}

const (
	// maxCachedSig is the longest key signature the name cache keeps.
	maxCachedSig = 4 << 10
	// maxCachedMaps is how many key sets the cache holds before it starts
	// over.
	maxCachedMaps = 4096
)

// nameCache maps the keys of a map (as msgpack bytes) to their resolved
// names. The names slices are shared and never modified.
type nameCache struct {
	mu sync.RWMutex
	m  map[string][]string
}

func (c *nameCache) get(sig []byte) []string {
	c.mu.RLock()
	names := c.m[string(sig)]
	c.mu.RUnlock()
	return names
}

func (c *nameCache) put(sig []byte, names []string) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedMaps {
		c.m = make(map[string][]string)
	}
	c.m[string(sig)] = names
	c.mu.Unlock()
}

// appendJSONBQ is appendJSON with the keys of every map rewritten.
func (k *bigQueryKeys) appendJSONBQ(dst []byte, ks *keyScratch, b []byte, depth int) ([]byte, []byte, error) {
	if len(b) == 0 {
		return dst, b, errShort
	}
	switch c := b[0]; {
	case c >= 0x80 && c <= 0x8f:
		return k.appendJSONMapBQ(dst, ks, b[1:], int(c&0x0f), depth, false, false)
	case c >= 0x90 && c <= 0x9f:
		return k.appendJSONArrayBQ(dst, ks, b[1:], int(c&0x0f), depth)
	case c == 0xdc || c == 0xdd || c == 0xde || c == 0xdf:
		n, rest, err := readContainerLen(b)
		if err != nil {
			return dst, b, err
		}
		if c >= 0xde {
			return k.appendJSONMapBQ(dst, ks, rest, n, depth, false, false)
		}
		return k.appendJSONArrayBQ(dst, ks, rest, n, depth)
	}
	return appendJSON(dst, b, depth)
}

func (k *bigQueryKeys) appendJSONArrayBQ(dst []byte, ks *keyScratch, b []byte, n, depth int) ([]byte, []byte, error) {
	if depth >= event.MaxDepth {
		return dst, b, event.ErrTooDeep
	}
	dst = append(dst, '[')
	var err error
	for i := 0; i < n; i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, b, err = k.appendJSONBQ(dst, ks, b, depth+1); err != nil {
			return dst, b, err
		}
	}
	return append(dst, ']'), b, nil
}

// appendJSONMapBQ writes the n pairs at b as a JSON object. top is the
// record itself, where injected keys replace record keys; comma means
// members were written before (the injected ones).
func (k *bigQueryKeys) appendJSONMapBQ(dst []byte, ks *keyScratch, b []byte, n, depth int, top, comma bool) ([]byte, []byte, error) {
	if depth >= event.MaxDepth {
		return dst, b, event.ErrTooDeep
	}
	names, _, _, err := k.mapNames(ks, b, n, top)
	if err != nil {
		return dst, b, err
	}
	if !top {
		dst = append(dst, '{')
	}
	for i := 0; i < n; i++ {
		key, rest, kerr := readBytesValue(b)
		if kerr != nil {
			rest, _ = msgp.Skip(b)
		} else if top && k.inj != nil && k.inj.has(key) {
			if b, err = msgp.Skip(rest); err != nil {
				return dst, b, fmt.Errorf("%w: %v", errMsgpack, err)
			}
			continue
		}
		if comma {
			dst = append(dst, ',')
		}
		comma = true
		dst = append(dst, '"')
		if names == nil {
			dst = append(dst, key...)
		} else {
			dst = append(dst, names[i]...)
		}
		dst = append(dst, '"', ':')
		if dst, b, err = k.appendJSONBQ(dst, ks, rest, depth+1); err != nil {
			return dst, b, err
		}
	}
	if !top {
		dst = append(dst, '}')
	}
	return dst, b, nil
}

// appendJSONRecord writes a record (a map at b) as a JSON object, the
// injected members first.
func (k *bigQueryKeys) appendJSONRecord(dst []byte, st *encodeState, sec, nsec int64, b []byte) ([]byte, []byte, error) {
	n, b, err := readMapHeader(b)
	if err != nil {
		return dst, b, err
	}
	dst = append(dst, '{')
	if k.inj != nil {
		dst = k.inj.appendJSONMembers(dst, &st.inj, sec, nsec)
	}
	if dst, b, err = k.appendJSONMapBQ(dst, &st.keys, b, n, 0, true, k.inj != nil); err != nil {
		return dst, b, err
	}
	return append(dst, '}'), b, nil
}

// appendMsgpackBQ copies the msgpack value at b with the keys of every map
// rewritten.
func (k *bigQueryKeys) appendMsgpackBQ(dst []byte, ks *keyScratch, b []byte, depth int) ([]byte, []byte, error) {
	if len(b) == 0 {
		return dst, b, errShort
	}
	var n int
	var rest []byte
	var err error
	isMap := false
	switch c := b[0]; {
	case c >= 0x80 && c <= 0x8f:
		n, rest, isMap = int(c&0x0f), b[1:], true
	case c >= 0x90 && c <= 0x9f:
		n, rest = int(c&0x0f), b[1:]
	case c == 0xdc || c == 0xdd || c == 0xde || c == 0xdf:
		if n, rest, err = readContainerLen(b); err != nil {
			return dst, b, err
		}
		isMap = c >= 0xde
	default:
		rest, err := msgp.Skip(b)
		if err != nil {
			return dst, b, fmt.Errorf("%w: %v", errMsgpack, err)
		}
		return append(dst, b[:len(b)-len(rest)]...), rest, nil
	}
	if depth >= event.MaxDepth {
		return dst, b, event.ErrTooDeep
	}
	dst = append(dst, b[:len(b)-len(rest)]...) // the same header
	b = rest
	if !isMap {
		for i := 0; i < n; i++ {
			if dst, b, err = k.appendMsgpackBQ(dst, ks, b, depth+1); err != nil {
				return dst, b, err
			}
		}
		return dst, b, nil
	}
	return k.appendMsgpackPairs(dst, ks, b, n, depth, false)
}

// appendMsgpackPairs copies the n key/value pairs at b, keys renamed and
// values rewritten. top is the record itself: keys that an injected field
// replaces are left out.
func (k *bigQueryKeys) appendMsgpackPairs(dst []byte, ks *keyScratch, b []byte, n, depth int, top bool) ([]byte, []byte, error) {
	names, _, _, err := k.mapNames(ks, b, n, top)
	if err != nil {
		return dst, b, err
	}
	for i := 0; i < n; i++ {
		start := b
		key, rest, kerr := readBytesValue(b)
		if kerr != nil {
			rest, _ = msgp.Skip(b)
		} else if top && k.inj != nil && k.inj.has(key) {
			if b, err = msgp.Skip(rest); err != nil {
				return dst, b, fmt.Errorf("%w: %v", errMsgpack, err)
			}
			continue
		}
		b = rest
		if names == nil {
			dst = append(dst, start[:len(start)-len(b)]...)
		} else {
			dst = appendStr(dst, names[i])
		}
		if dst, b, err = k.appendMsgpackBQ(dst, ks, b, depth+1); err != nil {
			return dst, b, err
		}
	}
	return dst, b, nil
}

// appendMsgpackRecord writes a record as a msgpack map, the injected
// members first.
func (k *bigQueryKeys) appendMsgpackRecord(dst []byte, st *encodeState, sec, nsec int64, b []byte) ([]byte, []byte, error) {
	n, body, err := readMapHeader(b)
	if err != nil {
		return dst, b, err
	}
	nInj, dropped := 0, 0
	if k.inj != nil {
		nInj = len(k.inj.fields)
		p := body
		for i := 0; i < n; i++ {
			key, rest, kerr := readBytesValue(p)
			if kerr != nil {
				rest, err = msgp.Skip(p)
			} else if k.inj.has(key) {
				dropped++
			}
			if err == nil {
				p, err = msgp.Skip(rest)
			}
			if err != nil {
				return dst, b, fmt.Errorf("%w: %v", errMsgpack, err)
			}
		}
	}
	dst = appendMapHeader(dst, n-dropped+nInj)
	if k.inj != nil {
		dst = k.inj.appendMsgpackMembers(dst, &st.inj, sec, nsec)
	}
	return k.appendMsgpackPairs(dst, &st.keys, body, n, 0, true)
}

// appendTextBQ is appendText with the keys of maps rewritten.
func (k *bigQueryKeys) appendTextBQ(dst []byte, ks *keyScratch, b []byte) ([]byte, []byte, error) {
	if s, rest, err := readBytesValue(b); err == nil {
		return append(dst, s...), rest, nil
	}
	if len(b) > 0 && b[0] == 0xc0 {
		return dst, b[1:], nil
	}
	return k.appendJSONBQ(dst, ks, b, 1) // a value of the record: level 2
}

// appendRecordBQ is the ltsv record with key_style bigquery: labels are
// the rewritten keys, maps and arrays in values JSON with rewritten keys.
func (f *ltsvFormat) appendRecordBQ(dst []byte, st *encodeState, sec, nsec int64, b []byte) ([]byte, []byte, error) {
	k := f.bq
	n, b, err := readMapHeader(b)
	if err != nil {
		return dst, b, err
	}
	dst, wrote := f.appendInjected(dst, st, k.inj, k.injNames, sec, nsec)
	first := !wrote
	names, _, _, err := k.mapNames(&st.keys, b, n, true)
	if err != nil {
		return dst, b, err
	}
	for i := 0; i < n; i++ {
		key, rest, kerr := readBytesValue(b)
		if kerr != nil {
			rest, _ = msgp.Skip(b)
		} else if k.inj != nil && k.inj.has(key) {
			if b, err = msgp.Skip(rest); err != nil {
				return dst, b, fmt.Errorf("%w: %v", errMsgpack, err)
			}
			continue
		}
		if !first {
			dst = append(dst, f.delim...)
		}
		first = false
		if names != nil {
			key = []byte(names[i])
		}
		dst = appendReplaced(dst, key, f.label, f.repl)
		dst = append(dst, f.label...)
		if st.scratch, b, err = k.appendTextBQ(st.scratch[:0], &st.keys, rest); err != nil {
			return dst, b, err
		}
		dst = appendReplaced(dst, st.scratch, f.delim, f.repl)
	}
	if f.newline {
		dst = append(dst, '\n')
	}
	return dst, b, nil
}
