package conf

import (
	"path/filepath"
	"slices"
	"strings"
)

// include handles "@include PATH" (and "include PATH" at the top level):
// PATH is a file or a glob, relative to the including file's directory;
// matches are parsed in sorted order into sec, at the position of the
// @include line. A path without glob characters must exist (Fluentd
// silently includes nothing); a glob may match nothing.
func (p *parser) include(sec *Section, line, depth int) {
	start := p.pos
	path, perr := p.literal()
	if perr != nil {
		p.fail(perr)
		p.resync(start, line, perr.Line)
		return
	}
	if !p.lineEnd() {
		p.fail(p.errf("expected end of line after @include %s", path))
		p.skipLine()
		return
	}
	if p.noInclude {
		p.fail(errAt(p.file, line, "@include is disabled here"))
		return
	}
	path = strings.TrimPrefix(path, "file://")
	if path == "" {
		p.fail(errAt(p.file, line, "@include needs a path"))
		return
	}
	if strings.Contains(path, "://") {
		p.fail(errAt(p.file, line, "@include %s: only local files can be included", path))
		return
	}
	pattern := path
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(p.dir, pattern)
	}
	files := []string{pattern}
	if hasGlob(pattern) {
		var err error
		if files, err = filepath.Glob(pattern); err != nil {
			p.fail(errAt(p.file, line, "@include %s: %v", path, err))
			return
		}
		slices.Sort(files)
	}
	for _, f := range files {
		p.includeFile(sec, f, path, line, depth)
	}
}

func (p *parser) includeFile(sec *Section, file, path string, line, depth int) {
	abs := absPath(file)
	if i := slices.Index(p.chain, abs); i >= 0 {
		loop := append(slices.Clone(p.chain[i:]), abs)
		p.fail(errAt(p.file, line, "@include %s: include loop: %s", path, strings.Join(loop, " -> ")))
		return
	}
	if len(p.chain) > maxDepth {
		p.fail(errAt(p.file, line, "@include %s: includes nested deeper than %d levels", path, maxDepth))
		p.st.stopped = true
		return
	}
	data, err := readFile(file)
	if err != nil {
		p.fail(errAt(p.file, line, "@include %s: %v", path, err))
		return
	}
	sub := newParser(file, data, append(slices.Clone(p.chain), abs), p.st)
	sub.noInclude = p.noInclude
	sub.body(sec, true, depth+1)
}

func hasGlob(path string) bool { return strings.ContainsAny(path, "*?[") }
