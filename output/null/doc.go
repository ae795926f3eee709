// Package null is barge's @type null output: it discards every chunk and
// counts chunks, records and bytes (Stats), for benchmarks and for testing
// the input side alone. never_flush makes every flush fail instead, to
// exercise retries and overflow. It never reads a chunk's records, so it
// never rejects one: every record counts as written (buffer.Rejected is
// never returned).
package null
