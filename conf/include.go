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
func (p *parser) include(sec *Section, line, depth int) error {
	path, err := p.literal()
	if err != nil {
		return err
	}
	if !p.lineEnd() {
		return p.errf("expected end of line after @include %s", path)
	}
	if p.noInclude {
		return errAt(p.file, line, "@include is disabled here")
	}
	path = strings.TrimPrefix(path, "file://")
	if path == "" {
		return errAt(p.file, line, "@include needs a path")
	}
	if strings.Contains(path, "://") {
		return errAt(p.file, line, "@include %s: only local files can be included", path)
	}
	pattern := path
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(p.dir, pattern)
	}
	var files []string
	if hasGlob(pattern) {
		files, err = filepath.Glob(pattern)
		if err != nil {
			return errAt(p.file, line, "@include %s: %v", path, err)
		}
		slices.Sort(files)
	} else {
		files = []string{pattern}
	}
	for _, f := range files {
		if err := p.includeFile(sec, f, path, line, depth); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) includeFile(sec *Section, file, path string, line, depth int) error {
	abs := absPath(file)
	if i := slices.Index(p.chain, abs); i >= 0 {
		loop := append(slices.Clone(p.chain[i:]), abs)
		return errAt(p.file, line, "@include %s: include loop: %s", path, strings.Join(loop, " -> "))
	}
	if len(p.chain) > maxDepth {
		return errAt(p.file, line, "@include %s: includes nested deeper than %d levels", path, maxDepth)
	}
	data, err := readFile(file)
	if err != nil {
		return errAt(p.file, line, "@include %s: %v", path, err)
	}
	sub := newParser(file, data, append(slices.Clone(p.chain), abs))
	return sub.body(sec, true, depth+1)
}

func hasGlob(path string) bool { return strings.ContainsAny(path, "*?[") }
