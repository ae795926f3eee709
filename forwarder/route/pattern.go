package route

import (
	"errors"
	"fmt"
	"strings"
)

// Pattern is a compiled Fluentd tag pattern: one or more glob patterns
// separated by white space, matching a tag when any of them does.
type Pattern struct {
	src   string
	all   bool // one of the patterns is "**"
	progs [][]inst
}

// Compile compiles a tag pattern with Fluentd's MatchPattern rules:
//
//   - "a.b" matches the tag a.b only; "*" matches one tag part ("a.*" matches
//     a.b but not a or a.b.c);
//   - "**" matches zero or more tag parts ("a.**" matches a, a.b and a.b.c);
//   - "{a,b}" matches a or b; alternatives may hold any pattern, nested too;
//   - "\" makes the next character literal;
//   - several patterns separated by white space match when any one does.
//
// An unclosed "{" is an error (Fluentd silently turns it into a literal).
func Compile(pattern string) (Pattern, error) {
	fields := strings.Fields(pattern)
	if len(fields) == 0 {
		return Pattern{}, errors.New("route: empty tag pattern")
	}
	p := Pattern{src: strings.Join(fields, " ")}
	for _, f := range fields {
		if f == "**" {
			p.all = true
			continue
		}
		seq, err := parseGlob(f)
		if err != nil {
			return Pattern{}, fmt.Errorf("tag pattern %q: %w", f, err)
		}
		var c compiler
		c.seq(seq)
		c.emit(inst{op: opMatch})
		p.progs = append(p.progs, c.prog)
	}
	return p, nil
}

// String returns the pattern's source, its parts joined by one space.
func (p Pattern) String() string { return p.src }

// Match reports whether tag matches the pattern.
func (p Pattern) Match(tag string) bool {
	if p.all {
		return true
	}
	for _, prog := range p.progs {
		if run(prog, tag) {
			return true
		}
	}
	return false
}

// node is one element of a parsed glob.
type node struct {
	kind nodeKind
	b    byte
	alts [][]node
}

type nodeKind uint8

const (
	nLit       nodeKind = iota // the byte b
	nPart                      // "*": any run of bytes without a dot
	nAny                       // "**" not followed by a dot: any run of bytes
	nDeep                      // "**.": empty at the start of the tag, or any run ending with a dot
	nDotOrEnd                  // a "." before "**": the next byte is a dot, or the tag ends
	nAlternate                 // {a,b}
)

// parseGlob turns one glob into nodes, scanning it the way Fluentd's
// GlobMatchPattern does: a dot is emitted only when something follows it,
// and a dot before "**" becomes an assertion so that "a.**" matches "a".
func parseGlob(pat string) ([]node, error) {
	type frame struct {
		outer []node
		alts  [][]node
	}
	var (
		seq    []node
		stack  []frame
		escape bool
		dot    bool
	)
	for i := 0; i < len(pat); {
		c := pat[i]
		if escape {
			seq = append(seq, node{kind: nLit, b: c})
			escape = false
			i++
			continue
		}
		if strings.HasPrefix(pat[i:], "**") {
			if dot {
				seq = append(seq, node{kind: nDotOrEnd})
				dot = false
			}
			if i+2 < len(pat) && pat[i+2] == '.' {
				seq = append(seq, node{kind: nDeep})
				i += 3
			} else {
				seq = append(seq, node{kind: nAny})
				i += 2
			}
			continue
		}
		if dot {
			seq = append(seq, node{kind: nLit, b: '.'})
			dot = false
		}
		switch {
		case c == '\\':
			escape = true
		case c == '.':
			dot = true
		case c == '*':
			seq = append(seq, node{kind: nPart})
		case c == '{':
			stack = append(stack, frame{outer: seq})
			seq = nil
		case c == ',' && len(stack) > 0:
			top := &stack[len(stack)-1]
			top.alts = append(top.alts, seq)
			seq = nil
		case c == '}' && len(stack) > 0:
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			alts := append(top.alts, seq)
			seq = append(top.outer, node{kind: nAlternate, alts: alts})
		default:
			seq = append(seq, node{kind: nLit, b: c})
		}
		i++
	}
	if len(stack) > 0 {
		return nil, errors.New("unclosed '{'")
	}
	return seq, nil
}

// The matcher is a tiny Pike VM: linear in len(tag) * len(program), so no
// pattern can make matching exponential.
type opcode uint8

const (
	opByte     opcode = iota // the byte b
	opNotDot                 // any byte but '.'
	opAny                    // any byte
	opSplit                  // continue at x and at y
	opJmp                    // continue at x
	opDotOrEnd               // assert: at the end, or before a '.'
	opStart                  // assert: at the start
	opMatch
)

type inst struct {
	op   opcode
	b    byte
	x, y int
}

type compiler struct{ prog []inst }

func (c *compiler) emit(i inst) int {
	c.prog = append(c.prog, i)
	return len(c.prog) - 1
}

// star emits a loop over one consuming instruction.
func (c *compiler) star(op opcode) {
	split := c.emit(inst{op: opSplit})
	c.emit(inst{op: op})
	c.emit(inst{op: opJmp, x: split})
	c.prog[split].x = split + 1
	c.prog[split].y = len(c.prog)
}

func (c *compiler) seq(seq []node) {
	for _, n := range seq {
		switch n.kind {
		case nLit:
			c.emit(inst{op: opByte, b: n.b})
		case nPart:
			c.star(opNotDot)
		case nAny:
			c.star(opAny)
		case nDotOrEnd:
			c.emit(inst{op: opDotOrEnd})
		case nDeep:
			split := c.emit(inst{op: opSplit})
			c.prog[split].x = len(c.prog)
			c.star(opAny)
			c.emit(inst{op: opByte, b: '.'})
			jmp := c.emit(inst{op: opJmp})
			c.prog[split].y = c.emit(inst{op: opStart})
			c.prog[jmp].x = len(c.prog)
		case nAlternate:
			var jumps []int
			for i, alt := range n.alts {
				if i < len(n.alts)-1 {
					split := c.emit(inst{op: opSplit})
					c.prog[split].x = len(c.prog)
					c.seq(alt)
					jumps = append(jumps, c.emit(inst{op: opJmp}))
					c.prog[split].y = len(c.prog)
				} else {
					c.seq(alt)
				}
			}
			for _, j := range jumps {
				c.prog[j].x = len(c.prog)
			}
		}
	}
}

// run reports whether prog matches all of s.
func run(prog []inst, s string) bool {
	cur := make([]int, 0, len(prog))
	next := make([]int, 0, len(prog))
	seen := make([]int, len(prog)) // generation+1 in which a pc was added
	gen := 1
	var add func(list []int, pc, pos int) []int
	add = func(list []int, pc, pos int) []int {
		if seen[pc] == gen {
			return list
		}
		seen[pc] = gen
		switch in := prog[pc]; in.op {
		case opJmp:
			return add(list, in.x, pos)
		case opSplit:
			list = add(list, in.x, pos)
			return add(list, in.y, pos)
		case opDotOrEnd:
			if pos == len(s) || s[pos] == '.' {
				return add(list, pc+1, pos)
			}
			return list
		case opStart:
			if pos == 0 {
				return add(list, pc+1, pos)
			}
			return list
		default:
			return append(list, pc)
		}
	}
	cur = add(cur, 0, 0)
	for pos := 0; len(cur) > 0; pos++ {
		gen++
		next = next[:0]
		for _, pc := range cur {
			in := prog[pc]
			if in.op == opMatch {
				if pos == len(s) {
					return true
				}
				continue
			}
			if pos == len(s) {
				continue
			}
			ok := false
			switch in.op {
			case opByte:
				ok = s[pos] == in.b
			case opNotDot:
				ok = s[pos] != '.'
			case opAny:
				ok = true
			}
			if ok {
				next = add(next, pc+1, pos+1)
			}
		}
		if pos == len(s) {
			return false
		}
		cur, next = next, cur
	}
	return false
}
