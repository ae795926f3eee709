//go:build !linux

package buffer

// o_TMPFILE is not there: tempFile's open fails and it creates and
// removes a named file instead.
const o_TMPFILE = 0
