package main

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/conf"
	"github.com/barge-dev/barge/forwarder/route"
	"github.com/barge-dev/barge/output/bigquery"
	"github.com/barge-dev/barge/output/file"
	"github.com/barge-dev/barge/output/format"
)

// plan is a decoded and validated configuration: everything needed to build
// the pipeline, and nothing started yet.
type plan struct {
	path    string
	system  systemConfig
	sources []sourcePlan
	filters []filterPlan
	// matches are the buffered outputs: each <match>'s, and each <store>
	// of a <match> @type copy.
	matches []matchPlan
	// steps are the <filter>s and <match>es of every label in config
	// order: as in Fluentd, a <filter> applies only to events that reach
	// it before a <match> took them.
	steps []step
	// labels are the <label @NAME> sections by name.
	labels map[string]*conf.Section
	// loaders are the <loader NAME> directives.
	loaders []loaderPlan
	// notes are warnings found while loading (see warnings).
	notes []warning
}

type loaderPlan struct {
	sec    *conf.Section
	logLvl string
	cfg    bigquery.Config
}

type sourcePlan struct {
	sec    *conf.Section
	kind   *kind
	cfg    any // kind.config's
	id     string
	logLvl string
	label  string // @label: the label its events go to, "" for the top level
}

// step is a <filter> or a <match> of a label ("" for the top level).
type step struct {
	sec      *conf.Section
	label    string
	patterns []string
	filter   int // index in plan.filters, or -1 for a <match>
	// A <match> sends to outs (indices in plan.matches): one output, or
	// the stores of @type copy, each store failing the append unless its
	// ignore is set; or, for @type relabel, to the label relabel.
	outs    []int
	ignore  []bool
	relabel string
}

type filterPlan struct {
	sec      *conf.Section
	kind     *kind
	cfg      any // kind.config's
	patterns []string
}

type matchPlan struct {
	sec  *conf.Section
	kind *kind
	cfg  any    // kind.config's
	name string // @id, or the pattern (and the store's number)
	// what names it in messages: "<match app.**>", "<store 2> of <match
	// app.**>"
	what     string
	patterns []string
	logLvl   string
	buffer   buffer.Config
	// secondary is the <secondary> file output, nil when absent.
	secondary *file.Config
}

// loadPlan parses and validates the config file at path. Its error is a
// conf.Errors listing every problem as FILE:LINE: message.
func loadPlan(path string) (*plan, error) {
	root, err := conf.ParseFile(path)
	if err != nil {
		return nil, err
	}
	p := &plan{path: path, system: defaultSystemConfig()}
	var errs conf.Errors
	add := func(err error) {
		var ce conf.Errors
		switch {
		case err == nil:
		case errors.As(err, &ce):
			errs = append(errs, ce...)
		default:
			errs = append(errs, err)
		}
	}
	for _, prm := range root.Params {
		add(conf.ParamErrorf(prm, "unknown parameter %q outside any directive", prm.Key))
	}
	for _, sec := range root.Sections {
		if sec.Name == "system" {
			add(conf.Decode(sec, &p.system))
		}
	}
	for _, sec := range root.Sections {
		if prm := sec.Param("@log_level"); prm != nil {
			if _, err := parseLevel(prm.Value); err != nil {
				add(conf.ParamErrorf(prm, "'@log_level': %v", err))
			}
		}
		switch sec.Name {
		case "system":
		case "source":
			add(p.addSource(sec))
		case "filter":
			add(p.addFilter(sec, ""))
		case "match":
			add(p.addMatch(sec, ""))
		case "loader":
			add(p.addLoader(sec))
		case "label":
			add(p.addLabel(sec))
		case "worker":
			add(conf.Errorf(sec, "<worker %s> is not supported: barge runs one process, whose inputs, buffers and outputs each use as many threads as they need (flush_thread_count, connections), so no directive is tied to a worker; move what it holds to the top level", sec.Arg))
		default:
			add(conf.Errorf(sec, "unknown directive <%s>", sec.Name))
		}
	}
	add(p.checkLabels())
	add(p.checkBufferPaths())
	for i := range p.loaders {
		add(p.resolveLoaderSource(&p.loaders[i]))
	}
	if p.system.Workers > 1 {
		for _, sec := range root.Sections {
			if prm := sec.Param("workers"); sec.Name == "system" && prm != nil {
				p.notes = append(p.notes, warnAt(prm, "'workers %d': barge runs one process, multithreaded, whatever 'workers' says (Fluentd's workers are processes)", p.system.Workers))
			}
		}
	}
	if len(p.sources) == 0 && len(p.loaders) == 0 && len(errs) == 0 {
		p.notes = append(p.notes, warning{file: path, line: 1, msg: "no <source> or <loader> directive: nothing will be read (fine for a file that others @include)"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

func (p *plan) addSource(sec *conf.Section) error {
	k, err := p.kindOf(sec, sec.Name, "<source>")
	if err != nil {
		return err
	}
	p.notes = append(p.notes, compatParams(sec, "source", k.typ)...)
	s := sourcePlan{sec: sec, kind: k, cfg: k.config(), id: sec.Get("@id"), logLvl: sec.Get("@log_level"), label: sec.Get("@label")}
	if err := conf.Decode(without(sec, "@label"), s.cfg); err != nil {
		return err
	}
	p.sources = append(p.sources, s)
	return nil
}

func (p *plan) addFilter(sec *conf.Section, label string) error {
	pats := patterns(sec.Arg)
	if err := checkPatterns(sec, pats); err != nil {
		return err
	}
	k, err := p.kindOf(sec, sec.Name, "<filter "+sec.Arg+">")
	if err != nil {
		return err
	}
	f := filterPlan{sec: sec, kind: k, cfg: k.config(), patterns: pats}
	if err := conf.Decode(sec, f.cfg); err != nil {
		return err
	}
	p.steps = append(p.steps, step{sec: sec, label: label, patterns: pats, filter: len(p.filters)})
	p.filters = append(p.filters, f)
	return nil
}

// kindOf finds the row of sec's @type in the table of components; label
// names the directive in errors.
func (p *plan) kindOf(sec *conf.Section, directive, label string) (*kind, error) {
	typ := sec.Type()
	if typ == "" {
		return nil, conf.Errorf(sec, "%s: '@type' is required (barge has: %s)", label, kindNames(directive))
	}
	k := lookupKind(directive, typ)
	if k == nil {
		return nil, conf.Errorf(sec, "%s: unknown @type %q (barge has: %s)", label, typ, kindNames(directive))
	}
	return k, nil
}

// addMatch decodes a <match> of label ("" at the top level): an output,
// @type copy with its <store>s, or @type relabel.
func (p *plan) addMatch(sec *conf.Section, label string) error {
	pats := patterns(sec.Arg)
	if err := checkPatterns(sec, pats); err != nil {
		return err
	}
	st := step{sec: sec, label: label, patterns: pats, filter: -1}
	what := "<match " + sec.Arg + ">"
	name := sec.Get("@id")
	if name == "" {
		name = sec.Arg
	}
	switch sec.Type() {
	case "copy":
		var errs conf.Errors
		var cfg copyConfig
		own := *sec
		own.Sections = nil
		errs = append(errs, asErrors(conf.Decode(&own, &cfg))...)
		for _, child := range sec.Sections {
			if child.Name != "store" {
				errs = append(errs, conf.Errorf(child, "%s: @type copy takes <store> sections, not <%s>", what, child.Name))
				continue
			}
			n := len(st.outs) + 1
			sname := child.Get("@id")
			if sname == "" {
				sname = fmt.Sprintf("%s_store%d", name, n)
			}
			i, err := p.addOutput(child, sname, fmt.Sprintf("<store %d> of %s", n, what), pats)
			if err != nil {
				errs = append(errs, asErrors(err)...)
				continue
			}
			ignore := false
			for _, opt := range strings.Fields(child.Arg) {
				switch opt {
				case "ignore_error":
					ignore = true
				case "ignore_if_prev_success":
					errs = append(errs, conf.Errorf(child, "%s: <store ignore_if_prev_success> is not supported by barge: every store gets every record", what))
				default:
					errs = append(errs, conf.Errorf(child, "%s: unknown <store> option %q (barge has: ignore_error)", what, opt))
				}
			}
			st.outs = append(st.outs, i)
			st.ignore = append(st.ignore, ignore)
		}
		if len(st.outs) == 0 && len(errs) == 0 {
			errs = append(errs, conf.Errorf(sec, "%s: @type copy needs at least one <store>", what))
		}
		if len(errs) > 0 {
			return errs
		}
	case "relabel":
		own := *sec
		var cfg relabelConfig
		if err := conf.Decode(&own, &cfg); err != nil {
			return err
		}
		st.relabel = cfg.Label
	default:
		i, err := p.addOutput(sec, name, what, pats)
		if err != nil {
			return err
		}
		st.outs = []int{i}
	}
	p.steps = append(p.steps, st)
	return nil
}

// copyConfig is @type copy's own parameters.
type copyConfig struct {
	// CopyMode is accepted for Fluentd configs: barge's records are
	// immutable bytes that each store copies into its own buffer, so every
	// mode behaves as deep.
	CopyMode string `conf:"copy_mode" enum:"no_copy,shallow,deep,marshal"`
}

// relabelConfig is @type relabel's.
type relabelConfig struct {
	Label string `conf:"@label" required:"true"`
}

// addLabel decodes <label @NAME> and the <filter>s and <match>es in it.
func (p *plan) addLabel(sec *conf.Section) error {
	name := strings.TrimSpace(sec.Arg)
	if !strings.HasPrefix(name, "@") || len(name) < 2 || strings.ContainsAny(name, " \t") {
		return conf.Errorf(sec, "<label %s>: a label is named @NAME, as <label @app>", sec.Arg)
	}
	if p.labels == nil {
		p.labels = map[string]*conf.Section{}
	}
	if first, ok := p.labels[name]; ok {
		return conf.Errorf(sec, "<label %s> is also at %s:%d", name, first.File, first.Line)
	}
	p.labels[name] = sec
	var errs conf.Errors
	for _, prm := range sec.Params {
		errs = append(errs, conf.ParamErrorf(prm, "<label %s> holds only <filter> and <match> sections, not %q", name, prm.Key))
	}
	for _, child := range sec.Sections {
		switch child.Name {
		case "filter":
			errs = append(errs, asErrors(p.addFilter(child, name))...)
		case "match":
			errs = append(errs, asErrors(p.addMatch(child, name))...)
		default:
			errs = append(errs, conf.Errorf(child, "<label %s> holds only <filter> and <match> sections, not <%s>", name, child.Name))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// checkLabels refuses an @label that names no <label>.
func (p *plan) checkLabels() error {
	var errs conf.Errors
	check := func(at conf.Positioner, what, label string) {
		if label == "" {
			return
		}
		if _, ok := p.labels[label]; ok {
			return
		}
		names := slices.Sorted(maps.Keys(p.labels))
		has := "the config has no <label>"
		if len(names) > 0 {
			has = "its labels: " + strings.Join(names, ", ")
		}
		errs = append(errs, conf.ParamErrorf(at.(*conf.Param), "%s: '@label %s': no <label %s>%s; %s", what, label, label, conf.Suggest(label, names), has))
	}
	for _, s := range p.sources {
		check(s.sec.Param("@label"), "<source>", s.label)
	}
	for _, st := range p.steps {
		if st.relabel != "" {
			check(st.sec.Param("@label"), "<match "+st.sec.Arg+">", st.relabel)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// without is sec without the parameters named keys (cmd/barge's own).
func without(sec *conf.Section, keys ...string) *conf.Section {
	c := *sec
	c.Params = nil
	for _, prm := range sec.Params {
		if !slices.Contains(keys, prm.Key) {
			c.Params = append(c.Params, prm)
		}
	}
	return &c
}

// addOutput decodes an output (a <match>, or a <store> of @type copy)
// named name, and returns its index in p.matches.
func (p *plan) addOutput(sec *conf.Section, name, what string, pats []string) (int, error) {
	// Fluentd v0.12's flat parameters move into their sections first
	// (compat.go); own below shares sec's parameters.
	p.notes = append(p.notes, compatParams(sec, "match", sec.Type())...)
	m := matchPlan{sec: sec, patterns: pats, logLvl: sec.Get("@log_level"), name: name, what: what}
	// The output's own parameters, without the sections cmd/barge decodes.
	own := *sec
	own.Sections = nil
	var bufSec, secSec *conf.Section
	var errs conf.Errors
	for _, child := range sec.Sections {
		switch child.Name {
		case "buffer":
			if bufSec != nil {
				errs = append(errs, conf.Errorf(child, "<buffer> given twice"))
			}
			bufSec = child
		case "secondary":
			secSec = child
		default:
			own.Sections = append(own.Sections, child)
		}
	}
	k, err := p.kindOf(sec, "match", what)
	if err != nil {
		return -1, err
	}
	m.kind, m.cfg = k, k.config()
	err = conf.Decode(&own, m.cfg)
	m.buffer = buffer.DefaultConfig(k.buffer)
	if k.immediate {
		m.buffer.FlushMode = "immediate"
	}
	if err != nil {
		errs = append(errs, asErrors(err)...)
	}
	if bufSec != nil {
		if t := bufSec.Type(); t != "" && t != m.buffer.Type {
			m.buffer = buffer.DefaultConfig(t)
		}
		if err := conf.Decode(bufSec, &m.buffer); err != nil {
			errs = append(errs, asErrors(err)...)
		}
	}
	if m.buffer.Type == "file" && m.buffer.Path == "" && err == nil {
		m.buffer.Path = p.defaultBufferPath(&m)
	}
	if secSec != nil {
		sc, err := secondaryConfig(secSec)
		if err != nil {
			errs = append(errs, asErrors(err)...)
		}
		m.secondary = sc
	}
	if len(errs) > 0 {
		return -1, errs
	}
	if err := m.checkChunkKeys(); err != nil {
		return -1, conf.Errorf(sec, "%s: %v", what, err)
	}
	if inj := injectOf(m.cfg); inj != nil && inj.TimeFormat != "" && inj.TimeType != "string" {
		at := conf.Positioner(sec)
		for _, c := range sec.Sections {
			if prm := c.Param("time_format"); c.Name == "inject" && prm != nil {
				at = prm
			}
		}
		w := warnAt(at, "<inject> 'time_format' has no effect without 'time_type string' (time_type is %s): ignored, as Fluentd ignores it", cmp.Or(inj.TimeType, "float"))
		w.info = true
		p.notes = append(p.notes, w)
	}
	if m.secondary != nil {
		if err := m.secondary.CheckChunkKeys(m.buffer.ChunkKeys); err != nil {
			return -1, conf.Errorf(secSec, "<secondary>: %v", err)
		}
	}
	p.matches = append(p.matches, m)
	return len(p.matches) - 1, nil
}

// defaultRootDir is where file buffers without a path live when <system>
// sets no root_dir (the image's volume).
const defaultRootDir = "/var/lib/barge"

// defaultBufferPath is the directory of a file buffer given no path: for
// an output with a place of its own (the file output, beside its path, as
// Fluentd's out_file keeps its buffer at its path), a directory there
// named after the match; otherwise ROOT_DIR/buffer/<@id or pattern>, with
// root_dir /var/lib/barge by default. Both stay the same across restarts,
// so chunks left are recovered.
func (p *plan) defaultBufferPath(m *matchPlan) string {
	if m.kind.bufferPath != nil {
		if dir := m.kind.bufferPath(m.cfg); dir != "" {
			return filepath.Join(dir, dirName(m.name))
		}
	}
	root := p.system.RootDir
	if root == "" {
		root = defaultRootDir
	}
	return filepath.Join(root, "buffer", dirName(m.name))
}

// besidePath is the buffer directory of an output writing under path: its
// part before the first placeholder, without a trailing slash, plus
// ".buffer" ("/var/log/app/${tag}/" gives "/var/log/app.buffer"); "" when
// nothing is left before the placeholder.
func besidePath(path string) string {
	if i := strings.IndexAny(path, "$%"); i >= 0 {
		path = path[:i]
	}
	path = strings.TrimRight(path, "/")
	if path == "" || path == "." {
		return ""
	}
	return filepath.Clean(path) + ".buffer"
}

// checkBufferPaths refuses two file buffers in one directory: each
// <match> needs its own.
func (p *plan) checkBufferPaths() error {
	var errs conf.Errors
	seen := map[string]*matchPlan{}
	for i := range p.matches {
		m := &p.matches[i]
		if m.buffer.Type != "file" {
			continue
		}
		path := filepath.Clean(m.buffer.Path)
		if first, ok := seen[path]; ok {
			errs = append(errs, conf.Errorf(m.sec, "%s: its file buffer %s is also the buffer of %s at %s:%d: give each <buffer> its own path, or each <match> its own @id", m.what, path, first.what, first.sec.File, first.sec.Line))
			continue
		}
		seen[path] = m
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// injectOf returns the <inject> of an output's config (a field of type
// format.InjectConfig), or nil when it has none.
func injectOf(cfg any) *format.InjectConfig {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	v = v.Elem()
	for i := range v.NumField() {
		if inj, ok := v.Field(i).Addr().Interface().(*format.InjectConfig); ok {
			return inj
		}
	}
	return nil
}

// checkChunkKeys reports a placeholder of the output's path or key format
// that needs a chunk key the <buffer> does not have.
func (m *matchPlan) checkChunkKeys() error {
	if m.kind.chunkKeys == nil {
		return nil
	}
	return m.kind.chunkKeys(m.cfg, m.buffer.ChunkKeys)
}

// secondaryConfig decodes <secondary>: barge's file output, or Fluentd's
// secondary_file (directory, basename, compress) mapped onto it.
func secondaryConfig(sec *conf.Section) (*file.Config, error) {
	cfg := file.DefaultConfig()
	switch sec.Type() {
	case "file":
		if err := conf.Decode(sec, &cfg); err != nil {
			return nil, err
		}
	case "secondary_file":
		var sf secondaryFileConfig
		sf.Basename = "dump.bin"
		sf.Compress = "text"
		if err := conf.Decode(sec, &sf); err != nil {
			return nil, err
		}
		cfg.Path = strings.TrimSuffix(sf.Directory, "/") + "/"
		cfg.ObjectKeyFormat = "%{path}" + sf.Basename + ".%{chunk_id}"
		cfg.Format.Type = "msgpack"
		cfg.Compress = "none"
		if sf.Compress == "gzip" {
			cfg.Compress = "gzip"
			cfg.ObjectKeyFormat += ".gz"
		}
	case "":
		return nil, conf.Errorf(sec, "<secondary>: '@type' is required (file or secondary_file)")
	default:
		return nil, conf.Errorf(sec, "<secondary>: unknown @type %q (barge has: file, secondary_file)", sec.Type())
	}
	return &cfg, nil
}

// secondaryFileConfig is Fluentd's out_secondary_file.
type secondaryFileConfig struct {
	Directory string `conf:"directory" required:"true"`
	Basename  string `conf:"basename"`
	Append    bool   `conf:"append"`
	Compress  string `conf:"compress" enum:"text,gzip"`
}

// patterns splits a directive argument into tag patterns.
func patterns(arg string) []string {
	if strings.TrimSpace(arg) == "" {
		return []string{"**"}
	}
	return strings.Fields(arg)
}

func checkPatterns(sec *conf.Section, pats []string) error {
	for _, p := range pats {
		if _, err := route.Compile(p); err != nil {
			return conf.Errorf(sec, "<%s %s>: %v", sec.Name, sec.Arg, err)
		}
	}
	return nil
}

func asErrors(err error) conf.Errors {
	if err == nil {
		return nil
	}
	var ce conf.Errors
	if errors.As(err, &ce) {
		return ce
	}
	return conf.Errors{err}
}

func orSection(a, b *conf.Section) *conf.Section {
	if a != nil {
		return a
	}
	return b
}

var unsafeDirChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// dirName turns a match name into a directory name.
func dirName(name string) string {
	s := strings.Trim(unsafeDirChars.ReplaceAllString(name, "_"), "_")
	if s == "" {
		return "default"
	}
	return s
}

// String describes the plan for logs.
func (m *matchPlan) String() string { return fmt.Sprintf("%s @type %s", m.what, m.kind.typ) }
