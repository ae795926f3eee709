package parse

// zoneAbbrevs are the zone abbreviations %z and %Z read, with their
// offsets in hours (a subset of Ruby's table).
var zoneAbbrevs = map[string]float64{
	"ut": 0, "utc": 0, "gmt": 0, "z": 0, "wet": 0, "bst": 1, "cet": 1, "met": 1, "west": 1,
	"cest": 2, "mest": 2, "eet": 2, "eest": 3, "msk": 3, "ist": 5.5, "sgt": 8, "hkt": 8,
	"awst": 8, "jst": 9, "kst": 9, "acst": 9.5, "aest": 10, "aedt": 11, "nzst": 12, "nzdt": 13,
	"est": -5, "edt": -4, "cst": -6, "cdt": -5, "mst": -7, "mdt": -6, "pst": -8, "pdt": -7,
	"akst": -9, "akdt": -8, "hst": -10, "ast": -4, "adt": -3, "nst": -3.5, "ndt": -2.5,
}

// zone reads a zone at v[i:] and returns its offset in seconds.
func zone(v []byte, i int) (int, int, bool) {
	if i >= len(v) {
		return 0, i, false
	}
	if v[i] == '+' || v[i] == '-' {
		return numericZone(v, i)
	}
	if v[i]|0x20 == 'z' && (i+1 == len(v) || v[i+1]|0x20 < 'a' || v[i+1]|0x20 > 'z') {
		return 0, i + 1, true
	}
	j := i
	for j < len(v) && (v[j]|0x20 >= 'a' && v[j]|0x20 <= 'z') && j-i < 5 {
		j++
	}
	if j == i {
		return 0, i, false
	}
	var buf [5]byte
	for k := i; k < j; k++ {
		buf[k-i] = v[k] | 0x20
	}
	abbr := string(buf[:j-i])
	if (abbr == "gmt" || abbr == "utc" || abbr == "ut") && j < len(v) && (v[j] == '+' || v[j] == '-') {
		return numericZone(v, j)
	}
	h, ok := zoneAbbrevs[abbr]
	if !ok {
		return 0, i, false
	}
	return int(h * 3600), j, true
}

// numericZone reads +h, +hh, +hhmm, +hh:mm, +hhmmss or +hh:mm:ss.
func numericZone(v []byte, i int) (int, int, bool) {
	sign := 1
	if v[i] == '-' {
		sign = -1
	}
	i++
	start := i
	for i < len(v) && v[i] >= '0' && v[i] <= '9' && i-start < 6 {
		i++
	}
	d := v[start:i]
	var h, m, s int
	switch len(d) {
	case 1, 2:
		h = atoiSmall(d)
		if i+2 < len(v) && v[i] == ':' && isDigit(v[i+1]) && isDigit(v[i+2]) {
			m, i = atoiSmall(v[i+1:i+3]), i+3
			if i+2 < len(v) && v[i] == ':' && isDigit(v[i+1]) && isDigit(v[i+2]) {
				s, i = atoiSmall(v[i+1:i+3]), i+3
			}
		}
	case 3:
		h, m = atoiSmall(d[:1]), atoiSmall(d[1:])
	case 4:
		h, m = atoiSmall(d[:2]), atoiSmall(d[2:])
	case 5:
		h, m, s = atoiSmall(d[:1]), atoiSmall(d[1:3]), atoiSmall(d[3:])
	case 6:
		h, m, s = atoiSmall(d[:2]), atoiSmall(d[2:4]), atoiSmall(d[4:])
	default:
		return 0, start, false
	}
	if h > 24 || m > 59 || s > 59 {
		return 0, start, false
	}
	return sign * (h*3600 + m*60 + s), i, true
}
