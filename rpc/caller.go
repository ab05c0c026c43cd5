package rpc

import (
	"context"
	"encoding/json"
	"iter"

	"github.com/msgpattern/msgpattern/pattern"
	"github.com/msgpattern/msgpattern/wire"
)

// Caller is a client of message patterns over some transport: [*Client]
// over TCP, natsrpc.Client over NATS. [Call] and [StreamOf] take any
// Caller, so code that calls does not care which transport serves. Every
// implementation returns the same errors: a [*Error] for an error
// reply (errors.Is(err, ErrNoHandler) when no handler matched, or nobody
// listens), ctx.Err() when the context ends first, and ErrConnectionLost,
// ErrClientClosed or a dial error for local failures.
type Caller interface {
	// Send calls pattern with data and decodes the reply's last value into
	// out (which may be nil); a reply with no value leaves out as it was
	// (see Client.Send).
	Send(ctx context.Context, pattern any, data any, out any, opts ...CallOption) error
	// Stream calls pattern and yields each value of the reply as it
	// arrives; an error ends the sequence.
	Stream(ctx context.Context, pattern any, data any, opts ...CallOption) iter.Seq2[json.RawMessage, error]
	// Emit sends an event: no id, no reply.
	Emit(ctx context.Context, pattern any, data any, opts ...CallOption) error
}

var _ Caller = (*Client)(nil)

// CallSettings are the per-call options a Caller implementation reads.
type CallSettings struct {
	Metadata   map[string]any // NestJS 12 metadata to send (WithMetadata, WithMetadataValues)
	Idempotent bool           // the call may be sent twice (Idempotent)
	// StreamFailure, set for a Stream made by StreamOf, holds (once the
	// caller stops iterating) the error that ended the stream on the
	// caller's side: a value that did not decode. A wrapper that traces
	// the call reads it to tell a failure from the caller's break.
	StreamFailure *error
}

// CallSettingsOf applies opts, for Caller implementations of other
// transports.
func CallSettingsOf(opts ...CallOption) CallSettings {
	o := callOptionsOf(opts)
	return CallSettings{Metadata: o.metadata, Idempotent: o.idempotent, StreamFailure: o.streamFailure}
}

// AppendRequestPacket appends the unframed packet a NestJS client sends for
// a call — {"pattern":…,"data":…,"metadata":…,"id":…} — for Caller
// implementations of other transports. An event has a nil id. It returns
// the route key of the pattern too: the NATS subject.
func AppendRequestPacket(dst []byte, pat any, data any, metadata map[string]any, id []byte) (packet []byte, route string, err error) {
	route, err = pattern.Of(pat)
	if err != nil {
		return dst, "", err
	}
	var pbuf [64]byte
	patternJSON, err := appendPatternValue(pbuf[:0], pat)
	if err != nil {
		return dst, "", err
	}
	// Events carry the pattern as requests do. NestJS 12's emit sends the
	// route key instead, which a server parses and routes again; but for
	// a pattern of more than twenty keys, or nested deeper than five, that
	// key is cut ([TOO_MANY_KEYS], [MAX_DEPTH_REACHED]) and a NestJS 10
	// server, which routes the whole pattern, never matches it. The
	// pattern itself routes alike on every version.
	metaJSON, err := encodeMetadata(metadata)
	if err != nil {
		return dst, "", err
	}
	if id == nil {
		dataJSON, err := wire.AppendJSON(nil, data)
		if err != nil {
			return dst, "", err
		}
		return wire.AppendEvent(dst, wire.Unframed, patternJSON, dataJSON, metaJSON), route, nil
	}
	out, err := wire.AppendRequestOf(dst, wire.Unframed, patternJSON, data, metaJSON, id)
	if err != nil {
		return dst, "", err
	}
	return out, route, nil
}

// ReplyPacket is one reply packet, decoded by [ParseReplyPacket].
type ReplyPacket struct {
	ID    json.RawMessage // the id, as sent
	Value json.RawMessage // the value ("response"), a copy; null for an undefined stream value, nil when a last packet has none
	Last  bool            // the packet completes the reply (a truthy isDisposed, or an error)
	Err   error           // a *Error for an error reply: err truthy, as JavaScript judges it
}

// ParseReplyPacket decodes one unframed reply packet, for Caller
// implementations of other transports. ok is false for a packet that is not
// a reply: not a JSON object, or one with members a reply does not have
// and none of err, response and isDisposed. (A reply's other members are
// ignored, as NestJS's NATS client does.)
func ParseReplyPacket(packet []byte) (r ReplyPacket, ok bool) {
	rep, known, err := wire.ParseReply(packet, wire.NoDepthLimit)
	if err != nil || !known && !rep.HasReplyMember() {
		return ReplyPacket{}, false
	}
	r.ID = append(json.RawMessage(nil), rep.ID...)
	if rep.HasError() {
		r.Err, r.Last = newRemoteError(rep.Err, rep.Status), true
		return r, true
	}
	r.Value, r.Last = replyValue(rep), rep.IsDisposed
	return r, true
}

// replyValue is the value a reply frame that is not an error carries, a
// copy: its response; JSON null for a frame with neither a response nor
// isDisposed, which is how a NestJS server sends a stream value that is
// undefined (a NestJS 12 ClientProxy delivers it, as undefined); nil for a
// last frame with no response (the reply ends without one).
func replyValue(rep wire.Reply) json.RawMessage {
	switch {
	case rep.Response != nil:
		return append(json.RawMessage(nil), rep.Response...)
	case !rep.IsDisposed:
		return json.RawMessage("null")
	}
	return nil
}

// NoHandlerError is the error a client returns when nobody serves a
// pattern on a transport that says so without a reply (NATS's "no
// responders"): errors.Is(err, ErrNoHandler) holds, as for the server's
// no-handler reply, and so does errors.Is(err, ErrUnavailable): the request
// was delivered to nobody, so it may be retried.
func NoHandlerError() error {
	return &Error{Payload: json.RawMessage(`"` + wire.NoHandlerMessage + `"`), Status: "error", Message: wire.NoHandlerMessage, remote: true, undelivered: true}
}
