// Package statefile writes the small state files of barge's inputs (the
// tailer's pos_file, the files input's ledger): a whole new file, then a
// rename over the old one by the caller, each optionally made durable
// against power loss with fsync. Without fsync a write survives the death
// of the process (kill -9), as the file buffer's writes do.
package statefile

import "os"

// Write writes a new file name holding b (truncating one that exists),
// fsynced when sync is set.
func Write(name string, b []byte, sync bool) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SyncDir fsyncs the directory dir, making a rename or a new name in it
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
