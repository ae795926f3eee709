package tail

import (
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Globs follow Ruby's Dir.glob, which in_tail uses, for what barge has:
//
//   - "*" matches any run of characters but "/", "?" one character,
//     "[abc]", "[a-z]", "[^a]" and "[!a]" one of a class, "\" escapes;
//   - "**" as a whole component followed by "/" matches zero or more
//     directories, recursively; it does not descend into hidden
//     directories or follow symbolic links to directories (so no loop);
//     elsewhere "**" is "*";
//   - a wildcard does not match a name's leading "." unless the pattern's
//     component starts with "." (hidden files are not matched by "*");
//   - braces ({a,b}) are not supported (Fluentd's default delimiter "," cuts
//     them apart anyway).
//
// Results keep the pattern's own spelling of the directories ("a/../b"
// stays as written; repeated slashes are squeezed) and are sorted.

// splitPattern cuts a path or a pattern into its components; an absolute
// one starts with "". Empty components (repeated slashes) are dropped.
func splitPattern(p string) []string {
	var out []string
	for i, c := range strings.Split(p, "/") {
		if c != "" || i == 0 {
			out = append(out, c)
		}
	}
	return out
}

func hasMeta(c string) bool { return strings.ContainsAny(c, `*?[\`) }

// rubyComponent turns one component into filepath.Match's syntax: "**"
// is "*", and a class "[!...]" is "[^...]".
func rubyComponent(c string) string {
	c = strings.ReplaceAll(c, "**", "*")
	var b strings.Builder
	inClass := false
	for i := 0; i < len(c); i++ {
		ch := c[i]
		switch {
		case ch == '\\' && i+1 < len(c):
			b.WriteByte(ch)
			i++
			ch = c[i]
		case ch == '[' && !inClass:
			inClass = true
			if i+1 < len(c) && c[i+1] == '!' {
				b.WriteString("[^")
				i++
				continue
			}
		case ch == ']' && inClass:
			inClass = false
		}
		b.WriteByte(ch)
	}
	return b.String()
}

// checkPattern checks a glob's syntax.
func checkPattern(p string) error {
	if p == "" {
		return errors.New("empty glob")
	}
	for _, c := range splitPattern(p) {
		if _, err := filepath.Match(rubyComponent(c), ""); err != nil {
			return err
		}
	}
	return nil
}

// matchName matches one name against one component.
func matchName(c, name string) bool {
	if !hasMeta(c) {
		return c == name
	}
	if strings.HasPrefix(name, ".") && !strings.HasPrefix(c, ".") {
		return false
	}
	ok, _ := filepath.Match(rubyComponent(c), name)
	return ok
}

// matchPath reports whether path matches the glob pattern.
func matchPath(pattern, path string) bool {
	return matchComponents(splitPattern(pattern), splitPattern(path))
}

func matchComponents(pc, nc []string) bool {
	if len(pc) == 0 {
		return len(nc) == 0
	}
	if pc[0] == "**" && len(pc) > 1 {
		for i := 0; i <= len(nc); i++ {
			if matchComponents(pc[1:], nc[i:]) {
				return true
			}
			if i < len(nc) && strings.HasPrefix(nc[i], ".") {
				return false
			}
		}
		return false
	}
	return len(nc) > 0 && matchName(pc[0], nc[0]) && matchComponents(pc[1:], nc[1:])
}

// globber lists the paths a glob matches. Directories it cannot read
// (but missing ones) are given to onErr.
type globber struct {
	readDir func(string) ([]fs.DirEntry, error)
	lstat   func(string) (fs.FileInfo, error)
	onErr   func(dir string, err error)
}

// glob returns the paths matching pattern that exist, sorted, without
// repeats.
func (g *globber) glob(pattern string) []string {
	comps := splitPattern(pattern)
	var out []string
	if comps[0] == "" {
		g.expand("/", comps[1:], false, &out)
	} else {
		g.expand("", comps, false, &out)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func join(dir, name string) string {
	switch {
	case dir == "":
		return name
	case strings.HasSuffix(dir, "/"):
		return dir + name
	}
	return dir + "/" + name
}

// expand appends the paths under dir matching comps. listed says that
// dir was read from its directory, so exists.
func (g *globber) expand(dir string, comps []string, listed bool, out *[]string) {
	if len(comps) == 0 {
		if dir == "" {
			return
		}
		if !listed { // it ends with components without wildcards
			if _, err := g.lstat(dir); err != nil {
				return
			}
		}
		*out = append(*out, dir)
		return
	}
	c, rest := comps[0], comps[1:]
	if !hasMeta(c) {
		g.expand(join(dir, c), rest, false, out)
		return
	}
	entries, err := g.readDir(orDot(dir))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			g.onErr(orDot(dir), err)
		}
		return
	}
	if c == "**" && len(rest) > 0 {
		g.expand(dir, rest, listed, out) // zero directories
		for _, e := range entries {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				g.expand(join(dir, e.Name()), comps, true, out)
			}
		}
		return
	}
	for _, e := range entries {
		// a regular file cannot hold the rest of the pattern
		if matchName(c, e.Name()) && (len(rest) == 0 || e.Type()&(fs.ModeDir|fs.ModeSymlink) != 0) {
			g.expand(join(dir, e.Name()), rest, true, out)
		}
	}
}

func orDot(dir string) string {
	if dir == "" {
		return "."
	}
	return dir
}
