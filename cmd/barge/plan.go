package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/conf"
	"github.com/barge-dev/barge/forwarder/route"
	"github.com/barge-dev/barge/output/bigquery"
	"github.com/barge-dev/barge/output/file"
)

// plan is a decoded and validated configuration: everything needed to build
// the pipeline, and nothing started yet.
type plan struct {
	path    string
	system  systemConfig
	sources []sourcePlan
	filters []filterPlan
	matches []matchPlan
	// order lists filters (index >= 0) and matches (^index) in config
	// order: as in Fluentd, a <filter> applies only to events that reach it
	// before a <match> took them.
	order []int
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
}

type filterPlan struct {
	sec      *conf.Section
	kind     *kind
	cfg      any // kind.config's
	patterns []string
}

type matchPlan struct {
	sec      *conf.Section
	kind     *kind
	cfg      any    // kind.config's
	name     string // @id, or the pattern
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
			add(p.addFilter(sec))
		case "match":
			add(p.addMatch(sec))
		case "loader":
			add(p.addLoader(sec))
		case "label", "worker":
			add(conf.Errorf(sec, "<%s> is not supported by barge", sec.Name))
		default:
			add(conf.Errorf(sec, "unknown directive <%s>", sec.Name))
		}
	}
	add(p.checkBufferPaths())
	for i := range p.loaders {
		add(p.resolveLoaderSource(&p.loaders[i]))
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
	s := sourcePlan{sec: sec, kind: k, cfg: k.config(), id: sec.Get("@id"), logLvl: sec.Get("@log_level")}
	if err := conf.Decode(sec, s.cfg); err != nil {
		return err
	}
	p.sources = append(p.sources, s)
	return nil
}

func (p *plan) addFilter(sec *conf.Section) error {
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
	p.order = append(p.order, len(p.filters))
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

func (p *plan) addMatch(sec *conf.Section) error {
	m := matchPlan{sec: sec, patterns: patterns(sec.Arg), logLvl: sec.Get("@log_level")}
	m.name = sec.Get("@id")
	if m.name == "" {
		m.name = sec.Arg
	}
	if err := checkPatterns(sec, m.patterns); err != nil {
		return err
	}
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
	k, err := p.kindOf(sec, sec.Name, "<match "+sec.Arg+">")
	if err != nil {
		return err
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
		return errs
	}
	if err := m.checkChunkKeys(); err != nil {
		return conf.Errorf(sec, "<match %s>: %v", sec.Arg, err)
	}
	if m.secondary != nil {
		if err := m.secondary.CheckChunkKeys(m.buffer.ChunkKeys); err != nil {
			return conf.Errorf(secSec, "<secondary>: %v", err)
		}
	}
	p.order = append(p.order, ^len(p.matches))
	p.matches = append(p.matches, m)
	return nil
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
			errs = append(errs, conf.Errorf(m.sec, "<match %s>: its file buffer %s is also the buffer of <match %s> at %s:%d: give each <buffer> its own path, or each <match> its own @id", m.sec.Arg, path, first.sec.Arg, first.sec.File, first.sec.Line))
			continue
		}
		seen[path] = m
	}
	if len(errs) > 0 {
		return errs
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
func (m *matchPlan) String() string { return fmt.Sprintf("<match %s> @type %s", m.sec.Arg, m.kind.typ) }
