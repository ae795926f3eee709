package forwarder

import "context"

// Sink receives entries from an input. entries is a canonical entries stream
// (see package codec) that the Sink must not retain after Append returns
// (copy it).
//
// A nil error means the entries are durable (written to the buffer's chunk
// file, and fsynced when the buffer has fsync on): only then does the server
// send an ack. A non-nil error means nothing was stored, or only part of it:
// the client retries, so duplicates are acceptable, loss is not. Append may
// block (buffer overflow_action block): the connection then stops reading,
// which is the backpressure on the client.
type Sink interface {
	Append(ctx context.Context, tag string, entries []byte) error
}
