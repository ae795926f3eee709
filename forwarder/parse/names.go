package parse

// months and weekdays are the names %b and %a read, in lower case.
var (
	months   = [12]string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
	weekdays = [7]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
)

// name matches a full or three-letter name of names, case-insensitively,
// and returns its index.
func name(v []byte, i int, names []string) (int, int, bool) {
	if len(v)-i < 3 {
		return 0, i, false
	}
	for k, nm := range names {
		if !equalFold(v[i:i+3], nm[:3]) {
			continue
		}
		if len(v)-i >= len(nm) && equalFold(v[i:i+len(nm)], nm) {
			return k, i + len(nm), true
		}
		return k, i + 3, true
	}
	return 0, i, false
}

// equalFold compares ASCII b with lower-case s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for k := range b {
		if b[k]|0x20 != s[k] {
			return false
		}
	}
	return true
}

// ampm reads AM, PM, A.M. or P.M. in any case: 1 for AM, 2 for PM.
func ampm(v []byte, i int) (int, int, bool) {
	if i >= len(v) {
		return 0, i, false
	}
	n := 0
	switch v[i] | 0x20 {
	case 'a':
		n = 1
	case 'p':
		n = 2
	default:
		return 0, i, false
	}
	switch {
	case i+1 < len(v) && v[i+1]|0x20 == 'm':
		return n, i + 2, true
	case i+3 < len(v) && v[i+1] == '.' && v[i+2]|0x20 == 'm' && v[i+3] == '.':
		return n, i + 4, true
	}
	return 0, i, false
}
