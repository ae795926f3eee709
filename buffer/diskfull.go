package buffer

import (
	"errors"
	"syscall"
)

// A failed chunk write is counted and returned to the appender, who sends
// no ack. A full disk (ENOSPC, EDQUOT) is also logged, once per episode:
// the episode starts at the first such failure and ends at the next write
// that succeeds. Appends resume by themselves once space is freed.

// noSpace reports whether err is a full disk or an exhausted quota.
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// writeFailed accounts for a failed write of a chunk file. Called with b.mu
// held.
func (b *Buffer) writeFailed(err error) {
	b.stats.WriteErrors++
	if !noSpace(err) || b.diskFull {
		return
	}
	b.diskFull = true
	b.stats.DiskFull++
	b.log.Error("buffer disk full: appends fail until space is freed",
		"path", b.cfg.Path, "free_bytes", freeBytes(b.cfg.Path), "err", err)
}

// writeDone ends a disk-full episode. Called with b.mu held.
func (b *Buffer) writeDone() {
	if b.diskFull {
		b.diskFull = false
		b.log.Info("buffer disk writable again", "path", b.cfg.Path, "free_bytes", freeBytes(b.cfg.Path))
	}
}

// freeBytes is the space an unprivileged user may still use on the
// filesystem holding path, -1 when it cannot be read.
func freeBytes(path string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// seal takes a staged chunk whose file keeps a partial frame out of
// staging, so that the next append starts a new chunk. Its valid frames
// are flushed as usual (readers stop at the valid end); a chunk without
// any is deleted. Called with b.mu held.
func (b *Buffer) seal(c *Chunk) {
	if c.state != staged {
		return
	}
	b.log.Error("chunk file could not be cut back after a failed write; the chunk takes no more entries",
		"chunk_id", c.ID, "records", c.Records, "bytes", c.Size)
	if c.Records > 0 {
		b.enqueueLocked(c)
		return
	}
	delete(b.staged, c.meta)
	b.stats.StagedChunks--
	c.state = gone
	if err := c.st.purge(); err != nil {
		b.log.Error("delete empty chunk", "chunk_id", c.ID, "err", err)
	}
	b.timers.broadcast()
}
