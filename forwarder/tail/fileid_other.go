//go:build !unix

package tail

import "io/fs"

// fileID has no device and inode to give outside Unix: the tailer is
// for Unix systems.
func fileID(fs.FileInfo) (dev, ino uint64, ok bool) { return 0, 0, false }
