package route

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/barge-dev/barge/buffer/event"
	"github.com/tinylib/msgp/msgp"
)

// RecordTransformerConfig is <filter> @type record_transformer, as Fluentd's
// filter_record_transformer without Ruby.
type RecordTransformerConfig struct {
	Type     string `conf:"@type"`
	ID       string `conf:"@id"`
	LogLevel string `conf:"@log_level"`
	// Record holds the fields to set: KEY VALUE, with placeholders in both.
	Record map[string]string `conf:"<record>,rest"`
	// RemoveKeys are record accessors ($.a.b removes b from the map a), as
	// Fluentd's; they apply after <record>.
	RemoveKeys []string `conf:"remove_keys"`
	// KeepKeys are top-level field names, as Fluentd's; only with
	// renew_record.
	KeepKeys     []string `conf:"keep_keys"`
	RenewRecord  bool     `conf:"renew_record"`
	EnableRuby   bool     `conf:"enable_ruby"`   // must stay false
	AutoTypecast bool     `conf:"auto_typecast"` // ${record["k"]} alone keeps the field's type
}

// DefaultRecordTransformerConfig returns Fluentd's defaults.
func DefaultRecordTransformerConfig() RecordTransformerConfig {
	return RecordTransformerConfig{Type: "record_transformer"}
}

// Validate checks the configuration without building the filter.
func (c *RecordTransformerConfig) Validate() error {
	_, err := c.compile()
	return err
}

type field struct {
	key    template
	static string // the key when it has no placeholder
	val    value
}

func (c *RecordTransformerConfig) compile() ([]field, error) {
	if c.EnableRuby {
		return nil, errors.New("'enable_ruby' is not supported")
	}
	if len(c.KeepKeys) > 0 && !c.RenewRecord {
		return nil, errors.New("'keep_keys' needs renew_record true")
	}
	for _, k := range c.KeepKeys {
		if strings.HasPrefix(k, "$.") || strings.HasPrefix(k, "$[") {
			return nil, fmt.Errorf("'keep_keys' %q: keep_keys takes top-level field names, as Fluentd's, not record accessors", k)
		}
	}
	for _, k := range c.RemoveKeys {
		if _, err := event.ParseAccessor(k); err != nil {
			return nil, fmt.Errorf("'remove_keys': %w", err)
		}
	}
	// Fluentd keeps the order of <record>; a map has none, so fields are
	// added in key order.
	keys := make([]string, 0, len(c.Record))
	for k := range c.Record {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fields := make([]field, 0, len(keys))
	for _, k := range keys {
		kt, err := parseTemplate(k)
		if err != nil {
			return nil, fmt.Errorf("'%s': %w", k, err)
		}
		v, err := parseValue(c.Record[k])
		if err != nil {
			return nil, fmt.Errorf("'%s': %w", k, err)
		}
		f := field{key: kt, val: v}
		if kt.static() {
			f.static = k
		}
		fields = append(fields, f)
	}
	return fields, nil
}

// RecordTransformer is filter_record_transformer: it sets, keeps and removes
// record fields. Fields it does not touch keep their bytes.
type RecordTransformer struct {
	fields   []field
	remove   map[string]bool  // remove_keys naming top-level fields
	nested   []event.Accessor // the other remove_keys, in their order
	keep     []string
	keepAcc  []event.Accessor
	renew    bool
	typecast bool
	hostname string
	loc      *time.Location
}

var _ Filter = (*RecordTransformer)(nil)

// NewRecordTransformer builds the filter; cfg is validated. hostname is what
// ${hostname} expands to.
func NewRecordTransformer(cfg RecordTransformerConfig, hostname string) (*RecordTransformer, error) {
	fields, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	t := &RecordTransformer{
		fields:   fields,
		remove:   make(map[string]bool, len(cfg.RemoveKeys)),
		keep:     slices.Clone(cfg.KeepKeys),
		renew:    cfg.RenewRecord,
		typecast: cfg.AutoTypecast,
		hostname: hostname,
		loc:      time.Local,
	}
	for _, k := range cfg.RemoveKeys {
		acc, _ := event.ParseAccessor(k) // checked by compile
		if name, ok := acc.Top(); ok {
			t.remove[name] = true
		} else {
			t.nested = append(t.nested, acc)
		}
	}
	for _, k := range t.keep {
		t.keepAcc = append(t.keepAcc, event.FieldAccessor(k))
	}
	return t, nil
}

// pair is a map entry being assembled: raw msgpack key and value.
type pair struct{ k, v []byte }

// Filter appends every entry, its record transformed, to dst.
func (t *RecordTransformer) Filter(tag string, entries []byte, dst []byte) ([]byte, error) {
	e := env{tag: tag, parts: strings.Split(tag, "."), hostname: t.hostname, loc: t.loc}
	var (
		vals    []byte   // encoded new values, then keys
		keys    []string // expanded new keys
		offs    []int    // value i is vals[offs[i]:offs[i+1]]
		used    []bool
		pairs   []pair
		body    []byte
		scratch []byte
		rec     []byte // the record, when nested keys are removed from it
		rec2    []byte
	)
	for len(entries) > 0 {
		ent, rest, err := event.Next(entries)
		if err != nil {
			return dst, err
		}
		entries = rest
		e.record, e.sec = ent.Record, ent.Sec

		vals, keys, offs = vals[:0], keys[:0], offs[:0]
		for i := range t.fields {
			f := &t.fields[i]
			k := f.static
			if k == "" && len(f.key) > 0 {
				scratch = f.key.appendText(scratch[:0], &e)
				k = string(scratch)
			}
			keys = append(keys, k)
			offs = append(offs, len(vals))
			vals = f.val.append(vals, &e, t.typecast, &scratch)
		}
		offs = append(offs, len(vals))
		used = used[:0]
		for range keys {
			used = append(used, false)
		}
		newVal := func(name []byte) (int, bool) {
			for i := len(keys) - 1; i >= 0; i-- { // the last one wins, as in a Hash
				if keys[i] == string(name) {
					return i, true
				}
			}
			return 0, false
		}
		lastOf := func(k string) int {
			for i := len(keys) - 1; i >= 0; i-- {
				if keys[i] == k {
					return i
				}
			}
			return -1
		}

		pairs = pairs[:0]
		if t.renew {
			for i, k := range t.keep {
				if v, ok := t.keepAcc[i].Lookup(ent.Record); ok {
					pairs = append(pairs, pair{k: msgp.AppendString(nil, k), v: v})
				}
			}
		} else {
			pairs, err = appendPairs(pairs, ent.Record)
			if err != nil {
				return dst, err
			}
		}
		body = body[:0]
		n := 0
		emit := func(k, v []byte) {
			body = append(append(body, k...), v...)
			n++
		}
		for _, p := range pairs {
			name, isStr, _, _ := readKey(p.k)
			if isStr && t.remove[string(name)] {
				continue
			}
			if isStr {
				if i, ok := newVal(name); ok {
					if !used[i] {
						emit(p.k, vals[offs[i]:offs[i+1]])
					}
					used[i] = true
					continue
				}
			}
			emit(p.k, p.v)
		}
		for i, k := range keys {
			if used[i] || t.remove[k] {
				continue
			}
			if lastOf(k) != i {
				continue // a later field with the same key wins
			}
			scratch = msgp.AppendString(scratch[:0], k)
			emit(scratch, vals[offs[i]:offs[i+1]])
		}
		dst = append(dst, 0x92)
		dst = append(dst, ent.RawTime...)
		if len(t.nested) == 0 {
			dst = msgp.AppendMapHeader(dst, uint32(n))
			dst = append(dst, body...)
			continue
		}
		rec = msgp.AppendMapHeader(rec[:0], uint32(n))
		rec = append(rec, body...)
		for _, acc := range t.nested {
			var removed bool
			if rec2, removed = acc.AppendDelete(rec2[:0], rec); removed {
				rec, rec2 = rec2, rec
			}
		}
		dst = append(dst, rec...)
	}
	return dst, nil
}

// readKey reads a map key. For str and bin keys it returns the bytes and
// true; other keys are skipped and returned as not strings.
func readKey(b []byte) (key []byte, isStr bool, rest []byte, err error) {
	switch msgp.NextType(b) {
	case msgp.StrType:
		key, rest, err = msgp.ReadStringZC(b)
		return key, err == nil, rest, err
	case msgp.BinType:
		key, rest, err = msgp.ReadBytesZC(b)
		return key, err == nil, rest, err
	default:
		rest, err = msgp.Skip(b)
		return nil, false, rest, err
	}
}

// appendPairs appends the raw key/value pairs of the msgpack map m.
func appendPairs(pairs []pair, m []byte) ([]pair, error) {
	n, b, err := msgp.ReadMapHeaderBytes(m)
	if err != nil {
		return pairs, fmt.Errorf("record: %w", err)
	}
	for range n {
		afterK, err := msgp.Skip(b)
		if err != nil {
			return pairs, fmt.Errorf("record key: %w", err)
		}
		afterV, err := msgp.Skip(afterK)
		if err != nil {
			return pairs, fmt.Errorf("record value: %w", err)
		}
		pairs = append(pairs, pair{k: b[:len(b)-len(afterK)], v: afterK[:len(afterK)-len(afterV)]})
		b = afterV
	}
	return pairs, nil
}
