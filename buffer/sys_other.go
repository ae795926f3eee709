//go:build !linux

package buffer

import "os"

// o_TMPFILE is not there: tempFile's open fails and it creates and
// removes a named file instead.
const o_TMPFILE = 0

// dataSync is fsync where fdatasync is not known.
func dataSync(f *os.File) error { return f.Sync() }
