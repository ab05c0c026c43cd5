package rpc

import (
	"encoding/json"

	"github.com/msgpattern/msgpattern/wire"
)

// A reply value is encoded into the connection's write buffer, under the
// request's lock and the connection's write lock, when its encoding runs
// none of the application's code: its cost is a copy proportional to its
// size, as the frame's copy would be. Any other value is encoded first,
// with no lock held, into a pooled buffer (encodeAhead): a MarshalJSON or
// MarshalText may be slow or block, and under those locks it would hold up
// every other reply of the connection and the request's own timeout reply
// (the timer takes the request's lock). That costs one more copy of the
// encoded value. The client encodes a call's data the same way (see
// clientConn.send).

// encodedValue is a reply value encoded ahead, in JSON, valid UTF-8.
type encodedValue struct{ buf *writeBuf }

// encodesInline reports whether v encodes without running the
// application's code.
func encodesInline(v any) bool {
	switch v.(type) {
	case nil, bool, string, json.RawMessage, []byte, json.Number,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr,
		float32, float64:
		return true
	}
	return false
}

// encodeAhead returns v itself when it encodes inline, else v encoded into
// a pooled buffer, to be released with releaseEncoded once the reply took
// its copy.
func encodeAhead(v any) (any, error) {
	if encodesInline(v) {
		return v, nil
	}
	buf := getWriteBuf()
	b, err := wire.AppendJSON(buf.b, v)
	buf.b = b
	if err != nil {
		putWriteBuf(buf)
		return nil, err
	}
	return encodedValue{buf}, nil
}

// releaseEncoded returns the buffer of a value encodeAhead encoded.
func releaseEncoded(v any) {
	if e, ok := v.(encodedValue); ok {
		putWriteBuf(e.buf)
	}
}

// appendReplyValue appends the reply frame carrying v, which encodeAhead
// returned. On an encoding error dst is returned unchanged.
func appendReplyValue(dst []byte, f wire.Framing, v any, id []byte, last bool) ([]byte, error) {
	if e, ok := v.(encodedValue); ok {
		return wire.AppendValue(dst, f, e.buf.b, id, last), nil
	}
	return wire.AppendValueOf(dst, f, v, id, last)
}
