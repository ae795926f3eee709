// Package codec decodes and encodes the Fluentd Forward Protocol's
// messages: frames read from a connection (FrameReader), the Message,
// Forward, PackedForward and CompressedPackedForward modes (Decoder), acks,
// and the HELO/PING/PONG handshake of <security>.
//
// A Decoder turns the entries of a message into the canonical entries
// stream of package buffer/event, re-encoding only the entries that are
// not canonical already (v1.5 times with metadata, times of 0 or nil that
// become the current time). The entries format itself, its limits
// (event.MaxDepth, event.MaxTagLen) and its one error sentinel
// (event.ErrEntry) belong to buffer/event; codec only refuses, with those
// rules, what a peer sends.
//
// A FrameReader and a Decoder take their large buffers from an Allocator
// when given one, so that a server can bound the memory of all its
// connections.
package codec
