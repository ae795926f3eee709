package tail

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/barge-dev/barge/output/strftime"
)

// File is a file to follow, as Resolve found it (os.Stat: a symbolic link
// gives its target's device, inode, size and mtime).
type File struct {
	Path     string
	Dev, Ino uint64
	Size     int64
	ModTime  time.Time
}

// ResolveStats counts what Resolve left out, over every run.
type ResolveStats struct {
	Runs       uint64
	Excluded   uint64 // matched exclude_path
	Old        uint64 // older than limit_recently_modified or ignore_older
	Skipped    uint64 // not regular files (FIFOs, sockets, devices)
	Vanished   uint64 // gone between listing and stat, or dangling links
	Unreadable uint64 // stat or open failed otherwise (permissions, I/O)
}

// Resolver finds the files to follow: Config.Path's globs expanded with the
// time of the run (strftime in path_timezone), less exclude_path,
// limit_recently_modified and ignore_older. A pattern is a glob when it
// holds "*" (glob_policy extended: also "?" or "[...]"), as in_tail;
// otherwise it is one path, followed once it exists. Only regular files
// are followed; directories and other files are left out without a word.
//
// A file that cannot be stat'ed or opened for reading never stops the
// others: it is left out, counted, and logged with its path when the
// problem first appears or changes (and, unless
// ignore_repeated_permission_error, at every run, as Fluentd). A file
// vanished between listing and stat, or a dangling symbolic link, is
// counted and logged once, at debug level. A directory a glob cannot read
// is reported the same way.
//
// Resolve is not for concurrent use; Stats is safe at any time.
type Resolver struct {
	paths, exclude []resolvePattern
	loc            *time.Location
	limitRecent    time.Duration
	ignoreOlder    time.Duration
	followInodes   bool
	quiet          bool // ignore_repeated_permission_error
	log            *slog.Logger

	// stat, open and readDir are os.Stat, a check that a file opens for
	// reading, and os.ReadDir; tests replace them.
	stat    func(string) (fs.FileInfo, error)
	open    func(string) error
	readDir func(string) ([]fs.DirEntry, error)

	mu       sync.Mutex
	reported map[string]string // path -> the problem last logged
	stats    ResolveStats
}

type resolvePattern struct {
	layout *strftime.Layout
	glob   bool
	base   bool // exclude_path without "/": matches the base name
}

var bracketClass = regexp.MustCompile(`\[.*\]`)

// NewResolver compiles cfg's patterns. It does no I/O.
func NewResolver(cfg *Config, log *slog.Logger) (*Resolver, error) {
	r := &Resolver{
		loc: time.Local, limitRecent: cfg.LimitRecentlyModified, ignoreOlder: cfg.IgnoreOlder,
		followInodes: cfg.FollowInodes, quiet: cfg.IgnoreRepeatedPermissionError, log: log,
		stat: os.Stat, open: openCheck, readDir: os.ReadDir, reported: map[string]string{},
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if cfg.PathTimezone != "" {
		loc, err := strftime.ParseTimezone(cfg.PathTimezone)
		if err != nil {
			return nil, fmt.Errorf("'path_timezone' %w", err)
		}
		r.loc = loc
	}
	compile := func(p string) resolvePattern {
		g := strings.Contains(p, "*") ||
			cfg.GlobPolicy == "extended" && (strings.Contains(p, "?") || bracketClass.MatchString(p))
		return resolvePattern{layout: strftime.Compile(p), glob: g, base: !strings.Contains(p, "/")}
	}
	for _, p := range cfg.Paths() {
		if err := checkPattern(p); err != nil {
			return nil, fmt.Errorf("'path' %q: %w", p, err)
		}
		r.paths = append(r.paths, compile(p))
	}
	for _, p := range cfg.ExcludePath {
		if err := checkPattern(p); err != nil {
			return nil, fmt.Errorf("'exclude_path' %q: %w", p, err)
		}
		r.exclude = append(r.exclude, compile(p))
	}
	return r, nil
}

// openCheck reports whether a regular file opens for reading.
func openCheck(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// Stats returns the counters.
func (r *Resolver) Stats() ResolveStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Resolve returns the files to follow at now, sorted by path. following
// (nil: none) says which paths the tailer follows already: they are kept
// though older than ignore_older, and are not opened to check that they
// are readable. With follow_inodes, a file reached by several paths (hard
// or symbolic links) is returned once, under the first path.
func (r *Resolver) Resolve(now time.Time, following func(path string) bool) []File {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Runs++
	if following == nil {
		following = func(string) bool { return false }
	}
	seen := map[string]bool{} // paths with a problem this run
	problem := func(path string, err error) {
		seen[path] = true
		msg := err.Error()
		vanished := errors.Is(err, fs.ErrNotExist)
		if vanished {
			r.stats.Vanished++
		} else {
			r.stats.Unreadable++
		}
		if last, ok := r.reported[path]; ok && last == msg && (vanished || r.quiet) {
			return
		}
		r.reported[path] = msg
		if vanished {
			r.log.Debug("file vanished, or a dangling link; not followed", "path", path, "err", err)
		} else {
			r.log.Warn("file unreadable; not followed, tried again at the next refresh", "path", path, "err", err)
		}
	}
	g := &globber{readDir: r.readDir, lstat: os.Lstat, onErr: problem}
	local := now.In(r.loc)
	globbed := map[string]bool{} // path -> only globs matched it
	for _, p := range r.paths {
		expanded := p.layout.Format(local)
		if !p.glob {
			globbed[expanded] = false
			continue
		}
		for _, m := range g.glob(expanded) {
			if _, ok := globbed[m]; !ok {
				globbed[m] = true
			}
		}
	}
	cands := slices.Sorted(maps.Keys(globbed))
	excludes := make([]string, len(r.exclude))
	for i, p := range r.exclude {
		excludes[i] = p.layout.Format(local)
	}
	var out []File
	ids := map[[2]uint64]bool{}
	for _, path := range cands {
		if r.excluded(path, excludes) {
			r.stats.Excluded++
			continue
		}
		fi, err := r.stat(path)
		switch {
		case err != nil && !globbed[path] && errors.Is(err, fs.ErrNotExist):
			continue // a path without wildcards, not created yet
		case err != nil:
			problem(path, err)
			continue
		case fi.IsDir():
			continue
		case !fi.Mode().IsRegular():
			r.stats.Skipped++
			continue
		}
		age := now.Sub(fi.ModTime())
		if globbed[path] && r.limitRecent > 0 && age > r.limitRecent ||
			r.ignoreOlder > 0 && age > r.ignoreOlder && !following(path) {
			r.stats.Old++
			continue
		}
		if !following(path) {
			if err := r.open(path); err != nil {
				problem(path, err)
				continue
			}
		}
		dev, ino, _ := fileID(fi)
		if r.followInodes {
			if ids[[2]uint64{dev, ino}] {
				continue
			}
			ids[[2]uint64{dev, ino}] = true
		}
		out = append(out, File{Path: path, Dev: dev, Ino: ino, Size: fi.Size(), ModTime: fi.ModTime()})
	}
	for p := range r.reported {
		if !seen[p] {
			delete(r.reported, p) // resolved, or gone: a new problem is logged again
		}
	}
	return out
}

// excluded reports whether path matches one of the expanded exclude_path
// patterns: a pattern without wildcards is compared as it is.
func (r *Resolver) excluded(path string, expanded []string) bool {
	for i, p := range r.exclude {
		target := path
		if p.base {
			target = path[strings.LastIndexByte(path, '/')+1:]
		}
		if p.glob && matchPath(expanded[i], target) || !p.glob && expanded[i] == target {
			return true
		}
	}
	return false
}
