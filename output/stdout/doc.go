// Package stdout is barge's @type stdout output, for debugging: every
// record is printed as Fluentd's out_stdout prints it,
//
//	2026-11-22 10:00:00.123456789 +0000 app.web: {"msg":"hello"}
//
// (local time), or in the <format> given (json, ltsv, msgpack,
// single_value), with <inject>. The writer is given in Options (os.Stdout
// by default). Chunks are printed one at a time, so lines never interleave.
// A record the encoder rejects (malformed, or nested deeper than
// event.MaxDepth) is not printed and is returned with buffer.Rejected, the
// rest of the chunk printed; a chunk of nothing else is buffer.Permanent.
package stdout
