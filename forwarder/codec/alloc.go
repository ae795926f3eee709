package codec

// Allocator supplies the buffers that FrameReader and Decoder grow, so that
// a server can bound the memory all its connections hold together.
//
// Get returns a buffer of length 0 and capacity at least n, or an error,
// which the Next or Decode that needed the buffer returns (wrapped or as
// is). Get may block: that is the backpressure of a server over its memory
// budget. Put takes back a buffer from Get that is no longer used.
//
// With an Allocator set, a FrameReader keeps between messages only its
// first 16 KiB buffer, and a Decoder only buffers of up to KeepSmall bytes;
// every larger one goes back with Put at the next Next or Decode, or at
// Release. With none, buffers come from make and those up to 1 MiB are
// kept.
type Allocator interface {
	Get(n int) ([]byte, error)
	Put(b []byte)
}

// KeepSmall is the largest buffer a Decoder with an Allocator keeps
// between messages.
const KeepSmall = 8 << 10

// pool wraps an optional Allocator.
type pool struct{ a Allocator }

func (p pool) get(n int) ([]byte, error) {
	if p.a == nil {
		return make([]byte, 0, n), nil
	}
	return p.a.Get(n)
}

func (p pool) put(b []byte) {
	if p.a != nil && cap(b) > 0 {
		p.a.Put(b[:0])
	}
}

// keep is the largest buffer kept between messages.
func (p pool) keep() int {
	if p.a == nil {
		return frameKeep
	}
	return KeepSmall
}

// buffer returns *b emptied, replaced by a buffer of capacity at least n
// when it is smaller. The contents are not kept.
func (p pool) buffer(b *[]byte, n int) ([]byte, error) {
	if cap(*b) >= n {
		return (*b)[:0], nil
	}
	nb, err := p.get(n)
	if err != nil {
		return nil, err
	}
	p.put(*b)
	*b = nb
	return nb, nil
}

// grow returns cur (which lives in *b) with room for at least n more
// bytes, moving it when needed to a buffer of double the capacity, but at
// most limit (and at least what is needed).
func (p pool) grow(b *[]byte, cur []byte, n, limit int) ([]byte, error) {
	if cap(cur)-len(cur) >= n {
		return cur, nil
	}
	nb, err := p.get(max(len(cur)+n, min(2*cap(cur), limit)))
	if err != nil {
		return nil, err
	}
	nb = append(nb, cur...)
	p.put(*b)
	*b = nb
	return nb, nil
}

// release gives *b back when it is larger than kept between messages.
func (p pool) release(b *[]byte) {
	if cap(*b) > p.keep() {
		p.put(*b)
		*b = nil
	}
}
