package buffer

import "golang.org/x/sys/unix"

// o_TMPFILE opens an unnamed file in a directory.
const o_TMPFILE = unix.O_TMPFILE
