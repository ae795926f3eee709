package buffer

import "context"

// Settle makes Run's flush workers take no more chunks and waits until none
// is in flight, or ctx ends. Appends go on being stored. A reload settles a
// buffer before it closes it for a successor that opens the same path:
// that successor then flushes every chunk left, and none that this buffer
// already flushed, where cancelling Run would interrupt a flush in flight
// and leave its chunk to be sent twice.
func (b *Buffer) Settle(ctx context.Context) error {
	b.mu.Lock()
	b.settled = true
	for b.inflight > 0 {
		w := b.work.wait()
		b.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
		b.mu.Lock()
	}
	b.mu.Unlock()
	return nil
}
