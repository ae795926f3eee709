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
// the backpressure; connections are never closed to shed load.
//
// # Limits
//
// A message (and a CompressedPackedForward payload once decompressed) may
// not exceed chunk_size_limit: a larger frame is detected from its headers
// and rejected without being buffered. So a connection holds at most about
// two chunk_size_limit buffers, and the server at most max_connections
// connections; more are refused. A client silent between messages for
// idle_timeout, or taking longer than read_timeout to send one message or
// to complete a handshake, is disconnected. Malformed msgpack, a wrong
// message shape, or an invalid entry (without skip_invalid_event) close
// only the offending connection. Every such event is counted (Server.Stats)
// and logged, rate-limited, with the peer's address.
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
