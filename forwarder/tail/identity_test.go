package tail

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// stored is fp as read back from the pos_file: without its bytes.
func stored(id Identity) Identity {
	id.FP.head = nil
	return id
}

func TestFingerprintMatch(t *testing.T) {
	long := bytes.Repeat([]byte("0123456789"), 200) // 2000 bytes
	full := NewFingerprint(long)
	short := NewFingerprint(long[:10])
	other := NewFingerprint([]byte("9123456789"))
	cases := []struct {
		name string
		a, b Fingerprint
		want bool
	}{
		{"same", full, NewFingerprint(long), true},
		{"capped at 1 KiB", full, NewFingerprint(long[:FingerprintSize]), true},
		{"short prefix of long", short, full, true},
		{"long and short", full, short, true},
		{"short stored, long in memory", stored(Identity{FP: short}).FP, full, true},
		{"long stored, short in memory", stored(Identity{FP: full}).FP, short, false},
		{"both stored, lengths differ", stored(Identity{FP: short}).FP, stored(Identity{FP: full}).FP, false},
		{"both stored, equal", stored(Identity{FP: full}).FP, stored(Identity{FP: full}).FP, true},
		{"other bytes", other, short, false},
		{"other bytes, prefix", other, full, false},
		{"empty matches all", Fingerprint{}, full, true},
		{"empty of nothing", NewFingerprint(nil), Fingerprint{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.Match(tc.b); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
	if full.Len != FingerprintSize || short.Len != 10 || !reflect.DeepEqual(NewFingerprint(nil), Fingerprint{}) {
		t.Errorf("lengths %d %d, empty %+v", full.Len, short.Len, NewFingerprint(nil))
	}
}

func TestDecide(t *testing.T) {
	fp := NewFingerprint([]byte(strings.Repeat("x", 2000)))
	id := Identity{Dev: 8, Ino: 100, FP: fp}
	e := Entry{Path: "/a", Offset: 500, ID: stored(id)}
	other := NewFingerprint([]byte(strings.Repeat("y", 2000)))
	cases := []struct {
		name   string
		e      Entry
		cur    Identity
		size   int64
		off    int64
		reason Verdict
	}{
		{"resume", e, id, 600, 500, Resume},
		{"resume at end", e, id, 500, 500, Resume},
		{"truncated", e, Identity{Dev: 8, Ino: 100}, 0, 0, Truncated},
		{"truncated, gz size unknown", e, id, -1, 500, Resume},
		{"rewritten after truncation", e, Identity{Dev: 8, Ino: 100, FP: other}, 5000, 0, Replaced},
		{"other inode", e, Identity{Dev: 8, Ino: 101, FP: fp}, 600, 0, Replaced},
		{"other device", e, Identity{Dev: 9, Ino: 100, FP: fp}, 600, 0, Replaced},
		{"fluentd position: inode only", Entry{Path: "/a", Offset: 500, ID: Identity{Ino: 100}}, id, 600, 500, Resume},
		{"fluentd position, other inode", Entry{Path: "/a", Offset: 500, ID: Identity{Ino: 7}}, id, 600, 0, Replaced},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			off, v := Decide(tc.e, tc.cur, tc.size)
			if off != tc.off || v != tc.reason {
				t.Errorf("Decide = %d %v, want %d %v", off, v, tc.off, tc.reason)
			}
		})
	}
}

func readID(t *testing.T, path string) Identity {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(7, 0); err != nil {
		t.Fatal(err)
	}
	id, fi, err := ReadIdentity(f)
	if err != nil {
		t.Fatal(err)
	}
	if off, _ := f.Seek(0, 1); off != 7 {
		t.Errorf("ReadIdentity moved the offset to %d", off)
	}
	if int64(id.FP.Len) != min(fi.Size(), FingerprintSize) {
		t.Errorf("fingerprint of %d bytes for a file of %d", id.FP.Len, fi.Size())
	}
	return id
}

// TestIdentityFiles follows real files through renames, appends,
// truncation, deletion and recreation, and symbolic links.
func TestIdentityFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	put(t, a, "first line\n")
	short := readID(t, a)

	t.Run("grown past the fingerprint", func(t *testing.T) {
		f, err := os.OpenFile(a, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(strings.Repeat("more lines\n", 200))
		f.Close()
		long := readID(t, a)
		if !stored(short).Same(long) || !long.Same(short) {
			t.Fatal("a file grown is not the same")
		}
	})
	long := readID(t, a)
	t.Run("renamed", func(t *testing.T) {
		if err := os.Rename(a, b); err != nil {
			t.Fatal(err)
		}
		if !stored(long).Same(readID(t, b)) {
			t.Fatal("a file renamed is not the same")
		}
	})
	t.Run("symlink", func(t *testing.T) {
		l := filepath.Join(dir, "link.log")
		if err := os.Symlink(b, l); err != nil {
			t.Fatal(err)
		}
		if !readID(t, l).Same(readID(t, b)) {
			t.Fatal("a link's identity is not its target's")
		}
	})
	t.Run("truncated", func(t *testing.T) {
		if err := os.Truncate(b, 0); err != nil {
			t.Fatal(err)
		}
		cur := readID(t, b)
		if _, v := Decide(Entry{Path: b, Offset: 2211, ID: stored(long)}, cur, 0); v != Truncated {
			t.Fatalf("verdict %v", v)
		}
		put(t, b, strings.Repeat("new content\n", 300)) // rewritten in place, past the old offset
		if _, v := Decide(Entry{Path: b, Offset: 2211, ID: stored(long)}, readID(t, b), 3600); v != Replaced {
			t.Fatalf("rewritten: verdict %v", v)
		}
	})
	t.Run("delete and recreate", func(t *testing.T) {
		// deleting and creating at once usually reuses the inode (ext4,
		// tmpfs): different first bytes must still make another file
		reused, same := 0, 0
		for i := range 20 {
			before := readID(t, b)
			if err := os.Remove(b); err != nil {
				t.Fatal(err)
			}
			content := strings.Repeat("new content\n", 300)
			if i%2 == 1 {
				content = strings.Repeat("other file "+string(rune('a'+i)), 100)
			}
			put(t, b, content)
			after := readID(t, b)
			if after.Ino == before.Ino {
				reused++
			}
			if stored(before).Same(after) {
				same++
				if i%2 == 1 || after.Ino != before.Ino {
					t.Fatalf("round %d: a new file with other first bytes taken for the old one", i)
				}
			}
		}
		t.Logf("inode reused in %d of 20 recreations; %d taken for the old file (same first bytes, the documented limit)", reused, same)
	})
}
