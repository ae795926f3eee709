package tail

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The pos_file's lines (see doc.go): Fluentd's three fields, then barge's.
//
//	/var/log/app.log<TAB>00000000000004d2<TAB>0000000000083f11<TAB>dev=0000000000000803<TAB>fp=1024:9f86d081884c7d659a2feaa0c55ad015<TAB>crc=1a2b3c4d
//	# barge-tail-positions 1 gen=42 entries=1 crc32c=0a1b2c3d

const (
	trailerPrefix = "# barge-tail-positions "
	trailerMagic  = trailerPrefix + "1"
	// unwatched is the position Fluentd writes for a file it stopped
	// following (PositionFile::UNWATCHED_POSITION).
	unwatched = math.MaxUint64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// needsQuote: a path Fluentd's line cannot hold as it is (its fields end at
// a tab, its lines at a newline) is written Go-quoted; so is a path that
// starts with a quote, so that the two cannot be confused.
func needsQuote(p string) bool {
	return strings.ContainsAny(p, "\t\n\r\x00") || strings.HasPrefix(p, `"`)
}

// appendEntryLine appends e's line, with its newline.
func appendEntryLine(b []byte, e Entry) []byte {
	start := len(b)
	if needsQuote(e.Path) {
		b = strconv.AppendQuote(b, e.Path)
	} else {
		b = append(b, e.Path...)
	}
	b = fmt.Appendf(b, "\t%016x\t%016x\tdev=%016x\tfp=%d:%x", e.Offset, e.ID.Ino, e.ID.Dev, e.ID.FP.Len, e.ID.FP.Sum)
	return fmt.Appendf(b, "\tcrc=%08x\n", crc32.Checksum(b[start:], castagnoli))
}

// encodePositions renders a whole pos_file, paths sorted. seq is the
// tailer's count of marked appends whose positions it holds (see
// marks.go); 0 is not written.
func encodePositions(gen, seq uint64, entries map[string]Entry) []byte {
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var b []byte
	for _, p := range paths {
		b = appendEntryLine(b, entries[p])
	}
	return appendTrailer(b, gen, seq, len(paths), crc32.Checksum(b, castagnoli))
}

func appendTrailer(b []byte, gen, seq uint64, n int, sum uint32) []byte {
	b = fmt.Appendf(b, "%s gen=%d entries=%d crc32c=%08x", trailerMagic, gen, n, sum)
	if seq > 0 {
		b = fmt.Appendf(b, " seq=%d", seq)
	}
	return append(b, '\n')
}

// posFile is a decoded pos_file.
type posFile struct {
	barge   bool // barge's format; else Fluentd's (or empty)
	gen     uint64
	seq     uint64 // see encodePositions
	entries map[string]Entry
	// Fluentd's format only: lines dropped, as Fluentd's loader drops them
	unwatched int   // the unwatched marker, or inode 0 (never followed)
	repeated  int   // a path an earlier line had: the last line wins
	bad       []int // numbers of the lines that do not parse
}

// decodePositions reads a pos_file. A file in barge's format (a line has
// barge's fields, or the trailer is there) must be whole: any damage is an
// error. A file in Fluentd's format has no checksum: its lines that do not
// parse are listed in bad and dropped.
func decodePositions(b []byte) (*posFile, error) {
	pf := &posFile{entries: map[string]Entry{}}
	lines := bytes.SplitAfter(b, []byte{'\n'})
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	for _, l := range lines {
		if bytes.Count(l, []byte{'\t'}) > 2 || bytes.HasPrefix(l, []byte(trailerPrefix)) {
			pf.barge = true
			break
		}
	}
	if pf.barge {
		return pf, pf.decodeBarge(b, lines)
	}
	for i, l := range lines {
		line, ok := bytes.CutSuffix(l, []byte{'\n'})
		e, err := parseFluentdLine(string(line))
		switch {
		case !ok || err != nil:
			pf.bad = append(pf.bad, i+1)
		case e.Offset < 0:
			pf.unwatched++
		default:
			if _, dup := pf.entries[e.Path]; dup {
				pf.repeated++
			}
			pf.entries[e.Path] = e
		}
	}
	return pf, nil
}

func (pf *posFile) decodeBarge(b []byte, lines [][]byte) error {
	if len(lines) == 0 || b[len(b)-1] != '\n' {
		return errors.New("truncated: no final newline")
	}
	last := lines[len(lines)-1]
	var n int
	var sum uint32
	tr, seq, hasSeq := strings.Cut(string(last[:len(last)-1]), " seq=")
	if _, err := fmt.Sscanf(tr, trailerMagic+" gen=%d entries=%d crc32c=%08x", &pf.gen, &n, &sum); err != nil {
		return fmt.Errorf("truncated: no trailer line: %v", err)
	}
	if hasSeq {
		v, err := strconv.ParseUint(seq, 10, 64)
		if err != nil || v == 0 {
			return fmt.Errorf("trailer: bad seq %q", seq)
		}
		pf.seq = v
	}
	if !bytes.Equal(appendTrailer(nil, pf.gen, pf.seq, n, sum), last) {
		return fmt.Errorf("trailer line %q is not as written", last)
	}
	body := b[:len(b)-len(last)]
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return fmt.Errorf("checksum %08x, trailer says %08x", got, sum)
	}
	if n != len(lines)-1 {
		return fmt.Errorf("%d entries, trailer says %d", len(lines)-1, n)
	}
	for i, l := range lines[:len(lines)-1] {
		e, err := parseBargeLine(string(l[:len(l)-1]))
		if err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
		if _, dup := pf.entries[e.Path]; dup {
			return fmt.Errorf("line %d: path %q repeated", i+1, e.Path)
		}
		pf.entries[e.Path] = e
	}
	return nil
}

// parseFluentdLine parses Fluentd's "PATH\tPOS\tINODE" (hex of 1 to 16
// digits, as Fluentd's loader, whose pattern is
// ^([^\t]+)\t([0-9a-fA-F]+)\t([0-9a-fA-F]+)). The unwatched marker and
// inode 0 (a line Fluentd wrote for a file it had not read yet) give an
// Offset of -1.
func parseFluentdLine(line string) (Entry, error) {
	f := strings.Split(line, "\t")
	if len(f) != 3 || f[0] == "" {
		return Entry{}, errors.New("want PATH<TAB>POS<TAB>INODE")
	}
	pos, err1 := parseHex(f[1], false)
	ino, err2 := parseHex(f[2], false)
	if err1 != nil || err2 != nil {
		return Entry{}, errors.New("bad hex number")
	}
	e := Entry{Path: f[0], Offset: int64(pos), ID: Identity{Ino: ino}}
	switch {
	case pos == unwatched || ino == 0:
		e.Offset = -1
	case pos > math.MaxInt64:
		return Entry{}, errors.New("position out of range")
	}
	return e, nil
}

// parseBargeLine parses a line barge wrote (without its newline): the
// checksum first, then each field in its canonical form.
func parseBargeLine(line string) (Entry, error) {
	body, crc, ok := strings.Cut(line, "\tcrc=")
	sum, err := strconv.ParseUint(crc, 16, 32)
	if !ok || err != nil || len(crc) != 8 || uint32(sum) != crc32.Checksum([]byte(body), castagnoli) {
		return Entry{}, errors.New("bad line checksum")
	}
	f := strings.Split(body, "\t")
	if len(f) != 5 {
		return Entry{}, errors.New("want 5 fields before crc")
	}
	p := f[0]
	if strings.HasPrefix(p, `"`) {
		q, err := strconv.Unquote(p)
		if err != nil || !needsQuote(q) || strconv.Quote(q) != p {
			return Entry{}, fmt.Errorf("bad quoted path %s", p)
		}
		p = q
	}
	var e Entry
	var pos uint64
	e.Path = p
	pos, err = parseHex(f[1], true)
	if err == nil {
		e.ID.Ino, err = parseHex(f[2], true)
	}
	dev, ok1 := strings.CutPrefix(f[3], "dev=")
	if err == nil && ok1 {
		e.ID.Dev, err = parseHex(dev, true)
	}
	if err != nil || !ok1 || pos > math.MaxInt64 {
		return Entry{}, errors.New("bad position, inode or device")
	}
	e.Offset = int64(pos)
	fp, ok := strings.CutPrefix(f[4], "fp=")
	n, sumHex, ok2 := strings.Cut(fp, ":")
	e.ID.FP.Len, err = strconv.Atoi(n)
	if !ok || !ok2 || err != nil || n != strconv.Itoa(e.ID.FP.Len) || e.ID.FP.Len < 0 || e.ID.FP.Len > FingerprintSize ||
		len(sumHex) != 32 || strings.ToLower(sumHex) != sumHex {
		return Entry{}, errors.New("bad fingerprint")
	}
	if _, err := hex.Decode(e.ID.FP.Sum[:], []byte(sumHex)); err != nil || e.ID.FP.Len == 0 && e.ID.FP.Sum != [16]byte{} {
		return Entry{}, errors.New("bad fingerprint")
	}
	return e, nil
}

// parseHex parses 1 to 16 hex digits; canonical asks for barge's 16
// lower-case ones.
func parseHex(s string, canonical bool) (uint64, error) {
	if s == "" || len(s) > 16 || canonical && (len(s) != 16 || strings.ToLower(s) != s) {
		return 0, errors.New("bad hex")
	}
	return strconv.ParseUint(s, 16, 64)
}

// salvage returns the entries of the lines of a damaged pos_file in
// barge's format whose own checksum holds (later lines win).
func salvage(b []byte) map[string]Entry {
	out := map[string]Entry{}
	for l := range bytes.Lines(b) {
		line, ok := bytes.CutSuffix(l, []byte{'\n'})
		if e, err := parseBargeLine(string(line)); ok && err == nil {
			out[e.Path] = e
		}
	}
	return out
}
