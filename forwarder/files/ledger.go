package files

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/barge-dev/barge/forwarder/internal/statefile"
)

// state is where a file version is in its transfer.
type state uint8

const (
	stateReading state = iota + 1 // some batches may be appended; records/offset say how far
	stateShipped                  // every record appended
	stateFailed                   // a bad file: reported, not retried until it changes
)

var stateNames = [...]string{stateReading: "reading", stateShipped: "shipped", stateFailed: "failed"}

func (s state) String() string { return stateNames[s] }

// entry is the ledger's line about one path: the version last seen there
// and how far its transfer got.
type entry struct {
	state   state
	size    int64
	mtime   int64 // nanoseconds since the epoch
	hash    [32]byte
	records int64 // records acknowledged (appended with a nil error)
	offset  int64 // byte offset of the decoded input after the last acknowledged record
	// seq is the seq of the buffer mark that acknowledged the last batch
	// of this path (see marks.go); 0 when none did. It never decreases.
	seq uint64
}

const ledgerMagic = "barge-files-ledger 1"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeLedger renders the ledger file (see doc.go), paths sorted.
func encodeLedger(gen uint64, entries map[string]*entry) []byte {
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	b := fmt.Appendf(nil, "%s gen=%d\n", ledgerMagic, gen)
	for _, p := range paths {
		b = append(appendEntry(b, p, entries[p]), '\n')
	}
	return fmt.Appendf(b, "end entries=%d crc32c=%08x\n", len(paths), crc32.Checksum(b, castagnoli))
}

// appendEntry appends the line of an entry, without its newline.
func appendEntry(b []byte, p string, e *entry) []byte {
	b = fmt.Appendf(b, "%s size=%d mtime=%s sha256=%x records=%d offset=%d ",
		e.state, e.size, formatMtime(e.mtime), e.hash, e.records, e.offset)
	if e.seq > 0 {
		b = fmt.Appendf(b, "seq=%d ", e.seq)
	}
	return append(append(b, "path="...), strconv.Quote(p)...)
}

// formatMtime writes nanoseconds as seconds.nanoseconds (floored seconds).
func formatMtime(ns int64) string {
	t := time.Unix(0, ns)
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

func parseMtime(s string) (int64, error) {
	secS, nsS, ok := strings.Cut(s, ".")
	if !ok || len(nsS) != 9 {
		return 0, errors.New("mtime is not seconds.nanoseconds")
	}
	sec, err1 := strconv.ParseInt(secS, 10, 64)
	ns, err2 := strconv.ParseUint(nsS, 10, 32)
	if err1 != nil || err2 != nil || ns >= 1e9 || sec < -9e9 || sec > 9e9 {
		return 0, errors.New("mtime out of range")
	}
	return time.Unix(sec, int64(ns)).UnixNano(), nil
}

// decodeLedger parses a ledger file. Any damage (a missing end line, a
// checksum mismatch, a line that does not parse) is an error: the caller
// then falls back to another version.
func decodeLedger(b []byte) (uint64, map[string]*entry, error) {
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return 0, nil, errors.New("truncated: no final newline")
	}
	endAt := bytes.LastIndexByte(b[:len(b)-1], '\n') + 1
	if endAt == 0 {
		return 0, nil, errors.New("truncated: no end line")
	}
	var n int
	var sum uint32
	if _, err := fmt.Sscanf(string(b[endAt:]), "end entries=%d crc32c=%08x\n", &n, &sum); err != nil {
		return 0, nil, fmt.Errorf("truncated: bad end line: %v", err)
	}
	body := b[:endAt]
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return 0, nil, fmt.Errorf("checksum %08x, end line says %08x", got, sum)
	}
	lines := strings.Split(string(body[:len(body)-1]), "\n")
	head, genS, ok := strings.Cut(lines[0], " gen=")
	if !ok || head != ledgerMagic {
		return 0, nil, fmt.Errorf("line 1: not a %q header", ledgerMagic)
	}
	gen, err := strconv.ParseUint(genS, 10, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("line 1: bad gen %q", genS)
	}
	if n != len(lines)-1 {
		return 0, nil, fmt.Errorf("%d entries, end line says %d", len(lines)-1, n)
	}
	entries := make(map[string]*entry, n)
	for i, line := range lines[1:] {
		p, e, err := parseEntry(line)
		if err != nil {
			return 0, nil, fmt.Errorf("line %d: %w", i+2, err)
		}
		if entries[p] != nil {
			return 0, nil, fmt.Errorf("line %d: path %q repeated", i+2, p)
		}
		entries[p] = e
	}
	return gen, entries, nil
}

func parseEntry(line string) (string, *entry, error) {
	f := strings.SplitN(line, " ", 8)
	if len(f) == 8 && !strings.HasPrefix(f[6], "seq=") {
		f = strings.SplitN(line, " ", 7) // the path holds a space
	}
	if len(f) != 7 && len(f) != 8 {
		return "", nil, errors.New("want 7 or 8 fields")
	}
	e := &entry{}
	switch f[0] {
	case "reading":
		e.state = stateReading
	case "shipped":
		e.state = stateShipped
	case "failed":
		e.state = stateFailed
	default:
		return "", nil, fmt.Errorf("unknown state %q", f[0])
	}
	val := func(i int, key string) (string, error) {
		v, ok := strings.CutPrefix(f[i], key+"=")
		if !ok {
			return "", fmt.Errorf("field %d is not %s=", i+1, key)
		}
		return v, nil
	}
	num := func(i int, key string) (int64, error) {
		v, err := val(i, key)
		if err != nil {
			return 0, err
		}
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil || x < 0 || v != strconv.FormatInt(x, 10) {
			return 0, fmt.Errorf("bad %s %q", key, v)
		}
		return x, nil
	}
	var err error
	if e.size, err = num(1, "size"); err != nil {
		return "", nil, err
	}
	mt, err := val(2, "mtime")
	if err != nil {
		return "", nil, err
	}
	if e.mtime, err = parseMtime(mt); err != nil {
		return "", nil, err
	}
	h, err := val(3, "sha256")
	if err != nil {
		return "", nil, err
	}
	if len(h) != 64 || strings.ToLower(h) != h {
		return "", nil, errors.New("bad sha256")
	}
	if _, err := hex.Decode(e.hash[:], []byte(h)); err != nil {
		return "", nil, errors.New("bad sha256")
	}
	if e.records, err = num(4, "records"); err != nil {
		return "", nil, err
	}
	if e.offset, err = num(5, "offset"); err != nil {
		return "", nil, err
	}
	if len(f) == 8 {
		v, err := val(6, "seq")
		if err != nil {
			return "", nil, err
		}
		if e.seq, err = strconv.ParseUint(v, 10, 64); err != nil || e.seq == 0 || v != strconv.FormatUint(e.seq, 10) {
			return "", nil, fmt.Errorf("bad seq %q", v)
		}
	}
	q, err := val(len(f)-1, "path")
	if err != nil {
		return "", nil, err
	}
	p, err := strconv.Unquote(q)
	if err != nil || p == "" || strconv.Quote(p) != q {
		return "", nil, fmt.Errorf("bad path %s", q)
	}
	return p, e, nil
}

// ledger is the pos_file: the entries in memory and their copy on disk,
// a snapshot (the pos_file) and a journal of the changes since
// (NAME.journal). See doc.go for the files and what a crash leaves.
type ledger struct {
	path    string
	gen     uint64 // of the snapshot on disk, and of the journal
	entries map[string]*entry
	fsync   bool // pos_file_fsync
	// dirty is set when a write failed: the files may lag memory, so the
	// next write is a whole snapshot, and nothing that needs a durable
	// mark (after_transfer) may happen until one is written.
	dirty bool

	journal  *os.File // open for appending; nil until a snapshot opens it
	jsize    int64    // bytes in the journal
	jlines   int      // changes in the journal
	snapSize int64    // bytes of the last snapshot
	line     []byte   // scratch
}

// save writes a whole snapshot atomically and starts a new journal: the
// snapshot goes to NAME.tmp, the current NAME becomes NAME.prev and
// NAME.tmp becomes NAME; then the journal, whose changes NAME now holds,
// becomes NAME.journal.prev and an empty one is started. With fsync, the
// temporary file, the directory and the new journal are fsynced.
func (l *ledger) save() error {
	l.gen++
	l.dirty = true
	b := encodeLedger(l.gen, l.entries)
	tmp := l.path + ".tmp"
	if err := statefile.Write(tmp, b, l.fsync); err != nil {
		return fmt.Errorf("write pos_file %s: %w", tmp, err)
	}
	if err := os.Rename(l.path, l.path+".prev"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write pos_file: %w", err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		return fmt.Errorf("write pos_file: %w", err)
	}
	if l.fsync {
		if err := statefile.SyncDir(filepath.Dir(l.path)); err != nil {
			return fmt.Errorf("write pos_file: %w", err)
		}
	}
	l.snapSize = int64(len(b))
	if err := l.startJournal(); err != nil {
		return fmt.Errorf("write pos_file journal: %w", err)
	}
	l.dirty = false
	return nil
}
