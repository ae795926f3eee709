package tail

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// FingerprintSize is how many of a file's first bytes its fingerprint
// covers.
const FingerprintSize = 1024

// Fingerprint stands for a file's first bytes: Len of them (the file's
// size when it was shorter than FingerprintSize) and the first 16 bytes of
// their SHA-256 (zero when Len is 0). A Fingerprint taken in this process also holds the bytes
// themselves, so that it can be compared with a shorter one; one read back
// from the pos_file holds only Len and Sum.
type Fingerprint struct {
	Len  int
	Sum  [16]byte
	head []byte
}

// NewFingerprint returns the fingerprint of a file whose first bytes are
// head (at most FingerprintSize of them are used, and copied).
func NewFingerprint(head []byte) Fingerprint {
	if len(head) == 0 {
		return Fingerprint{}
	}
	head = bytes.Clone(head[:min(len(head), FingerprintSize)])
	return Fingerprint{Len: len(head), Sum: fingerprintSum(head), head: head}
}

func fingerprintSum(b []byte) [16]byte {
	s := sha256.Sum256(b)
	return [16]byte(s[:16])
}

// ReadFingerprint reads the first FingerprintSize bytes of r (fewer at its
// end) and returns their fingerprint. The tailer gives a .gz file's
// decompressed stream, so that a rotated file compressed keeps its
// fingerprint.
func ReadFingerprint(r io.Reader) (Fingerprint, error) {
	buf := make([]byte, FingerprintSize)
	n, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return Fingerprint{}, err
	}
	return NewFingerprint(buf[:n]), nil
}

// Match reports whether a and b may be fingerprints of the same file: the
// shorter one is the fingerprint of the longer one's first bytes. When
// they are equally long their sums must be equal; when not, the longer
// one must hold its bytes (be taken in this process), else they do not
// match. A Len of 0 (an empty file, or a position from Fluentd's
// pos_file) matches every fingerprint.
func (a Fingerprint) Match(b Fingerprint) bool {
	if a.Len > b.Len {
		a, b = b, a
	}
	switch {
	case a.Len == 0:
		return true
	case a.Len == b.Len:
		return a.Sum == b.Sum
	case len(b.head) >= a.Len:
		return fingerprintSum(b.head[:a.Len]) == a.Sum
	}
	return false
}

// Identity tells files apart: the device and inode of the file, and the
// fingerprint of its first bytes. Dev 0 means unknown (a position read
// from Fluentd's pos_file, which records only the inode).
type Identity struct {
	Dev, Ino uint64
	FP       Fingerprint
}

// Same reports whether a and b are the same file: the same inode on the
// same device (unless either Dev is unknown), and matching fingerprints
// (Fingerprint.Match). Thus a file renamed is the same file; an inode
// reused by a file with other first bytes is another file; and a file
// fingerprinted while shorter than FingerprintSize is the same as itself
// fingerprinted later, longer. A file replaced by one with the same first
// bytes at a reused inode is taken for the same: see doc.go.
func (a Identity) Same(b Identity) bool {
	if a.Ino != b.Ino || a.Dev != 0 && b.Dev != 0 && a.Dev != b.Dev {
		return false
	}
	return a.FP.Match(b.FP)
}

// ReadIdentity returns the identity of the open file f, and its stat.
// The fingerprint is read at offset 0 with ReadAt, so f's offset does not
// move.
func ReadIdentity(f *os.File) (Identity, fs.FileInfo, error) {
	fi, err := f.Stat()
	if err != nil {
		return Identity{}, nil, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	dev, ino, ok := fileID(fi)
	if !ok {
		return Identity{}, nil, fmt.Errorf("stat %s: no device and inode", f.Name())
	}
	fp, err := ReadFingerprint(io.NewSectionReader(f, 0, FingerprintSize))
	if err != nil {
		return Identity{}, nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	return Identity{Dev: dev, Ino: ino, FP: fp}, fi, nil
}

// Verdict says where a file is read from, given its position.
type Verdict int

const (
	// Resume: the same file, not shorter than the position; read on from
	// the position.
	Resume Verdict = iota
	// Truncated: the same file (inode and first bytes), shorter than the
	// position: it was truncated (copytruncate) and is read from 0.
	Truncated
	// Replaced: another file is at the position's path (rotated, deleted
	// and recreated, an inode reused with other first bytes, or truncated
	// and written again): read from 0.
	Replaced
)

func (v Verdict) String() string {
	switch v {
	case Resume:
		return "resume"
	case Truncated:
		return "truncated"
	case Replaced:
		return "replaced"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// Decide says where to read a file of identity cur and size from, given
// its position e: e.Offset when it is the same file and the offset is
// within it, else 0. size is that of the bytes offsets count (the
// decompressed size for a .gz file; there, pass a size of -1 to skip the
// check). The fingerprint check catches what the size alone cannot: a file
// truncated and then written past the old offset before it was looked at.
func Decide(e Entry, cur Identity, size int64) (int64, Verdict) {
	switch {
	case !e.ID.Same(cur):
		return 0, Replaced
	case size >= 0 && e.Offset > size:
		return 0, Truncated
	}
	return e.Offset, Resume
}
