package tail

// FileLag is how far behind its file the position of one followed file
// is, as of the last reconcile.
type FileLag struct {
	Path   string
	Behind int64 // the file's size minus its committed position, in bytes
}

// Lag returns the backlog of each file followed under its path now (not
// the rotated ones still read, nor .gz files, whose positions count
// decompressed bytes), as of the last reconcile (each second). Safe at
// any time.
func (t *Tailer) Lag() []FileLag {
	if p := t.lag.Load(); p != nil {
		return *p
	}
	return nil
}

// publishLag takes each followed file's backlog for Lag. Run's goroutine
// calls it after a reconcile, when every size is fresh.
func (t *Tailer) publishLag() {
	lag := make([]FileLag, 0, len(t.files))
	for _, fl := range t.files {
		if fl.gz != nil || !fl.rotated.IsZero() {
			continue
		}
		pos := fl.committed
		if pos < 0 {
			pos = fl.next
		}
		lag = append(lag, FileLag{Path: fl.path, Behind: max(fl.lastSize-pos, 0)})
	}
	t.lag.Store(&lag)
}
