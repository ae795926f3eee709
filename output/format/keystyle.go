package format

import (
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/barge-dev/barge/output/bigquery/bqschema"
)

// Key styles of <format> key_style.
const (
	KeyStyleAsIs     = "as_is"
	KeyStyleBigQuery = "bigquery"
)

// suffixedName returns base with "_k", cut so that the whole fits in 300
// bytes, and with a "_" in front if the suffix completes a reserved prefix
// ("_TABLE" + "_2").
func suffixedName(base string, k int) string {
	var sfx [24]byte
	s := strconv.AppendInt(append(sfx[:0], '_'), int64(k), 10)
	if bqschema.HasReservedPrefix(base + string(s)) {
		base = "_" + base
	}
	if len(base)+len(s) > bqschema.MaxNameLen {
		base = base[:bqschema.MaxNameLen-len(s)]
	}
	return base + string(s)
}

// KeyCollision describes keys of one map that key_style bigquery gave the
// same name, or names that differ only in case. Keys are the original keys
// sorted by bytes (with an injected key among them when it is one); Names
// are what each became: one keeps the name (an injected key, else a key
// that was a valid name already, else the first by bytes), the others get
// "_2", "_3"...
type KeyCollision struct {
	Keys  []string
	Names []string
}

// LogKeyCollisions returns an EncoderOptions.OnKeyCollision that logs each
// collision once, at warn level; nil for a nil logger.
func LogKeyCollisions(log *slog.Logger) func(KeyCollision) {
	if log == nil {
		return nil
	}
	return func(c KeyCollision) {
		log.Warn("record keys collide as BigQuery column names; renamed", "keys", c.Keys, "names", c.Names)
	}
}

// maxReportedCollisions bounds the memory spent remembering which
// collisions were reported; later ones are not reported.
const maxReportedCollisions = 1024

// collisionReporter calls a hook once for each distinct collision.
type collisionReporter struct {
	hook func(KeyCollision)
	mu   sync.Mutex
	seen map[string]struct{}
}

func (r *collisionReporter) report(c KeyCollision) {
	if r == nil || r.hook == nil {
		return
	}
	id := strings.Join(c.Keys, "\x00")
	r.mu.Lock()
	_, dup := r.seen[id]
	full := len(r.seen) >= maxReportedCollisions
	if !dup && !full {
		if r.seen == nil {
			r.seen = map[string]struct{}{}
		}
		r.seen[id] = struct{}{}
	}
	r.mu.Unlock()
	if !dup && !full {
		r.hook(c)
	}
}

// resolveNames gives each of keys a BigQuery name, unique within the map
// case-insensitively, whatever the order of keys. fixed are names that are
// taken already (the injected keys, which keep their names). The collisions
// are reported to rep.
//
// Keys whose names collide are sorted: keys that are valid names already
// first, then by their original bytes (equal keys by position). The first
// keeps the name, the others get the lowest free "_2", "_3"... Groups are
// suffixed in the order of their lower-case names, after every unsuffixed
// name has been taken.
func resolveNames(keys []string, fixed []string, fixedKeys []string, rep *collisionReporter) []string {
	names := make([]string, len(keys))
	lower := make([]string, len(keys))
	for i, k := range keys {
		names[i] = bqschema.Name(k)
		lower[i] = strings.ToLower(names[i])
	}
	taken := make(map[string]int, len(keys)+len(fixed)) // lower name -> fixed index+1, or 0
	for i, f := range fixed {
		taken[strings.ToLower(f)] = i + 1
	}
	groups := map[string][]int{}
	var order []string
	for i := range keys {
		if _, ok := groups[lower[i]]; !ok {
			order = append(order, lower[i])
		}
		groups[lower[i]] = append(groups[lower[i]], i)
	}
	slices.Sort(order)
	byKey := func(a, b int) int {
		// A key that is a valid name already keeps it if it can.
		if ua, ub := names[a] == keys[a], names[b] == keys[b]; ua != ub {
			if ua {
				return -1
			}
			return 1
		}
		if c := strings.Compare(keys[a], keys[b]); c != 0 {
			return c
		}
		return a - b
	}
	// Winners first, so that no suffixed name takes a winner's name.
	for _, l := range order {
		g := groups[l]
		slices.SortFunc(g, byKey)
		if _, ok := taken[l]; !ok {
			taken[l] = 0
			g = g[1:]
		}
		groups[l] = g // the members left to suffix
	}
	for _, l := range order {
		g := groups[l]
		if len(g) == 0 {
			continue
		}
		k := 2
		for _, i := range g {
			for {
				n := suffixedName(names[i], k)
				k++
				if _, ok := taken[strings.ToLower(n)]; !ok {
					names[i] = n
					taken[strings.ToLower(n)] = 0
					break
				}
			}
		}
		if rep != nil {
			rep.report(collisionOf(keys, names, lower, l, fixed, fixedKeys))
		}
	}
	return names
}

// collisionOf builds the report of the keys whose base name folds to l.
func collisionOf(keys, names, lower []string, l string, fixed, fixedKeys []string) KeyCollision {
	type kn struct{ k, n string }
	var all []kn
	for i, f := range fixed {
		if strings.ToLower(f) == l {
			all = append(all, kn{fixedKeys[i], f})
		}
	}
	for i := range keys {
		if lower[i] == l {
			all = append(all, kn{keys[i], names[i]})
		}
	}
	slices.SortStableFunc(all, func(a, b kn) int { return strings.Compare(a.k, b.k) })
	c := KeyCollision{Keys: make([]string, len(all)), Names: make([]string, len(all))}
	for i, x := range all {
		c.Keys[i], c.Names[i] = x.k, x.n
	}
	return c
}

// keyScratch is the per-Encode scratch of the key checks.
type keyScratch struct {
	hashes []uint64
	keys   []string
	sig    []byte
}

// foldHash hashes an ASCII name case-insensitively (FNV-1a).
func foldHash(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// hasDuplicate reports whether hs holds a value twice. It may reorder hs.
func hasDuplicate(hs []uint64) bool {
	if len(hs) <= 16 {
		for i := 1; i < len(hs); i++ {
			for j := 0; j < i; j++ {
				if hs[i] == hs[j] {
					return true
				}
			}
		}
		return false
	}
	slices.Sort(hs)
	for i := 1; i < len(hs); i++ {
		if hs[i] == hs[i-1] {
			return true
		}
	}
	return false
}

// keyText returns a map key as the text the json format writes for it
// (without quotes): strings as they are, nil as "", other values as their
// JSON text.
func keyText(b []byte) (string, []byte, error) {
	if s, rest, err := readBytesValue(b); err == nil {
		return string(s), rest, nil
	}
	if len(b) > 0 && b[0] == 0xc0 {
		return "", b[1:], nil
	}
	text, rest, err := appendJSON(nil, b, 1)
	if err != nil {
		return "", b, err
	}
	return string(text), rest, nil
}

// hasFold reports whether names holds name, case-insensitively.
func hasFold(names []string, name []byte) bool {
	for _, n := range names {
		if len(n) == len(name) && strings.EqualFold(n, string(name)) {
			return true
		}
	}
	return false
}
