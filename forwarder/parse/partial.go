package parse

// maxStreams is how many streams of one file may have a partial record open
// at once (stdout and stderr, in practice); a further one closes the
// oldest.
const maxStreams = 4

// partials are the records open per stream of cri and docker: lines
// split by the runtime, joined until their last part.
type partials struct {
	open [maxStreams]partial
	seq  int // how many lines the parser was given
}

type partial struct {
	used   bool
	first  int    // the seq of its first line
	stream []byte // copied
	head   []byte // cri: the first line's time; docker: the first line
	msg    []byte // the message so far
}

// find returns the open record of stream, or nil.
func (ps *partials) find(stream []byte) *partial {
	for i := range ps.open {
		if o := &ps.open[i]; o.used && string(o.stream) == string(stream) {
			return o
		}
	}
	return nil
}

// free returns an unused slot, or nil when all are open.
func (ps *partials) free() *partial {
	for i := range ps.open {
		if !ps.open[i].used {
			return &ps.open[i]
		}
	}
	return nil
}

// oldest returns the open record whose first line came first, or nil.
func (ps *partials) oldest() *partial {
	var old *partial
	for i := range ps.open {
		if o := &ps.open[i]; o.used && (old == nil || o.first < old.first) {
			old = o
		}
	}
	return old
}

// start opens o for stream at the current line.
func (ps *partials) start(o *partial, stream, head, msg []byte) {
	o.used, o.first = true, ps.seq
	o.stream = append(o.stream[:0], stream...)
	o.head = append(o.head[:0], head...)
	o.msg = append(o.msg[:0], msg...)
}

// done closes o, keeping its buffers unless they grew large.
func (o *partial) done() {
	o.used = false
	if cap(o.msg) > 64<<10 {
		o.msg = nil
	}
	if cap(o.head) > 64<<10 {
		o.head = nil
	}
}

// held is Parser.Held: the lines from the first line of the oldest open
// record to the last one.
func (ps *partials) held() int {
	if o := ps.oldest(); o != nil {
		return ps.seq - o.first + 1
	}
	return 0
}
