// Package forward is barge's @type forward output (Fluentd out_forward): it
// sends each flushed chunk to one of its <server>s over the Fluentd Forward
// Protocol v1, as a buffer.Flusher.
//
//	<match **>
//	  @type forward
//	  require_ack_response true
//	  compress gzip              # text (default), gzip or zstd
//	  <server>
//	    host 10.0.0.1
//	    weight 60
//	  </server>
//	  <server>
//	    host 10.0.0.2
//	    standby true
//	  </server>
//	</match>
//
// # Wire format
//
// A chunk is sent as PackedForward messages [tag, bin(entries),
// {"size": N, "chunk": ID}], one per run of entries of one tag holding at
// most send_chunk_size bytes of entries (barge's own parameter, 256k; an
// entry larger than that is a message of its own). Entries are v1
// [time, record] pairs with an EventTime (ext type 0, nanoseconds), or
// integer seconds with time_as_integer. The "chunk" option is there only
// with require_ack_response; its value is base64 of 16 bytes derived from
// the chunk id and the part's index, so a retry sends the same id. With
// compress gzip a message is a CompressedPackedForward ({"compressed":
// "gzip"}, entries one gzip member). compress zstd sends {"compressed":
// "zstd"} with one zstd frame, as Fluentd 1.19 does: this is outside the
// Forward Protocol v1 specification, and receivers that do not know it
// (barge's own forward input among them) refuse the message.
//
// # Contract
//
// Flush returns nil when the chunk is durable at the destination as far as
// the protocol can tell:
//   - with require_ack_response, once every part's {"ack": ID} arrived,
//     each within ack_response_timeout (a receiver acks once it stored the
//     records);
//   - without it, once every part was written to the socket. This can lose
//     records, as in Fluentd: a receiver that dies (or a connection reset)
//     after the write took the bytes into the kernel's buffers loses them
//     without Flush knowing. Use require_ack_response for at-least-once.
//
// A Flush picks one server: smooth weighted round robin by weight among
// the healthy regular servers (weight 0 is never picked), and among the
// healthy standby servers only when no regular server is healthy. With
// heartbeat_type transport (the default) or udp a failed connect, TLS or
// <security> handshake, write, or a missing or wrong ack marks the server
// down for recover_wait; with heartbeat_type none no server is ever marked
// down. Flush then returns a retryable error naming the server (host:port)
// and the chunk (and the part's ack id); the buffer retries the chunk,
// possibly on another server. A chunk whose entries are malformed is
// buffer.Permanent.
//
// With require_ack_response the parts of a chunk are pipelined on one
// connection: each part is written without waiting for the acks of the
// previous ones (at most 8 parts wait for their acks at a time), and a
// goroutine of the Flush reads the acks, matching them by id in whatever
// order they come. Each part's ack must come within ack_response_timeout
// of its write. A part is not kept in memory once written: a retry reads
// it from the chunk again.
//
// The parts of a chunk that were acked (or, without acks, written) are
// remembered by chunk id in this process, and a retried Flush of the same
// chunk sends only the others; so a retry duplicates at most the parts
// that were written but not acked when the flush failed (at most 8). The
// memory is lost on restart (the whole chunk is sent again) and bounded to
// 4096 chunks.
//
// With keepalive, connections are kept between flushes (one per concurrent
// flush) and one idle longer than keepalive_timeout is closed rather than
// reused; a send that fails on a reused connection is tried once more on a
// new one before the server is marked down. Without keepalive each Flush
// opens its own connection and closes it.
//
// <security> runs the HELO / PING / PONG handshake on each new connection
// (shared_key, from <server> or <security>; username and password when the
// HELO asks for user authentication) and checks the server's digest in
// its PONG. transport tls wraps the connection in TLS, checking the
// server's certificate against tls_cert_path (or the system's roots) and
// its name unless tls_verify_hostname is false; tls_insecure_mode checks
// nothing.
//
// # Lifecycle and heartbeats
//
// New does no I/O and starts nothing. Start (once) runs the startup
// checks, then starts the heartbeats; Close stops them and waits for
// their goroutine. Without Start there are no heartbeats.
//
// Every heartbeat_interval (1s) each server is probed at once: with
// heartbeat_type transport a TCP connect (closed at once, no handshake),
// with udp a one-byte NUL datagram to the server's host:port that the
// receiver answers (as Fluentd's in_forward and barge's forward input
// do); each within connect_timeout and heartbeat_interval. As in Fluentd,
// a server is marked down when phi_failure_detector (true) is on and the
// phi accrual failure detector over the arrival intervals of its
// heartbeats exceeds phi_threshold (16; with 1s heartbeats, about 37s
// without one), or when no heartbeat succeeded for hard_timeout (60s). It
// comes back after recover_wait/heartbeat_interval successful heartbeats
// in a row. A server is picked only when neither heartbeats nor a failed
// send (within recover_wait) marked it down. The clock is Options.Now.
//
// At Start, verify_connection_at_startup connects to every server (TLS
// and <security> handshake included), and dns_round_robin resolves every
// host; Start returns the failures, each naming its server (host:port),
// or logs them as warnings with ignore_network_errors_at_startup.
//
// dns_round_robin resolves a server's host to all its addresses
// (Options.LookupHost) and connects to them in turn (Fluentd picks one at
// random). The addresses are kept for expire_dns_cache: by default until a
// connect to one fails or heartbeats mark the server down, 0 resolving at
// every connection. heartbeat_type udp is refused with it, as in Fluentd.
//
// Stats counts records, bytes, messages, acks, ack timeouts and errors, in
// total and per server.
//
// # Not implemented
//
//   - Fluentd's expire_dns_cache without dns_round_robin: barge then
//     resolves the host at every connection.
//   - <secondary> (the buffer's job), the "v0" Message/Forward modes and
//     sending metadata (v1.5 entries).
//   - tls_allow_self_signed_cert, tls_ciphers, tls_client_private_key_passphrase,
//     tls_cert_thumbprint and the Windows certificate store options.
package forward
