// Package forwarder is barge's Fluentd forward-protocol input (@type
// forward): a TCP listener speaking the Forward Protocol v1 (Message,
// Forward, PackedForward and CompressedPackedForward modes), with the
// <security> shared-key/user handshake, optional TLS, and UDP heartbeats on
// the same port.
//
// # Acks
//
// Each message's entries are normalised into a canonical entries stream
// (package codec) and handed to a Sink in one Append call. When the message
// carries the chunk option, the server replies {"ack": chunk}, echoing the
// chunk value byte for byte, only after Append returned nil, i.e. after the
// entries are durable. When Append fails no ack is sent (the client
// retries) and the connection keeps serving. When Append blocks (a full
// buffer with overflow_action block) the connection stops reading: that is
// the backpressure; connections are not closed to shed load (but see idle
// connections at max_connections, and waits for memory, below).
//
// # Limits
//
// Messages. A message, a CompressedPackedForward payload once decompressed,
// and the entries once re-encoded may not exceed chunk_size_limit: a larger
// frame is detected from its headers and rejected without being buffered.
// A tag (with add_tag_prefix) longer than event.MaxTagLen (1024) bytes, not
// valid UTF-8, or holding a control character (below 0x20, or 0x7f), and a
// record nested deeper than event.MaxDepth (100 levels, the record's map
// being level 1) are refused: no Append, no ack, the connection closed
// (with skip_invalid_event a too deep record is dropped as an invalid entry
// and the rest appended). Nesting is checked without recursion, so no
// input costs stack. The empty tag is accepted.
//
// Memory. A connection's buffers grow with the bytes it sent (a frame
// declaring up to 1 MiB gets its buffer at once). Beyond 64 KiB per
// connection, the buffers of frames, decompressed payloads and re-encoded
// entries are charged to memory_limit (default 64m, at least 2 x
// chunk_size_limit, so that any message within chunk_size_limit fits, even
// decompressed), shared by all connections: before growing past it a
// connection waits, not reading, in order of arrival, until others give
// memory back (once their message was appended, or they closed). A wait
// ends, closing the connection, at the message's read_timeout (counted from
// its first byte) or when the server stops. Should every connection holding
// memory wait for more, none could proceed: the one whose message started
// last is closed. A message that alone needs more than memory_limit is
// refused; that takes a message near chunk_size_limit with
// source_address_key or source_hostname_key, or a payload large both
// compressed and decompressed, in several gzip members. Clients sending
// small messages never wait. So the server holds at most max_connections x
// 64 KiB plus memory_limit of such buffers (Stats.MemoryInUse, never above
// memory_limit, and Stats.MemoryPeak). Large buffers are not kept by
// connections between messages: freed ones are reused, within
// memory_limit, and dropped after a second or two unused.
//
// Connections. At most max_connections (default 1024) are served; a new
// one beyond closes the connection idle the longest (between messages or
// waiting for its PING, never mid-message or mid-Append: one caught
// starting a message finishes it first), and is refused only when none is
// idle, so idle clients cannot lock new ones out. A client silent between
// messages for idle_timeout (default 10m), or taking longer than
// read_timeout (default 60s) to send one message or to complete a
// handshake, is disconnected. A failed <security> handshake is answered
// after a delay, 100ms doubling with each consecutive failure from the
// address up to 5s (a success resets it; 4096 addresses are remembered),
// which ends when the server stops; a PING over 16 KiB is refused.
//
// Malformed msgpack, a wrong message shape, or an invalid entry (without
// skip_invalid_event) close only the offending connection. Every such
// event is counted (Server.Stats) and logged with the peer's address,
// rate-limited to one line of a kind per second: the lines held back are
// reported, with their number, when that second ends. Values from clients
// (tags, host and user names, decoding errors) are cut to 256 bytes in log
// lines, with their full length.
//
// # Lifecycle
//
// NewServer does no I/O. Listen binds the sockets; Run serves until its
// context ends, then stops accepting, lets each connection finish the
// message it is reading (append and ack), and returns after every goroutine
// ended. Close stops everything at once and cancels pending Appends.
//
// The hot path does not decode records: PackedForward entries that are
// already canonical are validated and passed through as they are;
// only entries needing a change (v1.5 [EventTime, metadata] times, time 0)
// are re-encoded. source_address_key and source_hostname_key re-encode
// every record and so cost more.
package forwarder
