package otelrpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestErrorKinds: error.type for the errors a handler returns and a call
// fails with.
func TestErrorKinds(t *testing.T) {
	// rpc's decode error, as a typed handler returns it.
	decodeErr := rpc.Typed(func(context.Context, []int) (int, error) { return 0, nil }).
		ServeMessage(context.Background(), nil, &rpc.Request{Route: "x", Data: json.RawMessage(`"no"`)})
	if decodeErr == nil {
		t.Fatal("rpc.Typed decoded a string into []int")
	}
	objErr, _ := rpc.NewErrorObject(map[string]any{"status": 400})
	strStatus, _ := rpc.NewErrorObject(map[string]any{"status": "bad_request"})
	// err.status is an exact name to a NestJS caller: "Status" is not it.
	capitalStatus, _ := rpc.NewErrorObject(map[string]any{"Status": 400})
	ownWrapsNoHandler := rpc.Errorf("inventory unavailable: %w", rpc.NoHandlerError())
	ownWrapsNoHandler.Status = "503"
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	live := context.Background()
	expired, cancelExpired := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelExpired()
	for _, tt := range []struct {
		err    error
		server string
		status string
		ctx    context.Context // the request's; canceled when nil
	}{
		{rpc.NewError("x"), kindRPC, "error", nil},
		{fmt.Errorf("wrapped: %w", rpc.NewError("x")), kindRPC, "error", nil},
		{objErr, kindRPC, "400", nil},
		{strStatus, kindRPC, "bad_request", nil},
		{capitalStatus, kindRPC, "error", nil},
		{decodeErr, kindDecode, "error", nil},
		{fmt.Errorf("wrapped: %w", decodeErr), kindDecode, "error", nil},
		{context.DeadlineExceeded, kindTimeout, "error", nil},
		{context.Canceled, kindCanceled, "error", nil},
		{rpc.ErrReplyClosed, kindCanceled, "error", nil},
		{rpc.ErrCallerGone, kindCanceled, "error", live},
		{fmt.Errorf("stream: %w", rpc.ErrCallerGone), kindCanceled, "error", live},
		{errors.New("x"), kindHandler, "error", nil},
		{&rpc.Error{Status: "401", Message: "who?"}, kindRPC, "401", nil},
		// A downstream no-handler, forwarded: answered as an internal error.
		{rpc.NoHandlerError(), kindHandler, "error", nil},
		// The handler's own error, whose cause is a downstream no-handler:
		// the server sends it as is (it looks only at the outermost error).
		{ownWrapsNoHandler, kindRPC, "503", nil},
		// The context errors of a request whose context lives are the
		// handler's own (a downstream call's deadline).
		{context.DeadlineExceeded, kindHandler, "error", live},
		{context.Canceled, kindHandler, "error", live},
		{rpc.ErrReplyClosed, kindTimeout, "error", expired},
	} {
		ctx := tt.ctx
		if ctx == nil {
			ctx = canceled
		}
		if got := serverErrorKind(ctx, tt.err); got != tt.server {
			t.Errorf("serverErrorKind(%v) = %q, want %q", tt.err, got, tt.server)
		}
		if got := serverStatusCode(tt.err).Value.AsString(); got != tt.status {
			t.Errorf("serverStatusCode(%v) = %q, want %q", tt.err, got, tt.status)
		}
	}

	reply, _ := rpc.ParseReplyPacket([]byte(`{"err":{"status":"error","message":"x"},"isDisposed":true,"id":1}`))
	remote := reply.Err
	if remote == nil {
		t.Fatal("no remote error")
	}
	for _, tt := range []struct {
		err  error
		kind string
	}{
		{remote, kindRemote},
		{rpc.NoHandlerError(), kindNoHandler},
		{context.DeadlineExceeded, kindTimeout},
		{fmt.Errorf("%w: reset", rpc.ErrConnectionLost), kindConnectionLost},
		{rpc.ErrClientClosed, kindClientClosed},
		{fmt.Errorf("dial: %w", rpc.ErrUnavailable), kindUnavailable},
		{errors.New("x"), "_OTHER"},
	} {
		if got := clientErrorKind(tt.err); got != tt.kind {
			t.Errorf("clientErrorKind(%v) = %q, want %q", tt.err, got, tt.kind)
		}
	}
}

type otherAddr string

func (a otherAddr) Network() string { return "other" }
func (a otherAddr) String() string  { return string(a) }

func TestPeerAttrs(t *testing.T) {
	for _, tt := range []struct {
		addr net.Addr
		want []attribute.KeyValue
	}{
		{nil, nil},
		{&net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 4000}, []attribute.KeyValue{
			attribute.String("network.peer.address", "10.0.0.1"), attribute.Int("network.peer.port", 4000)}},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 1}, []attribute.KeyValue{
			attribute.String("network.peer.address", "::1"), attribute.Int("network.peer.port", 1)}},
		{otherAddr("host:81"), []attribute.KeyValue{
			attribute.String("network.peer.address", "host"), attribute.Int("network.peer.port", 81)}},
		{otherAddr("/run/sock"), []attribute.KeyValue{attribute.String("network.peer.address", "/run/sock")}},
	} {
		if got := appendPeerAttrs(nil, tt.addr); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("appendPeerAttrs(%v) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}
