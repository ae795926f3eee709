package buffer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Chunk ids name what outputs write (files, objects), so two chunk files
// with one id would overwrite or shadow each other. Recovery keeps every
// id unique: the second file with an id gets a new one (renumber), and a
// file whose header id differs from its name takes its name's id.

// renumber gives a recovered chunk a new random id: it renames the file to
// the new id, then writes the id into the header. A crash between the two
// leaves a file whose name wins at the next recovery.
func (b *Buffer) renumber(c *Chunk) error {
	s := c.st.(*fileStore)
	dir, base := filepath.Split(s.path)
	var id, to string
	for {
		id = newID()
		to = filepath.Join(dir, base[:1]+id+chunkSuffix)
		if _, err := os.Lstat(to); errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err := os.Rename(s.path, to); err != nil {
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	if err := setHeaderID(s.f, id); err != nil {
		return err
	}
	b.log.Warn("chunk file had the id of another: given a new one", "chunk_id", id, "path", to, "old_id", c.ID, "old_path", s.path)
	s.path = to
	c.ID = id
	return nil
}

// setHeaderID writes id into the header of the chunk file f, with the
// header checksum, in one write, and fsyncs it.
func setHeaderID(f *os.File, id string) error {
	raw, err := hexDecode(id)
	if err != nil {
		return err
	}
	var p [headPrefix]byte
	if _, err := f.ReadAt(p[:], 0); err != nil {
		return err
	}
	hl := binary.BigEndian.Uint32(p[8:])
	if hl < 16 || hl > maxHeader {
		return fmt.Errorf("%w: header of %d bytes", errHeader, hl)
	}
	body := make([]byte, hl)
	if _, err := f.ReadAt(body, headPrefix); err != nil {
		return err
	}
	copy(body, raw[:])
	w := binary.BigEndian.AppendUint32(make([]byte, 0, 20), crc(body))
	w = append(w, raw[:]...)
	if _, err := f.WriteAt(w, 12); err != nil { // crc at 12, id at 16: contiguous
		return err
	}
	return f.Sync()
}

// validID reports whether s is a chunk id: 32 lowercase hex characters.
func validID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}
