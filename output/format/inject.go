package format

import (
	"math"
	"strconv"
	"time"

	"github.com/barge-dev/barge/output/strftime"
)

// injector adds the <inject> fields to records. It is immutable and shared;
// per-call caches live in injectState.
type injector struct {
	cfg      InjectConfig
	loc      *time.Location
	timeFmt  *strftime.Layout
	hostname string
	// keys in injection order (hostname, tag, time: Fluentd's order), as
	// JSON strings with the colon ("key":) and as msgpack strs.
	fields []injField
}

type injKind uint8

const (
	injHostname injKind = iota
	injTag
	injTime
)

type injField struct {
	kind    injKind
	key     string
	jsonKey []byte // "key":
	msgpKey []byte
}

func newInjector(cfg InjectConfig, hostname string, local *time.Location) *injector {
	if !cfg.Enabled() {
		return nil
	}
	in := &injector{cfg: cfg, loc: cfg.Location(local), hostname: cfg.Hostname}
	if in.hostname == "" {
		in.hostname = hostname
	}
	if cfg.TimeType == "" {
		in.cfg.TimeType = "float"
	}
	if in.cfg.TimeType == "string" {
		f := cfg.TimeFormat
		if f == "" {
			f = DefaultTimeFormat
		}
		in.timeFmt = strftime.Compile(f)
	}
	add := func(kind injKind, key string) {
		if key == "" {
			return
		}
		jk := appendString(nil, []byte(key))
		in.fields = append(in.fields, injField{kind: kind, key: key, jsonKey: append(jk, ':'), msgpKey: appendStr(nil, key)})
	}
	add(injHostname, cfg.HostnameKey)
	add(injTag, cfg.TagKey)
	add(injTime, cfg.TimeKey)
	return in
}

// has reports whether key is one of the injected keys (which then replace
// the record's own field of that name, as in Fluentd).
func (in *injector) has(key []byte) bool {
	for i := range in.fields {
		if in.fields[i].key == string(key) {
			return true
		}
	}
	return false
}

// injectState caches per-Encode values: the current tag's JSON form and the
// formatted time of the last second.
type injectState struct {
	tag       string
	tagJSON   []byte
	timeCache strftime.Cache
}

func (st *injectState) setTag(tag string) {
	if tag == st.tag && st.tagJSON != nil {
		return
	}
	st.tag = tag
	st.tagJSON = appendString(st.tagJSON[:0], []byte(tag))
}

// appendTimeText appends the time as text (for string time_type: the
// formatted time; otherwise the number).
func (in *injector) appendTimeText(dst []byte, st *injectState, sec, nsec int64) []byte {
	switch in.cfg.TimeType {
	case "string":
		return in.timeFmt.AppendCached(dst, sec, nsec, in.loc, &st.timeCache)
	case "float":
		return appendFloat(dst, float64(sec)+float64(nsec)/1e9, 64)
	default:
		return strconv.AppendInt(dst, in.timeInt(sec, nsec), 10)
	}
}

// timeInt is the integer time of the unixtime* types.
func (in *injector) timeInt(sec, nsec int64) int64 {
	switch in.cfg.TimeType {
	case "unixtime_millis":
		return sec*1e3 + nsec/1e6
	case "unixtime_micros":
		return sec*1e6 + nsec/1e3
	case "unixtime_nanos":
		return sec*1e9 + nsec
	}
	return sec
}

// appendJSONMembers writes the injected members, separated by commas.
func (in *injector) appendJSONMembers(dst []byte, st *injectState, sec, nsec int64) []byte {
	for i := range in.fields {
		f := &in.fields[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, f.jsonKey...)
		switch f.kind {
		case injHostname:
			dst = appendString(dst, []byte(in.hostname))
		case injTag:
			dst = append(dst, st.tagJSON...)
		case injTime:
			if in.cfg.TimeType == "string" {
				start := len(dst)
				dst = in.appendTimeText(dst, st, sec, nsec)
				text := dst[start:]
				if needsEscape(text) {
					s := string(text)
					dst = appendString(dst[:start], []byte(s))
				} else {
					dst = append(dst, 0)
					copy(dst[start+1:], dst[start:])
					dst[start] = '"'
					dst = append(dst, '"')
				}
			} else {
				dst = in.appendTimeText(dst, st, sec, nsec)
			}
		}
	}
	return dst
}

// appendMsgpackMembers writes the injected members as msgpack key/value pairs.
func (in *injector) appendMsgpackMembers(dst []byte, st *injectState, sec, nsec int64) []byte {
	for i := range in.fields {
		f := &in.fields[i]
		dst = append(dst, f.msgpKey...)
		switch f.kind {
		case injHostname:
			dst = appendStr(dst, in.hostname)
		case injTag:
			dst = appendStr(dst, st.tag)
		case injTime:
			switch in.cfg.TimeType {
			case "string":
				var buf [64]byte
				dst = appendStr(dst, in.appendTimeText(buf[:0], st, sec, nsec))
			case "float":
				dst = appendMsgpFloat(dst, float64(sec)+float64(nsec)/1e9)
			default:
				dst = appendMsgpInt(dst, in.timeInt(sec, nsec))
			}
		}
	}
	return dst
}

// appendTextValue writes an injected field's value as plain text (ltsv,
// single_value).
func (in *injector) appendTextValue(dst []byte, f *injField, st *injectState, sec, nsec int64) []byte {
	switch f.kind {
	case injHostname:
		return append(dst, in.hostname...)
	case injTag:
		return append(dst, st.tag...)
	default:
		return in.appendTimeText(dst, st, sec, nsec)
	}
}

func needsEscape(s []byte) bool {
	for _, c := range s {
		if !jsonSafe[c] {
			return true
		}
	}
	return false
}

func appendMsgpFloat(dst []byte, f float64) []byte {
	var b [9]byte
	b[0] = 0xcb
	u := math.Float64bits(f)
	for i := 0; i < 8; i++ {
		b[8-i] = byte(u >> (8 * i))
	}
	return append(dst, b[:]...)
}

func appendMsgpInt(dst []byte, n int64) []byte {
	if n >= 0 && n < 128 {
		return append(dst, byte(n))
	}
	var b [9]byte
	b[0] = 0xd3
	for i := 0; i < 8; i++ {
		b[8-i] = byte(uint64(n) >> (8 * i))
	}
	return append(dst, b[:]...)
}
