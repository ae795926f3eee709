package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/conf"
)

// Fluentd's compat_parameters helper (lib/fluent/plugin_helper/
// compat_parameters.rb) turns the flat parameters of v0.12 plugins into
// the v1 sections, per plugin: in_tail converts its parser parameters,
// out_file, out_s3 and out_gcs their buffer, formatter and inject ones,
// out_forward its buffer ones, out_stdout its formatter and inject ones.
// A group is converted only when its section is absent; when it is
// present Fluentd ignores the group's flat parameters ("not used").
// compatParams does the same for barge's @types, and says so for each
// parameter.

// compatRule is a plugin's compat_parameters_convert call.
type compatRule struct {
	buffer    bool
	chunkKey  string // default_chunk_key
	formatter bool
	inject    bool
	parser    bool
	// legacy are v0.12 parameters the plugin no longer reads: Fluentd
	// accepts and ignores them.
	legacy []string
}

func compatRuleOf(directive, typ string) (compatRule, bool) {
	switch directive + " " + typ {
	case "source tail":
		return compatRule{parser: true}, true
	case "match file":
		return compatRule{buffer: true, chunkKey: "time", formatter: true, inject: true, legacy: []string{"format_json", "retry_wait"}}, true
	case "match s3":
		return compatRule{buffer: true, formatter: true, inject: true, legacy: []string{"format_json", "use_ssl", "retry_wait"}}, true
	case "match gcs":
		return compatRule{buffer: true, formatter: true, inject: true, legacy: []string{"format_json", "retry_wait"}}, true
	case "match forward":
		return compatRule{buffer: true, chunkKey: "tag", legacy: []string{"retry_wait"}}, true
	case "match stdout":
		return compatRule{formatter: true, inject: true, legacy: []string{"format_json"}}, true
	}
	return compatRule{}, false
}

// compatParams rewrites sec, a <source> or <match> (directive) of @type
// typ, in place as Fluentd's compat_parameters helper does: it moves
// v0.12 flat parameters into <buffer>, <format>, <inject>, <parse>
// (creating the section when absent) and returns one warning per
// parameter mapped, naming its modern form. As in Fluentd, a group's
// flat parameters are not merged into a section the directive already
// has: they are removed with a warning, the section wins. Parameters
// Fluentd accepts and ignores are removed with a warning too. A moved
// parameter keeps its File and Line; a created section takes those of
// the first parameter moved into it. A parameter whose modern form barge
// does not have, or that Fluentd refuses, stays where it is, for the
// decoder to report at its line.
func compatParams(sec *conf.Section, directive, typ string) []warning {
	rule, ok := compatRuleOf(directive, typ)
	if !ok {
		return nil
	}
	c := newCompat(sec, typ)
	c.run(rule)
	notes := c.finish()
	if directive == "match" {
		for _, child := range sec.Children("secondary") {
			if child.Type() != "file" {
				continue
			}
			// A <secondary> file output converts its formatter and inject
			// parameters as out_file does; it has no buffer of its own.
			sc := newCompat(child, "file")
			sc.run(compatRule{formatter: true, inject: true, legacy: []string{"format_json"}})
			notes = append(notes, sc.finish()...)
		}
	}
	return notes
}

// compat is one directive being rewritten.
type compat struct {
	sec *conf.Section
	typ string
	// to lists the modern forms a flat key became; why says why a key is
	// ignored; keep marks keys left in place.
	to   map[string][]string
	why  map[string]string
	keep map[string]bool
	// notes are other warnings, each at a parameter of sec.
	notes map[*conf.Param][]string
	made  []*conf.Section
}

func newCompat(sec *conf.Section, typ string) *compat {
	return &compat{sec: sec, typ: typ, to: map[string][]string{}, why: map[string]string{}, keep: map[string]bool{}, notes: map[*conf.Param][]string{}}
}

func (c *compat) run(rule compatRule) {
	c.zones(rule)
	for _, k := range rule.legacy {
		if c.param(k) != nil {
			c.why[k] = legacyWhy(k)
		}
	}
	if rule.parser {
		c.parser()
	}
	if rule.formatter {
		c.formatter()
	}
	if rule.inject {
		c.inject()
	}
	if rule.buffer {
		c.buffer(rule.chunkKey)
	}
}

func legacyWhy(key string) string {
	switch key {
	case "format_json":
		return "a removed v0.12 parameter; for JSON lines use <format> @type json"
	case "use_ssl":
		return "a removed v0.12 parameter; the scheme of s3_endpoint decides"
	case "retry_wait":
		return "compat_parameters does not carry it into <buffer>: set retry_wait in <buffer>"
	}
	return "a removed v0.12 parameter"
}

// param returns the last parameter named key (the one in effect), nil
// when absent or kept in place.
func (c *compat) param(key string) *conf.Param {
	if c.keep[key] {
		return nil
	}
	for i := len(c.sec.Params) - 1; i >= 0; i-- {
		if c.sec.Params[i].Key == key {
			return c.sec.Params[i]
		}
	}
	return nil
}

// effective returns sec's parameters in effect whose keys are in keys, in
// config order.
func (c *compat) effective(keys []string) []*conf.Param {
	var out []*conf.Param
	for _, p := range c.sec.Params {
		if slices.Contains(keys, p.Key) && c.param(p.Key) == p {
			out = append(out, p)
		}
	}
	return out
}

func (c *compat) use(key, form string) { c.to[key] = append(c.to[key], form) }

// compatPut adds key value, at from's position, to s; s takes the position of
// its first parameter.
func compatPut(s *conf.Section, key, value string, from *conf.Param) {
	np := *from
	np.Key, np.Value = key, value
	if len(s.Params) == 0 {
		s.File, s.Line = from.File, from.Line
	}
	s.Params = append(s.Params, &np)
}

// ignoreAll marks the given keys as ignored because sec already has the
// section ex.
func (c *compat) ignoreAll(keys []string, ex *conf.Section, what string) {
	for _, p := range c.effective(keys) {
		c.why[p.Key] = fmt.Sprintf("this <%s> has a <%s> (line %d), and Fluentd then ignores the v0.12 %s parameters: set %s in <%s>", c.sec.Name, ex.Name, ex.Line, what, modernName(p.Key), ex.Name)
	}
}

// modernName names the v1 parameter of a v0.12 one, for messages.
func modernName(key string) string {
	switch key {
	case "format":
		return "@type"
	case "include_time_key", "time_as_epoch":
		return "time_key and time_type"
	case "include_tag_key":
		return "tag_key"
	case "types_delimiter", "types_label_delimiter":
		return "types"
	}
	if t, ok := bufferTarget(key); ok && t != "" {
		return t
	}
	return key
}

// boolValue is a v0.12 boolean as Fluentd's bool_value reads it: anything but
// true, yes or "" is false.
func boolValue(p *conf.Param) bool {
	b, err := conf.ParseBool(p.Value)
	return err == nil && b
}

// zones keeps localtime, utc and timezone where Fluentd refuses them
// (both utc and localtime) or barge cannot follow them (the stdout line's
// time in another zone than local).
func (c *compat) zones(rule compatRule) {
	lt, utc := c.param("localtime"), c.param("utc")
	if lt != nil && utc != nil && (rule.parser || rule.inject || rule.buffer) {
		c.keep["localtime"], c.keep["utc"] = true, true
		at := lt
		if utc.Line > lt.Line {
			at = utc
		}
		c.notes[at] = append(c.notes[at], "both 'utc' and 'localtime' are given: Fluentd refuses this, keep one of them")
		return
	}
	if c.typ != "stdout" || c.sec.Children("format") != nil {
		return
	}
	if f := c.param("format"); f != nil && f.Value != "stdout" {
		return
	}
	// The stdout line prints times in local time only.
	if utc != nil && boolValue(utc) {
		c.keep["utc"] = true
	}
	if lt != nil && !boolValue(lt) {
		c.keep["localtime"] = true
	}
	if c.param("timezone") != nil {
		c.keep["timezone"] = true
	}
}

// finish removes the keys mapped or ignored from sec, adds the sections
// made and returns the warnings in config order.
func (c *compat) finish() []warning {
	var notes []warning
	var kept []*conf.Param
	for _, p := range c.sec.Params {
		for _, msg := range c.notes[p] {
			notes = append(notes, warnAt(p, "%s", msg))
		}
		forms, why := c.to[p.Key], c.why[p.Key]
		if c.keep[p.Key] || (len(forms) == 0 && why == "") {
			kept = append(kept, p)
			continue
		}
		if c.param(p.Key) != p {
			continue // an earlier repetition: one warning, at the one in effect
		}
		if len(forms) > 0 {
			notes = append(notes, warnAt(p, "'%s' is a Fluentd v0.12 parameter: use %s", p.Key, strings.Join(forms, " and ")))
		} else {
			notes = append(notes, warnAt(p, "'%s' is ignored, as Fluentd ignores it: %s", p.Key, why))
		}
	}
	c.sec.Params = kept
	for _, s := range c.made {
		if len(s.Params) > 0 {
			c.sec.Sections = append(c.sec.Sections, s)
		}
	}
	return notes
}

// parser is compat_parameters_parser, and in_tail's copy of format1 ...
// format20 into <parse> (where, as in Fluentd, they win over the
// section's own).
func (c *compat) parser() {
	keys := []string{"format", "types", "types_delimiter", "types_label_delimiter", "keys", "time_key", "time_format",
		"localtime", "utc", "delimiter", "keep_time_key", "null_empty_string", "null_value_pattern", "json_parser",
		"label_delimiter", "format_firstline", "message_key", "with_priority"}
	s := c.sec.Children("parse")
	if s != nil {
		c.ignoreAll(keys, s[0], "parser")
	} else if given := c.effective(keys); len(given) > 0 {
		ps := &conf.Section{Name: "parse"}
		c.made = append(c.made, ps)
		for _, p := range given {
			c.parserParam(ps, p)
		}
		s = []*conf.Section{ps}
	}
	if s == nil {
		return // in_tail refuses a source without <parse>; so will the decoder
	}
	for n := 1; n <= 20; n++ {
		key := "format" + strconv.Itoa(n)
		if p := c.param(key); p != nil {
			compatPut(s[0], key, p.Value, p)
			c.use(key, "<parse> "+key)
		}
	}
}

func (c *compat) parserParam(ps *conf.Section, p *conf.Param) {
	switch k, v := p.Key, p.Value; k {
	case "format":
		if len(v) >= 2 && strings.HasPrefix(v, "/") && strings.HasSuffix(v, "/") {
			compatPut(ps, "@type", "regexp", p)
			compatPut(ps, "expression", v[1:len(v)-1], p)
			c.use(k, "<parse> @type regexp with expression")
			return
		}
		compatPut(ps, "@type", v, p)
		c.use(k, "<parse> @type "+v)
	case "types":
		compatPut(ps, "types", c.types(v), p)
		c.use(k, "<parse> types")
	case "types_delimiter", "types_label_delimiter":
		if c.param("types") != nil {
			c.use(k, "<parse> types as JSON")
		} else {
			c.why[k] = "it only splits 'types'"
		}
	case "localtime", "utc":
		c.putLocaltime(ps, "<parse>", p)
	default:
		compatPut(ps, k, v, p)
		c.use(k, "<parse> "+k)
	}
}

// types converts v0.12 types ("a:integer,b:string", split by
// types_delimiter and types_label_delimiter) into the hash <parse> takes.
func (c *compat) types(v string) string {
	delim, label := ",", ":"
	if p := c.param("types_delimiter"); p != nil {
		delim = p.Value
	}
	if p := c.param("types_label_delimiter"); p != nil {
		label = p.Value
	}
	if delim == "," && label == ":" {
		return v // the hash syntax already
	}
	h := map[string]string{}
	for _, pair := range strings.Split(v, delim) {
		k, t, _ := strings.Cut(pair, label)
		h[k] = t
	}
	b, err := json.Marshal(h)
	if err != nil {
		return v
	}
	return string(b)
}

// formatter is compat_parameters_formatter, onto the <format> barge has:
// its localtime, utc and timezone only concern Fluentd's out_file and
// stdout lines (see zones); force_quotes, keys, fields, json_parser and
// output_type have no place in barge's <format> and stay, for the decoder
// to refuse.
func (c *compat) formatter() {
	moved := []string{"format", "delimiter", "label_delimiter", "message_key", "add_newline", "output_time", "output_tag"}
	others := []string{"force_quotes", "keys", "fields", "json_parser", "output_type"}
	if ex := c.sec.Children("format"); ex != nil {
		c.ignoreAll(append(moved, others...), ex[0], "formatter")
		return
	}
	if p := c.param("output_type"); p != nil && c.typ == "stdout" && p.Value == "json" {
		c.why["output_type"] = "json is what the stdout line writes"
	}
	given := c.effective(moved)
	if len(given) == 0 {
		return
	}
	fs := &conf.Section{Name: "format"}
	c.made = append(c.made, fs)
	for _, p := range given {
		k := p.Key
		if k == "format" {
			k = "@type"
		}
		compatPut(fs, k, p.Value, p)
		if k == "@type" {
			k += " " + p.Value
		}
		c.use(p.Key, "<format> "+k)
	}
}

// inject is compat_parameters_inject. As in Fluentd, time_key and tag_key
// inject even without include_time_key and include_tag_key; time_format,
// which only a string time uses, is dropped otherwise (barge would refuse
// it where Fluentd ignores it).
func (c *compat) inject() {
	keys := []string{"include_time_key", "time_key", "time_format", "timezone", "include_tag_key", "tag_key", "localtime", "utc"}
	if ex := c.sec.Children("inject"); ex != nil {
		c.ignoreAll(append(keys, "time_as_epoch"), ex[0], "inject")
		return
	}
	given := c.effective(keys)
	if len(given) == 0 {
		if c.param("time_as_epoch") != nil {
			c.why["time_as_epoch"] = "Fluentd reads it only beside include_time_key or time_key"
		}
		return
	}
	is := &conf.Section{Name: "inject"}
	c.made = append(c.made, is)
	timeType := ""
	timeKey := c.param("time_key") != nil
	var timeFormat *conf.Param
	for _, p := range c.effective(append(keys, "time_as_epoch")) {
		switch k := p.Key; k {
		case "time_key", "timezone", "tag_key":
			compatPut(is, k, p.Value, p)
			c.use(k, "<inject> "+k)
		case "time_format":
			timeFormat = p
		case "localtime", "utc":
			c.putLocaltime(is, "<inject>", p)
		case "include_time_key", "time_as_epoch":
			if !boolValue(p) {
				c.why[k] = k + " false injects nothing"
				continue
			}
			form := "<inject> "
			if !timeKey {
				compatPut(is, "time_key", "time", p)
				timeKey = true
				form += "time_key time, "
			}
			tt := "string"
			if k == "time_as_epoch" {
				tt = "unixtime"
			}
			if timeType == "" || k == "time_as_epoch" {
				timeType = tt
			}
			c.use(k, form+"time_type "+tt)
		case "include_tag_key":
			if !boolValue(p) {
				c.why[k] = "include_tag_key false injects nothing"
				continue
			}
			if c.param("tag_key") == nil {
				compatPut(is, "tag_key", "tag", p)
				c.use(k, "<inject> tag_key tag")
			} else {
				c.use(k, "<inject> tag_key")
			}
		}
	}
	if timeType != "" {
		at := c.param("include_time_key")
		if timeType == "unixtime" {
			at = c.param("time_as_epoch")
		}
		compatPut(is, "time_type", timeType, at)
	}
	if timeFormat != nil {
		if timeType == "string" {
			compatPut(is, "time_format", timeFormat.Value, timeFormat)
			c.use("time_format", "<inject> time_format")
		} else {
			c.why["time_format"] = "without include_time_key Fluentd's <inject> writes no time string (use <inject> time_type string)"
		}
	}
}

// bufferTarget is BUFFER_PARAMS and BUFFER_TIME_SLICED_PARAMS: the <buffer>
// parameter a v0.12 one becomes ("" for time_slice_format, which becomes
// the time chunk key and a timekey).
func bufferTarget(key string) (string, bool) {
	switch key {
	case "buffer_type":
		return "@type", true
	case "buffer_path":
		return "path", true
	case "num_threads":
		return "flush_thread_count", true
	case "flush_interval", "flush_at_shutdown":
		return key, true
	case "try_flush_interval":
		return "flush_thread_interval", true
	case "queued_chunk_flush_interval":
		return "flush_thread_burst_interval", true
	case "disable_retry_limit":
		return "retry_forever", true
	case "retry_limit":
		return "retry_max_times", true
	case "max_retry_wait":
		return "retry_max_interval", true
	case "buffer_chunk_limit":
		return "chunk_limit_size", true
	case "buffer_queue_limit":
		// Fluentd's queue_limit_length, which sets total_limit_size to
		// chunk_limit_size times it.
		return "total_limit_size", true
	case "buffer_queue_full_action":
		return "overflow_action", true
	case "time_slice_wait":
		return "timekey_wait", true
	case "timezone":
		return "timekey_zone", true
	case "time_slice_format":
		return "", true
	}
	return "", false
}

var v012BufferKeys = []string{"buffer_type", "buffer_path", "num_threads", "flush_interval", "try_flush_interval",
	"queued_chunk_flush_interval", "disable_retry_limit", "retry_limit", "max_retry_wait", "buffer_chunk_limit",
	"buffer_queue_limit", "buffer_queue_full_action", "flush_at_shutdown", "time_slice_format", "time_slice_wait", "timezone"}

// buffer is compat_parameters_buffer with the plugin's default chunk key.
// The file, s3 and gcs outputs keep time_slice_format as their own
// parameter (the format of %{time_slice}), as Fluentd's do.
func (c *compat) buffer(chunkKey string) {
	ownSlice := c.typ == "file" || c.typ == "s3" || c.typ == "gcs"
	keys := v012BufferKeys
	if ownSlice {
		keys = slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == "time_slice_format" })
	}
	if ex := c.sec.Children("buffer"); ex != nil {
		c.ignoreAll(keys, ex[0], "buffer")
		return
	}
	given := c.effective(v012BufferKeys)
	if len(given) == 0 {
		return
	}
	bs := &conf.Section{Name: "buffer"}
	c.made = append(c.made, bs)
	var slice *conf.Param
	for _, p := range given {
		target, _ := bufferTarget(p.Key)
		switch v := p.Value; p.Key {
		case "time_slice_format":
			slice = p
		case "buffer_queue_full_action":
			if v == "exception" {
				v = "throw_exception"
			}
			compatPut(bs, target, v, p)
			c.use(p.Key, "<buffer> "+target+" "+v)
		case "buffer_queue_limit":
			total, ok := c.totalLimit(p)
			if !ok {
				c.keep[p.Key] = true // Fluentd refuses it too; the decoder reports it
				continue
			}
			compatPut(bs, target, total, p)
			c.use(p.Key, "<buffer> "+target+" "+total+" (chunk_limit_size × "+strings.TrimSpace(v)+")")
		default:
			compatPut(bs, target, v, p)
			c.use(p.Key, "<buffer> "+target)
		}
	}
	timekey := ""
	if slice != nil {
		timekey = sliceTimekey(slice.Value)
		if timekey == "" {
			c.notes[slice] = append(c.notes[slice], fmt.Sprintf("'time_slice_format' %q has no %%d, %%H, %%M or %%S: Fluentd refuses a time slice that long, so it gives no time chunk key", slice.Value))
			slice = nil
		}
	}
	if len(bs.Params) == 0 && slice == nil {
		return // nothing was taken
	}
	arg := chunkKey
	switch {
	case slice != nil:
		arg = "time"
		form := "<buffer time> timekey " + timekey
		if ownSlice {
			c.notes[slice] = append(c.notes[slice], fmt.Sprintf("'time_slice_format' without a <buffer> slices time as Fluentd v0.12 did: taken as %s (it still formats %%{time_slice}); write that <buffer>", form))
		} else {
			c.use(slice.Key, form)
		}
		compatPut(bs, "timekey", timekey, slice)
		c.timekeyUTC(bs)
	case arg == "time":
		// out_file's default chunk key: TimeSlicedOutput's %Y%m%d.
		compatPut(bs, "timekey", "1d", bs.Params[0])
	}
	bs.Arg = arg
}

// timekeyUTC maps localtime or utc to timekey_use_utc (only with
// time_slice_format, as in Fluentd).
func (c *compat) timekeyUTC(bs *conf.Section) {
	if p := c.param("localtime"); p != nil {
		v := strconv.FormatBool(!boolValue(p))
		compatPut(bs, "timekey_use_utc", v, p)
		c.use(p.Key, "<buffer> timekey_use_utc "+v)
	}
	if p := c.param("utc"); p != nil {
		v := strconv.FormatBool(boolValue(p))
		compatPut(bs, "timekey_use_utc", v, p)
		c.use(p.Key, "<buffer> timekey_use_utc "+v)
	}
}

// sliceTimekey is the timekey of a time_slice_format: its finest
// conversion (%S, %M, %H, %d); "" when it has none.
func sliceTimekey(format string) string {
	switch {
	case strings.Contains(format, "%S"):
		return "1s"
	case strings.Contains(format, "%M"):
		return "1m"
	case strings.Contains(format, "%H"):
		return "1h"
	case strings.Contains(format, "%d"):
		return "1d"
	}
	return ""
}

// totalLimit is what Fluentd's queue_limit_length gives total_limit_size:
// chunk_limit_size (buffer_chunk_limit, else the buffer type's default)
// times the queue length; false when either does not parse.
func (c *compat) totalLimit(p *conf.Param) (string, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(p.Value), 10, 64)
	if err != nil || n < 1 {
		return "", false
	}
	typ := c.bufferType()
	size := buffer.DefaultConfig(typ).ChunkLimitSize
	if cp := c.param("buffer_chunk_limit"); cp != nil {
		if size, err = conf.ParseSize(cp.Value); err != nil {
			return "", false
		}
	}
	if size > 0 && n > (1<<62)/size {
		return "", false
	}
	return compatSize(size * n), true
}

// bufferType is the buffer_type given, else the output's default buffer.
func (c *compat) bufferType() string {
	if p := c.param("buffer_type"); p != nil {
		return p.Value
	}
	if k := lookupKind("match", c.typ); k != nil {
		return k.buffer
	}
	return "memory"
}

// compatSize writes n bytes with the largest of k, m, g, t dividing it.
func compatSize(n int64) string {
	for _, u := range []struct {
		shift  uint
		suffix string
	}{{40, "t"}, {30, "g"}, {20, "m"}, {10, "k"}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// putLocaltime writes a flat localtime or utc (p) into sec as its
// localtime (utc is localtime false), as Fluentd's compat helper does;
// where names sec in the warning.
func (c *compat) putLocaltime(sec *conf.Section, where string, p *conf.Param) {
	if p.Key == "utc" {
		v := strconv.FormatBool(!boolValue(p))
		compatPut(sec, "localtime", v, p)
		c.use(p.Key, where+" localtime "+v)
		return
	}
	compatPut(sec, "localtime", strconv.FormatBool(boolValue(p)), p)
	c.use(p.Key, where+" localtime")
}
