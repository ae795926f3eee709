// Package event is the canonical entries stream: the one record format
// that every stage of barge shares. Inputs (the forward server, the
// tailer) produce it, the buffer stores it in chunks, and outputs and the
// filters read it; nothing else decodes entries.
//
// A stream is a concatenation of msgpack arrays of two elements:
//
//	[time, record][time, record]...
//
// where time is either a non-negative msgpack integer of at most 2^40
// (seconds since the epoch) or an EventTime (ext type 0, 8 bytes:
// big-endian uint32 seconds then big-endian uint32 nanoseconds), and record
// is a msgpack map whose keys are str (or bin). Inputs normalise what they
// receive into this form (Forward Protocol v1.5's [[EventTime, metadata],
// record] becomes [EventTime, record]), so the buffer and the outputs never
// see any other shape. Entries are kept as bytes end to end; only filters
// and record chunk keys decode a record.
//
// The package owns reading an entry (Next, ReadHead, ReadTime), checking a
// record (CheckRecord), writing one (AppendEntry, AppendEventTime), walking
// msgpack without recursion (Skip, Skim, Head), rendering a value as text
// (AppendText, the one rule for chunk keys, placeholders and filters), and
// the tag rules (CheckTag). Every error about a malformed entry wraps
// ErrEntry, the one sentinel that outputs and the buffer test for.
//
// # Limits
//
// Records nest at most MaxDepth levels and tags are at most MaxTagLen bytes
// (CheckTag): inputs refuse more, and outputs can rely on it. Nesting is
// walked without recursion (Skim) or with recursion bounded by MaxDepth
// (CheckRecord), so deep input costs no stack.
package event
