package buffer

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"time"
)

// Chunk is a batch of entries that share their chunk keys' values. Its
// exported fields are stable once the chunk is handed to a Flusher.
type Chunk struct {
	ID      string            // 32 lowercase hex chars, random, stable across restarts
	Tag     string            // the tag when "tag" is a chunk key, else ""
	Keys    map[string]string // record chunk key -> value (string form); nil if none
	TimeKey time.Time         // start of the timekey window (zero when "time" is not a chunk key)
	Records int               // number of entries
	Size    int64             // bytes of entries (msgpack) in the chunk
	First   time.Time         // smallest event time in the chunk
	Last    time.Time         // largest event time in the chunk
	Created time.Time

	meta  string // routing key of the chunk's metadata
	st    store
	state chunkState
	fnano int64 // First and Last in nanoseconds, maintained on append
	lnano int64
	// commits: the chunk holds the last frame of a marked append (see
	// marks.go); the marks file is saved before the chunk goes.
	commits bool
	// The chunk's own retries (see retry.go): failed flushes, the time of
	// the first, and the earliest time of the next attempt.
	fails     int
	firstFail time.Time
	retryAt   time.Time
	// names: the object names outputs recorded (see name.go), by owner;
	// only the goroutine flushing the chunk uses them.
	names map[string]string
}

type chunkState int

const (
	staged chunkState = iota
	queued
	inFlight
	gone
)

// store is where a chunk's frames live: a file or memory.
type store interface {
	// write appends one encoded frame with a single write.
	write(frame []byte) error
	// open returns a source of frame bodies.
	open() (frameSource, error)
	// enqueue marks the chunk queued (file: rename b<ID> to q<ID>).
	enqueue() error
	// purge deletes the chunk's data.
	purge() error
	// moveTo moves the chunk's data into dir (failed/); it returns the new path.
	moveTo(dir string) (string, error)
	// sync makes written frames durable (file only).
	sync() error
	// saveNames records the chunk's names (file: the sidecar file,
	// fsynced; see name.go).
	saveNames(names map[string]string) error
	// close releases open files, keeping the data.
	close() error
}

// frameSource yields frame bodies; a body is valid until the next call.
type frameSource interface {
	next() ([]byte, error)
	close() error
}

// Frame body: [u32 records][i64 first ns][i64 last ns][u16 tag len][tag]
// [mark][entries]. The mark is there only when the records field has
// markedFlag set (a frame of AppendMarked, see marks.go):
// [u8 kind][u16 source len][source][u64 seq][u32 value len][value].
const (
	frameHead   = 8  // [u32 body length][u32 crc32c of body]
	frameFixed  = 22 // fixed part of the body before the tag
	maxTagLen   = 1<<16 - 1
	maxFrameLen = 1<<32 - 1
	markedFlag  = 1 << 31
	// gzipFlag in the records field: the entries are one gzip member
	// (<buffer> compress gzip, compress.go).
	gzipFlag   = 1 << 30
	frameFlags = markedFlag | gzipFlag
)

// The kinds of a marked frame: part of a marked append, or its last frame,
// whose presence commits the mark and every frame of its append.
const (
	markPart   = 1
	markCommit = 2
)

// appendFrame encodes one frame onto dst.
func appendFrame(dst []byte, tag string, entries []byte, records int, first, last int64) []byte {
	start := len(dst)
	dst = beginFrame(dst, tag, nil)
	dst = append(dst, entries...)
	endFrame(dst[start:], records, first, last)
	return dst
}

// beginFrame starts a frame at the end of dst, with mark (an encoded mark,
// see appendMark) when it is not nil: the caller appends the entries and
// calls endFrame on the frame's bytes.
func beginFrame(dst []byte, tag string, mark []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, frameHead+frameFixed-2)...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(tag)))
	dst = append(dst, tag...)
	if mark != nil {
		binary.BigEndian.PutUint32(dst[start+frameHead:], markedFlag)
		dst = append(dst, mark...)
	}
	return dst
}

// endFrame fills in the counts, length and checksum of the frame in dst.
func endFrame(dst []byte, records int, first, last int64) []byte {
	body := dst[frameHead:]
	flag := binary.BigEndian.Uint32(body) & frameFlags
	binary.BigEndian.PutUint32(body, uint32(records)|flag)
	binary.BigEndian.PutUint64(body[4:], uint64(first))
	binary.BigEndian.PutUint64(body[12:], uint64(last))
	binary.BigEndian.PutUint32(dst, uint32(len(body)))
	binary.BigEndian.PutUint32(dst[4:], crc(body))
	return dst
}

// frameInfo is the decoded fixed part of a frame body.
type frameInfo struct {
	records     int
	first, last int64
	tag         []byte
	mark        frameMark // kind 0 when the frame has no mark
	entries     []byte
	gzipped     bool // entries are a gzip member
}

// frameMark is a decoded mark; source and value alias the frame.
type frameMark struct {
	kind   byte
	source []byte
	seq    uint64
	value  []byte
}

func parseBody(body []byte) (frameInfo, error) {
	var fi frameInfo
	if len(body) < frameFixed {
		return fi, fmt.Errorf("frame body of %d bytes is too short", len(body))
	}
	recs := binary.BigEndian.Uint32(body)
	fi.records = int(recs &^ frameFlags)
	fi.gzipped = recs&gzipFlag != 0
	fi.first = int64(binary.BigEndian.Uint64(body[4:]))
	fi.last = int64(binary.BigEndian.Uint64(body[12:]))
	n := int(binary.BigEndian.Uint16(body[20:]))
	if len(body) < frameFixed+n {
		return fi, fmt.Errorf("frame tag of %d bytes overruns the frame", n)
	}
	fi.tag = body[frameFixed : frameFixed+n]
	fi.entries = body[frameFixed+n:]
	if recs&markedFlag != 0 {
		var err error
		if fi.mark, fi.entries, err = parseMark(fi.entries); err != nil {
			return fi, err
		}
	}
	return fi, nil
}

// appendMark encodes a mark of kind markPart (endMark changes it).
func appendMark(dst []byte, m Mark) []byte {
	dst = append(dst, markPart)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(m.Source)))
	dst = append(dst, m.Source...)
	dst = binary.BigEndian.AppendUint64(dst, m.Seq)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(m.Value)))
	return append(dst, m.Value...)
}

func parseMark(b []byte) (frameMark, []byte, error) {
	var m frameMark
	bad := func(what string) (frameMark, []byte, error) {
		return m, nil, fmt.Errorf("frame mark: %s overruns the frame", what)
	}
	if len(b) < 3 {
		return bad("kind")
	}
	m.kind = b[0]
	if m.kind != markPart && m.kind != markCommit {
		return m, nil, fmt.Errorf("frame mark of unknown kind %d", m.kind)
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	b = b[3:]
	if len(b) < n+12 {
		return bad("source")
	}
	m.source, b = b[:n], b[n:]
	m.seq = binary.BigEndian.Uint64(b)
	v := binary.BigEndian.Uint32(b[8:])
	b = b[12:]
	if uint64(len(b)) < uint64(v) {
		return bad("value")
	}
	m.value, b = b[:v], b[v:]
	return m, b, nil
}

// Open returns a reader over the chunk's frames. Each Append call is stored as
// one frame, so a chunk whose tag is not a chunk key still knows every record's tag.
// The reader streams: memory use does not grow with the chunk's size.
func (c *Chunk) Open() (*Reader, error) {
	if c.st == nil {
		return nil, fmt.Errorf("chunk %s has no data", c.ID)
	}
	src, err := c.st.open()
	if err != nil {
		return nil, fmt.Errorf("open chunk %s: %w", c.ID, err)
	}
	return &Reader{src: src}, nil
}

// Reader reads a chunk frame by frame.
type Reader struct {
	src frameSource
	tag string
	gz  gunzipper // for the frames of <buffer> compress gzip
}

// Next returns the next frame: the tag and a canonical entries stream. The
// returned slice is valid until the next call. io.EOF at the end.
func (r *Reader) Next() (tag string, entries []byte, err error) {
	for {
		body, err := r.src.next()
		if err != nil {
			return "", nil, err
		}
		fi, err := parseBody(body)
		if err != nil {
			return "", nil, err
		}
		if len(fi.entries) == 0 {
			continue
		}
		if string(fi.tag) != r.tag {
			r.tag = string(fi.tag)
		}
		if fi.gzipped {
			entries, err := r.gz.gunzip(fi.entries)
			if err != nil {
				return "", nil, fmt.Errorf("gzipped frame: %w", err)
			}
			return r.tag, entries, nil
		}
		return r.tag, fi.entries, nil
	}
}

// Close releases the reader's file.
func (r *Reader) Close() error { return r.src.close() }

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
	return hex.EncodeToString(b[:])
}

// memSource reads the frames of a memory chunk.
type memSource struct{ frames [][]byte }

func (m *memSource) next() ([]byte, error) {
	if len(m.frames) == 0 {
		return nil, io.EOF
	}
	body, _, err := splitFrame(m.frames[0])
	if err != nil {
		return nil, err
	}
	m.frames = m.frames[1:]
	return body, nil
}

func (m *memSource) close() error { m.frames = nil; return nil }

// splitFrame checks the frame at the front of b and returns its body and
// total length.
func splitFrame(b []byte) (body []byte, n int, err error) {
	if len(b) < frameHead {
		return nil, 0, errTorn
	}
	l := int64(binary.BigEndian.Uint32(b))
	if l < frameFixed || int64(len(b)-frameHead) < l {
		return nil, 0, errTorn
	}
	body = b[frameHead : frameHead+int(l)]
	if crc(body) != binary.BigEndian.Uint32(b[4:]) {
		return nil, 0, errCRC
	}
	return body, frameHead + int(l), nil
}
