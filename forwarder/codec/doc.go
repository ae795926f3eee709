// Package codec holds barge's msgpack vocabulary: the Fluentd Forward
// Protocol's EventTime, the canonical entries stream that flows from inputs
// through the buffer to the outputs, and the decoding of forward-protocol
// messages.
//
// # The canonical entries stream
//
// Everything an input hands to the buffer, and everything an output reads
// back from a chunk, is a concatenation of msgpack arrays of two elements:
//
//	[time, record][time, record]...
//
// where time is either a non-negative msgpack integer (seconds since the
// epoch) or an EventTime (ext type 0, 8 bytes: big-endian uint32 seconds then
// big-endian uint32 nanoseconds), and record is a msgpack map whose keys are
// str (or bin). Inputs normalise what they receive into this form (Forward
// Protocol v1.5's [[EventTime, metadata], record] becomes [EventTime, record]),
// so the buffer and the outputs never see any other shape. Entries are kept as
// bytes end to end; only filters and record chunk keys decode a record.
//
// # Limits
//
// Records nest at most MaxDepth levels and tags are at most MaxTagLen bytes
// (CheckTag): inputs refuse more, and outputs can rely on it. Nesting is
// walked without recursion, so deep input costs no stack. A FrameReader and
// a Decoder take their large buffers from an Allocator when given one, so
// that a server can bound the memory of all its connections.
package codec
