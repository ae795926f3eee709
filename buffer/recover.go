package buffer

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// recover resumes the chunk files in the buffer directory. Called by Open
// with b.mu held.
func (b *Buffer) recover(ctx context.Context) (Recovery, error) {
	var rec Recovery
	ents, err := os.ReadDir(b.cfg.Path)
	if err != nil {
		return rec, fmt.Errorf("read buffer directory: %w", err)
	}
	var queuedRec []*Chunk
	type found struct {
		c      *Chunk
		staged bool // a b<ID> file
		run    []markedFrame
	}
	var all []found
	seen := make(map[string]bool) // chunk ids
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, chunkSuffix) || (name[0] != 'b' && name[0] != 'q') {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rec, err
		}
		path := filepath.Join(b.cfg.Path, name)
		if !e.Type().IsRegular() {
			// A symlink is never followed: it could point anywhere, and
			// recovery truncates and moves what it opens.
			rec.Corrupt += b.moveIrregular(path, e.Type())
			continue
		}
		c, run, corrupt := b.recoverFile(path)
		rec.Corrupt += corrupt
		if c == nil {
			continue
		}
		if seen[c.ID] {
			// Another file holds the same id (a copy): outputs name their
			// files and objects after the id, so one would overwrite or
			// shadow the other. This one gets an id of its own.
			if err := b.renumber(c); err != nil {
				c.st.close()
				b.log.Error("chunk file with the id of another left as it is; it is tried again at the next start",
					"chunk_id", c.ID, "path", path, "err", err)
				continue
			}
		}
		seen[c.ID] = true
		b.loadNames(c)
		all = append(all, found{c, name[0] == 'b', run})
	}
	b.removeOrphanNames(ents, seen)
	b.cleanSpools()
	// The marks committed are known once every chunk was read: cut off
	// the frames of a marked append that never returned.
	b.loadMarks()
	for _, f := range all {
		c := f.c
		n, err := b.dropUncommitted(c, f.run)
		if err != nil {
			c.st.close()
			b.log.Error("chunk left as it is; it is tried again at the next start", "chunk_id", c.ID, "err", err)
			continue
		}
		if n > 0 {
			rec.Uncommitted += n
			b.log.Info("records of an append that never returned dropped; their input reads them again", "chunk_id", c.ID, "records", n)
		}
		if c.Records == 0 {
			if err := c.st.purge(); err != nil {
				b.log.Error("remove empty chunk file", "chunk_id", c.ID, "err", err)
			}
			continue
		}
		rec.Chunks++
		rec.Bytes += c.Size
		if f.staged && b.stageRecovered(c) {
			continue
		}
		queuedRec = append(queuedRec, c)
	}
	if failed, _ := filepath.Glob(filepath.Join(b.cfg.Path, "failed", "*"+chunkSuffix)); len(failed) > 0 {
		b.log.Warn("chunks set aside earlier (out of retries, permanent errors, rejected records) are kept in failed/", "path", filepath.Join(b.cfg.Path, "failed"), "chunks", len(failed))
	}
	slices.SortFunc(queuedRec, func(x, y *Chunk) int { return x.Created.Compare(y.Created) })
	for _, c := range queuedRec {
		c.state = queued
		b.queue = append(b.queue, c)
		b.stats.QueuedChunks++
		b.stats.QueuedBytes += c.Size
	}
	return rec, nil
}

// stageRecovered keeps a recovered b<ID> chunk staged when its metadata
// matches the current chunk keys and no other chunk holds it.
func (b *Buffer) stageRecovered(c *Chunk) bool {
	if b.mode == "immediate" || (c.Tag != "") != b.keys.tag || (!c.TimeKey.IsZero()) != b.keys.time ||
		len(c.Keys) != len(b.keys.records) {
		return false
	}
	key := make([]byte, 0, 32)
	if b.keys.routes() {
		key = append(key, c.Tag...)
		key = append(key, 0)
		var tk int64
		if b.keys.time {
			tk = c.TimeKey.Unix()
		}
		key = binary.BigEndian.AppendUint64(key, uint64(tk))
		for _, k := range b.keys.records {
			v, ok := c.Keys[k]
			if !ok {
				return false
			}
			key = binary.BigEndian.AppendUint32(key, uint32(len(v)))
			key = append(key, v...)
		}
	} else {
		key = append(key, c.Tag...)
	}
	if _, dup := b.staged[string(key)]; dup {
		return false
	}
	c.meta = string(key)
	c.state = staged
	b.staged[c.meta] = c
	b.stats.StagedChunks++
	b.stats.StagedBytes += c.Size
	return true
}

// recoverFile reads one chunk file. A torn tail is cut off and moved to
// corrupt/; an unreadable file is moved to corrupt/ whole. It returns the
// chunk (nil when nothing is left), the marked frames at its end (see
// dropUncommitted) and how many pieces went to corrupt/. The marks that
// its frames commit are recorded in b.marks.
func (b *Buffer) recoverFile(path string) (*Chunk, []markedFrame, int) {
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOFOLLOW, 0)
	if err != nil {
		b.log.Error("open chunk file", "path", path, "err", err)
		return nil, nil, 0
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", fi.Mode().Type())
	}
	if err != nil {
		f.Close()
		b.log.Error("stat chunk file", "path", path, "err", err)
		return nil, nil, 0
	}
	size := fi.Size()
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 64<<10)
	c, off, err := decodeHeader(r)
	base := filepath.Base(path)
	if nameID := base[1 : len(base)-len(chunkSuffix)]; err == nil && c.ID != nameID {
		// The name wins when it is an id: a re-numbering (see renumber)
		// interrupted between the rename and the header, or a copy made
		// under another name.
		if !validID(nameID) {
			err = fmt.Errorf("%w: id %s does not match the file name", errHeader, c.ID)
		} else if err = setHeaderID(f, nameID); err == nil {
			b.log.Warn("chunk header id differs from its file name: the name's id is kept", "chunk_id", nameID, "path", path)
			c.ID = nameID
		}
	}
	if err != nil {
		f.Close()
		to, merr := b.moveCorrupt(path, "")
		if merr != nil {
			b.log.Error("unreadable chunk file could not be moved to corrupt/", "path", path, "err", errors.Join(err, merr))
		} else {
			b.log.Error("unreadable chunk file moved to corrupt/", "path", to, "bytes", size, "err", err)
		}
		return nil, nil, 1
	}
	end, torn := int64(off), false
	var buf []byte
	var run []markedFrame
	for end < size {
		var h [frameHead]byte
		if size-end < frameHead {
			torn = true
			break
		}
		if _, err := io.ReadFull(r, h[:]); err != nil {
			torn = true
			break
		}
		l := int64(binary.BigEndian.Uint32(h[:]))
		if l < frameFixed || end+frameHead+l > size {
			torn = true
			break
		}
		buf = slices.Grow(buf[:0], int(l))[:l]
		if _, err := io.ReadFull(r, buf); err != nil || crc(buf) != binary.BigEndian.Uint32(h[4:]) {
			torn = true
			break
		}
		fr, err := parseBody(buf)
		if err != nil {
			torn = true
			break
		}
		switch fr.mark.kind {
		case 0:
			run = run[:0]
		case markCommit:
			c.commits = true
			b.committed(Mark{Source: string(fr.mark.source), Seq: fr.mark.seq, Value: fr.mark.value})
			fallthrough
		default:
			run = append(run, markedFrame{off: end, records: fr.records, size: fr.size(), source: string(fr.mark.source), seq: fr.mark.seq})
		}
		if fr.records > 0 {
			if c.Records == 0 {
				c.fnano, c.lnano = fr.first, fr.last
			}
			c.fnano, c.lnano = min(c.fnano, fr.first), max(c.lnano, fr.last)
			c.Records += fr.records
			c.Size += fr.size()
		}
		end += frameHead + l
	}
	corrupt := 0
	if torn {
		corrupt = 1
		if err := b.cutTail(f, path, end, size); err != nil {
			f.Close()
			b.log.Error("torn chunk tail could not be cut", "path", path, "err", err)
			return nil, nil, corrupt
		}
	}
	if c.Records == 0 {
		f.Close()
		if err := os.Remove(path); err != nil {
			b.log.Error("remove empty chunk file", "path", path, "err", err)
		}
		return nil, nil, corrupt
	}
	c.First, c.Last = time.Unix(0, c.fnano), time.Unix(0, c.lnano)
	if !c.TimeKey.IsZero() {
		c.TimeKey = c.TimeKey.In(b.keys.loc)
	}
	c.st = newFileStore(f, path, end, b.cfg.Fsync)
	return c, run, corrupt
}

// cutTail copies bytes [end, size) of a chunk file to corrupt/ and
// truncates the file to end.
func (b *Buffer) cutTail(f *os.File, path string, end, size int64) error {
	dir := filepath.Join(b.cfg.Path, "corrupt")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	to := filepath.Join(dir, filepath.Base(path)+".tail-"+strconv.FormatInt(end, 10))
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, io.NewSectionReader(f, end, size-end))
	err = errors.Join(err, out.Sync(), out.Close())
	if err != nil {
		return fmt.Errorf("save torn tail to %s: %w", to, err)
	}
	if err := f.Truncate(end); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	b.log.Warn("torn chunk tail moved to corrupt/", "path", path, "bytes", size-end, "kept", end, "tail", to)
	return nil
}

// moveCorrupt moves a whole file into corrupt/.
func (b *Buffer) moveCorrupt(path, suffix string) (string, error) {
	dir := filepath.Join(b.cfg.Path, "corrupt")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	to := filepath.Join(dir, filepath.Base(path)+suffix)
	if _, err := os.Stat(to); err == nil {
		to += "." + strconv.FormatInt(time.Now().UnixNano(), 10)
	}
	return to, os.Rename(path, to)
}

// moveIrregular moves a *.chunk entry that is not a regular file (a
// symlink, a FIFO) into corrupt/ without opening it; a symlink is moved
// itself, its target is not touched. It returns the entries moved.
func (b *Buffer) moveIrregular(path string, mode os.FileMode) int {
	target, _ := os.Readlink(path) // "" when not a link
	to, err := b.moveCorrupt(path, "")
	if err != nil {
		b.log.Error("chunk entry that is not a regular file left as it is (not opened)",
			"path", path, "type", kind(mode), "target", target, "err", err)
		return 0
	}
	b.log.Error("chunk entry that is not a regular file moved to corrupt/ (not opened)",
		"path", to, "type", kind(mode), "target", target)
	return 1
}

func kind(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "symlink"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return m.Type().String()
}
