package rpc_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestServeAfterShutdownClosesListener: Serve takes ownership of ln —
// Shutdown and Close close the listeners Serve was given — and, as
// net/http's Server.Serve ("Serve always returns a non-nil error and
// closes l"), a Serve refused with ErrServerClosed must not leave ln open,
// accepting connections into its backlog that nobody will ever serve.
func TestServeAfterShutdownClosesListener(t *testing.T) {
	s := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0"}, discardLogger())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := s.Serve(ln); !errors.Is(err, rpc.ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v, want ErrServerClosed", err)
	}
	if nc, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		nc.Close()
		t.Error("Serve returned ErrServerClosed but left its listener open (connections are accepted by the kernel and never served)")
	}
}

// brokenListener fails every Accept with an error that is not temporary.
type brokenListener struct {
	net.Listener
	closed chan struct{}
}

func (l *brokenListener) Accept() (net.Conn, error) { return nil, errors.New("accept: broken") }
func (l *brokenListener) Close() error {
	select {
	case <-l.closed:
	default:
		close(l.closed)
	}
	return l.Listener.Close()
}

// TestServeClosesListenerOnAcceptError: Serve returns a listener's
// permanent Accept error, and closes the listener, as net/http does.
func TestServeClosesListenerOnAcceptError(t *testing.T) {
	s := rpc.NewServer(&rpc.Config{}, discardLogger())
	defer s.Close()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &brokenListener{Listener: inner, closed: make(chan struct{})}
	if err := s.Serve(ln); err == nil || err.Error() != "accept: broken" {
		t.Fatalf("Serve: %v, want the Accept error", err)
	}
	select {
	case <-ln.closed:
	default:
		t.Error("Serve returned its listener's Accept error but left the listener open")
	}
	if a := s.Addr(); a != nil {
		t.Errorf("Addr() = %v after its only listener failed, want nil", a)
	}
}
