package parse

import (
	"time"
)

// jsonParser is @type json: one object per line, its time at time_key.
// A line holding an array of objects makes one record per object, as in
// Fluentd; any other value is unmatched.
type jsonParser struct{ b base }

func (p *jsonParser) base() *base { return &p.b }

func (p *jsonParser) parse(dst, line []byte, now time.Time) ([]byte, bool) {
	b := &p.b
	b.reset()
	i := skipWS(line, 0)
	if i == len(line) {
		return dst, false
	}
	switch line[i] {
	case '{':
		end, err := b.jsonFields(line, i)
		if err != nil || skipWS(line, end) != len(line) {
			return dst, false
		}
		return b.finish(dst, now)
	case '[':
		return p.array(dst, line, i, now)
	}
	return dst, false
}

// array parses a line holding a JSON array: each object is a record; a
// syntax error anywhere makes the whole line unmatched, and so does any
// element that is not an object or whose time does not parse (once, after
// the records of the others). An empty array is unmatched too.
func (p *jsonParser) array(dst, line []byte, i int, now time.Time) ([]byte, bool) {
	b := &p.b
	// check the whole line first: nothing is appended for a bad line
	for pass := 0; pass < 2; pass++ {
		bad := false
		j := skipWS(line, i+1)
		if j < len(line) && line[j] == ']' {
			return dst, false // no record: the line is kept as unmatched
		}
		{
			for {
				j = skipWS(line, j)
				if j == len(line) {
					return dst, false
				}
				b.reset()
				var err error
				if line[j] == '{' {
					if j, err = b.jsonFields(line, j); err == nil && pass == 1 {
						var ok bool
						if dst, ok = b.finish(dst, now); !ok {
							bad = true
						}
					}
				} else {
					bad = true
					b.scratch, j, err = appendJSON(b.scratch, line, j, 1)
				}
				if err != nil {
					return dst, false
				}
				if j = skipWS(line, j); j < len(line) && line[j] == ',' {
					j++
					continue
				}
				if j == len(line) || line[j] != ']' {
					return dst, false
				}
				j++
				break
			}
		}
		if skipWS(line, j) != len(line) {
			return dst, false
		}
		if pass == 1 && bad {
			return b.appendUnmatched(dst, line, now), true
		}
	}
	return dst, true
}

// jsonFields reads the JSON object at src[i] (a brace) into b's fields:
// keys and string values as slices of src (or, when they hold escapes,
// decoded into b's scratch), other values transcoded into b's scratch. It
// returns the index after the object.
func (b *base) jsonFields(src []byte, i int) (int, error) {
	i = skipWS(src, i+1)
	if i < len(src) && src[i] == '}' {
		return i + 1, nil
	}
	var err error
	for {
		if i = skipWS(src, i); i >= len(src) || src[i] != '"' {
			return i, errJSON
		}
		var key, val []byte
		if b.scratch, key, _, i, err = jsonString(b.scratch, src, i); err != nil {
			return i, err
		}
		if i = skipWS(src, i); i >= len(src) || src[i] != ':' {
			return i, errJSON
		}
		vi := skipWS(src, i+1)
		if vi >= len(src) {
			return vi, errJSON
		}
		f := field{key: key, kind: kRaw}
		switch c := src[vi]; {
		case c == '"':
			if b.scratch, val, _, i, err = jsonString(b.scratch, src, vi); err != nil {
				return i, err
			}
			f.kind, f.val = kStr, val
		case c == '-' || isDigit(c):
			if i, err = scanNumber(src, vi); err != nil {
				return i, err
			}
			f.kind, f.val = kNum, src[vi:i]
		default:
			vs := len(b.scratch)
			if b.scratch, i, err = appendJSON(b.scratch, src, vi, 1); err != nil {
				return i, err
			}
			f.val = b.scratch[vs:]
		}
		b.fields = append(b.fields, f)
		if i = skipWS(src, i); i >= len(src) {
			return i, errJSON
		}
		if src[i] == ',' {
			i++
			continue
		}
		if src[i] != '}' {
			return i, errJSON
		}
		return i + 1, nil
	}
}
