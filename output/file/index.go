package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/output/format"
	"github.com/barge-dev/barge/output/objkey"
)

// flushIndexed writes c with a name that has %{index}: the name recorded
// with the chunk, else the next free index for its prefix (a read of the
// directory), chosen and recorded by the Namer. The file is created, never
// replaced (link(2) of the temporary file, which fails when the name
// exists). A file already at the name is this chunk's when it is the very
// file (device and inode) that an earlier attempt recorded before linking
// it; any other file is another chunk's, and the chunk takes the next
// index.
func (o *Output) flushIndexed(ctx context.Context, c *buffer.Chunk, vars objkey.ChunkVars, encode func(io.Writer) (format.Stats, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name, err := o.names.Key(ctx, c, vars, listDir)
	if err != nil {
		return fmt.Errorf("name chunk %s: %w", c.ID, err)
	}
	for taken := 0; ; taken++ {
		err = o.create(ctx, c, name, encode)
		if !errors.Is(err, objkey.ErrTaken) || taken == objkey.MaxTaken {
			break
		}
		o.log.Info("another file is at the chunk's name: next index", "path", name, "chunk_id", c.ID)
		if name, err = o.names.Taken(ctx, c, vars, name, listDir); err != nil {
			return fmt.Errorf("name chunk %s: %w", c.ID, err)
		}
	}
	if _, rejected := buffer.RejectedRecords(err); err == nil || rejected {
		o.names.Done(name)
	}
	return err
}

// create writes c to name, create-only.
func (o *Output) create(ctx context.Context, c *buffer.Chunk, name string, encode func(io.Writer) (format.Stats, error)) error {
	placedOwner := o.names.Owner() + " placed"
	prev := c.Name(placedOwner) // NAME DEV:INO of the file an earlier attempt linked, or was about to
	if fi, err := os.Lstat(name); err == nil && prev == placed(name, fi) {
		// An earlier attempt's own file: only count the records again.
		stats, err := encode(&ctxWriter{ctx: ctx, w: io.Discard})
		if err != nil {
			return fmt.Errorf("encode %q: %w", name, err)
		}
		o.log.Debug("chunk's file already written", "path", name, "chunk_id", c.ID)
		return stats.Err()
	}
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, o.dirPerm); err != nil {
		return nameErr(fmt.Errorf("create directory %q: %w", dir, err))
	}
	// A new file: the temporary name may still be a second link to a file
	// an earlier attempt placed, which must not be truncated.
	tmp := filepath.Join(dir, ".tmp-"+objkey.CleanPathValue(c.ID))
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %q: %w", tmp, err)
	}
	stats, err := o.writeTemp(ctx, tmp, c.ID, os.O_EXCL, encode)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(tmp)
	if err == nil {
		// Recorded before the link: after a crash, the file at name is
		// recognised as this one.
		err = c.SetName(placedOwner, placed(name, fi))
	}
	if err == nil {
		err = link(tmp, name)
	}
	os.Remove(tmp)
	if errors.Is(err, fs.ErrExist) {
		return objkey.Taken(fmt.Errorf("create %q: another chunk's file is there: %w", name, err))
	}
	if err != nil {
		return nameErr(fmt.Errorf("create %q: %w", name, err))
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	o.log.Debug("wrote chunk", "path", name, "chunk_id", c.ID, "records", stats.Records, "bytes", stats.Out)
	return stats.Err()
}

// placed identifies the file fi at name: "NAME DEV:INO".
func placed(name string, fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%s %d:%d", name, st.Dev, st.Ino)
}

// link makes tmp's file appear at name unless name exists (fs.ErrExist).
// On a file system without hard links, it checks for name, then renames:
// this process holds the name (the Namer), only another writer could
// race it.
func link(tmp, name string) error {
	err := os.Link(tmp, name)
	var le *os.LinkError
	if errors.As(err, &le) && (errors.Is(le.Err, syscall.EPERM) || errors.Is(le.Err, syscall.ENOTSUP) ||
		errors.Is(le.Err, syscall.ENOSYS) || errors.Is(le.Err, syscall.EMLINK)) {
		if _, serr := os.Lstat(name); serr == nil {
			return fmt.Errorf("%w: %s", fs.ErrExist, name)
		}
		return os.Rename(tmp, name)
	}
	return err
}

// listDir lists the files that start with prefix (a path): those of its
// directory, temporary files left out.
func listDir(_ context.Context, prefix string) ([]string, error) {
	dir, base := filepath.Split(prefix)
	read := dir
	if read == "" {
		read = "."
	}
	ents, err := os.ReadDir(read)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, base) && !strings.HasPrefix(n, ".tmp-") {
			names = append(names, dir+n)
		}
	}
	return names, nil
}
