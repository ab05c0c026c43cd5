package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"reflect"

	"github.com/msgpattern/msgpattern/internal/structjson"
)

// unmarshal decodes data into v, a pointer to a zero value, with dec when
// it is set, else with structjson: encoding/json's results, faster.
func unmarshal(dec Decoder, data []byte, v any) error {
	if dec != nil {
		return dec.Unmarshal(data, v)
	}
	return structjson.Unmarshal(data, v)
}

// decoderOf returns the decoding of a typed handler's input T: structjson
// with T's plan resolved once, or Config.Decoder when the server has one.
func decoderOf[T any]() func(r *Request) (T, error) {
	fast := structjson.For[T]()
	return func(r *Request) (T, error) {
		var in T
		if len(r.Data) == 0 {
			return in, nil // absent data decodes as the zero T
		}
		switch p := any(&in).(type) {
		case *json.RawMessage:
			*p = r.Data
			return in, nil
		case *[]float64:
			// The commonest small input, decoded with no pooled state and
			// nothing escaping but the slice (in stays on the stack: the
			// general path decodes into a variable of its own).
			if r.decoder == nil && structjson.Numbers(r.Data, p) {
				return in, nil
			}
		case *[]int:
			if r.decoder == nil && structjson.Numbers(r.Data, p) {
				return in, nil
			}
		}
		return decodeWith(r, fast)
	}
}

// decodeWith decodes r.Data into a T with Config.Decoder or fast.
func decodeWith[T any](r *Request, fast func([]byte, *T) error) (T, error) {
	var in T
	var err error
	if r.decoder != nil {
		err = r.decoder.Unmarshal(r.Data, &in)
	} else {
		err = fast(r.Data, &in)
	}
	if err != nil {
		// The caller's input is at fault: say which pattern refused it.
		return in, &decodeError{pattern: r.Route, err: err}
	}
	return in, nil
}

// Typed adapts a function taking a typed input and returning a typed result:
// the request's data is decoded into T as encoding/json would (by a faster
// decoder of the same results, or by Config.Decoder), and the result U
// is encoded as the reply. Data that does not decode into T gets the caller
// an error reply {"status":"error","message":"rpc: invalid data for pattern …"}
// and f is not called. The message ends with the decoder's error, cut to
// 512 bytes, as gRPC's and Connect's do: also when it comes from an
// UnmarshalJSON or UnmarshalText method of T's, whose errors should say
// what is wrong with the input and nothing a caller must not see.
//
// The decoded T is not charged to Config.MemoryBudget (the frame is), and
// holds more than its JSON, by T: measured retained bytes per byte of
// input, about 4 for []float64, 5 for []string, 13 to 22 for any and maps,
// and up to 180 for a slice of structs of 16 string fields sent as {}.
// Config.MaxFrameSize bounds it for every pattern, WithMaxDataBytes for
// one; a JSON decoder in any server (NestJS's JSON.parse included) holds
// alike.
func Typed[T, U any](f func(ctx context.Context, in T) (U, error)) Handler {
	mustNotBeNil(f == nil, "Typed")
	decode := decoderOf[T]()
	return describe[T, U](kindRequest, func(ctx context.Context, w ResponseWriter, r *Request) error {
		in, err := decode(r)
		if err != nil {
			return err
		}
		out, err := f(ctx, in)
		if err != nil {
			return err
		}
		return sendUnary(w, out)
	})
}

// Stream adapts (on the server side; the client side is [Client.Stream]
// and [StreamOf]) a function returning a sequence of values, sent as the
// values of a NestJS Observable: each value as it is produced, the reply
// completing when the sequence ends. A non-nil error in the sequence ends
// the reply with that error after the values already sent. The sequence
// should stop when ctx is cancelled; stopped by a forced Shutdown (or, on
// a transport publishing through Dispatch, such as NATS, by any
// cancellation), the reply ends with the shutting-down or cancellation
// error, not as complete.
func Stream[T, U any](f func(ctx context.Context, in T) iter.Seq2[U, error]) Handler {
	mustNotBeNil(f == nil, "Stream")
	decode := decoderOf[T]()
	return describe[T, U](kindStream, func(ctx context.Context, w ResponseWriter, r *Request) error {
		in, err := decode(r)
		if err != nil {
			return err
		}
		for v, err := range f(ctx, in) {
			if err != nil {
				return err
			}
			if err := w.Send(v); err != nil {
				return err
			}
		}
		// A sequence stops when ctx is cancelled, as it should. Past the
		// request's deadline the caller has had the timeout reply: the
		// handler gave up, it has no late result to drop. (A cancellation
		// is not reported: a peer that only half-closed still reads, and a
		// sequence that completed meanwhile completes the reply.)
		if err := ctx.Err(); errors.Is(err, context.DeadlineExceeded) && r.TimedOut() {
			return err
		}
		// Cancelled by a forced Shutdown, or on a transport with no
		// half-close (Dispatch: NATS), the sequence was cut short: its
		// caller, if it still reads, must not take it for complete.
		if err := ctx.Err(); errors.Is(err, context.Canceled) && r.rc != nil && r.rc.cutShort() {
			return err
		}
		return nil
	})
}

// Event adapts a function handling an event: data decoded into T, no reply.
// A returned error is logged and counted.
func Event[T any](f func(ctx context.Context, in T) error) Handler {
	mustNotBeNil(f == nil, "Event")
	decode := decoderOf[T]()
	return describe[T, struct{}](kindEvent, func(ctx context.Context, _ ResponseWriter, r *Request) error {
		in, err := decode(r)
		if err != nil {
			return err
		}
		return f(ctx, in)
	})
}

// Handler kinds, as introspection reports them.
const (
	kindRequest = "request"
	kindStream  = "stream"
	kindEvent   = "event"
)

// typedHandler is a handler made by Typed, Stream or Event: it remembers
// its Go types, for introspection's schemas.
type typedHandler struct {
	HandlerFunc
	kind    string
	in, out reflect.Type // out is nil for an event
}

func describe[T, U any](kind string, f HandlerFunc) Handler {
	h := &typedHandler{HandlerFunc: f, kind: kind, in: reflect.TypeFor[T]()}
	if kind != kindEvent {
		h.out = reflect.TypeFor[U]()
	}
	return h
}
