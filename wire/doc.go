// Package wire is the NestJS microservices codec: it turns bytes into frames,
// frames into packets, and replies back into bytes. It knows nothing of
// networks; the transports in package rpc drive it.
//
// # Framing
//
// NestJS frames every message as "<length>#<JSON text>", where length counts
// UTF-16 code units of the JSON text (JavaScript's string.length), not bytes.
// [FrameScanner] reads that framing incrementally, counting units the way
// Node.js decodes UTF-8 (invalid sequences become one U+FFFD each, per the
// WHATWG Encoding Standard). [LineScanner] reads the alternative framing of one
// JSON object per line, used by tools such as nc. Both are resumable: when a
// frame is incomplete they remember how far they scanned, so a frame that
// trickles in a byte at a time costs linear, not quadratic, time.
//
// # Packets
//
// [ParseRequest] validates a frame body as JSON in one pass, with no
// reflection, and returns the raw spans of its pattern, data, id and metadata
// members. The spans alias the body.
//
// # Replies
//
// The Append functions ([AppendValue], [AppendError], [AppendNoHandler], …)
// write replies exactly as a NestJS server does: the id echoed verbatim as the
// last key, no extra keys, lengths in UTF-16 units. [AppendJSON] encodes Go
// values the way JSON.stringify would print them.
//
// The protocol itself is described in docs/PROTOCOL.md at the repository root.
package wire
