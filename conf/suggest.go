package conf

import "slices"

// suggest returns ", did you mean 'x'?" for the candidate closest to got,
// when it is close enough to be a likely typo, else "". open and close
// quote the candidate ("'" and "'", or "<" and ">").
func suggest(got string, candidates []string, open, close string) string {
	slices.Sort(candidates) // deterministic among equally close ones
	best, bestDist := "", -1
	for _, c := range candidates {
		d := distance(got, c)
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := 2
	if len(got) <= 4 {
		limit = 1
	}
	if bestDist < 0 || bestDist > limit {
		return ""
	}
	return ", did you mean " + open + best + close + "?"
}

// distance is the Damerau-Levenshtein distance (optimal string alignment)
// between a and b, in bytes: a swap of two letters counts as one edit.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30 // no typo suggestions for very long keys
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// Suggest is suggest for callers outside conf (a command name, a loader
// name): ", did you mean 'x'?" or "".
func Suggest(got string, candidates []string) string {
	return suggest(got, slices.Clone(candidates), "'", "'")
}
