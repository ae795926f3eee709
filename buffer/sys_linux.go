package buffer

import (
	"os"

	"golang.org/x/sys/unix"
)

// o_TMPFILE opens an unnamed file in a directory.
const o_TMPFILE = unix.O_TMPFILE

// dataSync makes f's data durable with fdatasync(2): the data and what
// reading it back needs (the file's size after an append), without the
// timestamps fsync also writes. It is what each acknowledged append with
// fsync true waits for: on this machine's ext4 half the time of an fsync
// (0.23 ms against 0.44 for a 200 KB append). The file's name is made
// durable separately (syncDir), when it is created or renamed.
func dataSync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}
