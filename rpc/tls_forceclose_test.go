package rpc_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// fullConn is a server-side socket whose peer stopped reading with every
// buffer full: once full is set, a Write takes no byte and blocks until
// its write deadline passes or the connection is closed, as a real socket
// does then.
type fullConn struct {
	net.Conn
	full     *atomic.Bool
	mu       sync.Mutex
	deadline time.Time
	closed   chan struct{}
	once     sync.Once
}

func (c *fullConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *fullConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *fullConn) Write(b []byte) (int, error) {
	if !c.full.Load() {
		return c.Conn.Write(b)
	}
	c.mu.Lock()
	d := c.deadline
	c.mu.Unlock()
	var timeout <-chan time.Time
	if !d.IsZero() {
		timer := time.NewTimer(time.Until(d))
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-timeout:
		return 0, &net.OpError{Op: "write", Net: "tcp", Err: errTimeout{}}
	case <-c.closed:
		return 0, net.ErrClosed
	}
}

func (c *fullConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

type errTimeout struct{}

func (errTimeout) Error() string   { return "i/o timeout" }
func (errTimeout) Timeout() bool   { return true }
func (errTimeout) Temporary() bool { return true }
func (errTimeout) Unwrap() error   { return nil }

type fullListener struct {
	net.Listener
	full *atomic.Bool
}

func (l fullListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &fullConn{Conn: nc, full: l.full, closed: make(chan struct{})}, nil
}

// TestTLSForcedShutdownKeepsItsDeadline: once Shutdown's context ends it
// returns by then whatever peers do. Over TLS it used to close each
// connection with tls.Conn.Close, which first sends close_notify with a 5 s
// write deadline of crypto/tls's own: to peers that stopped reading, 5 s
// each, one after another (15 s past a 300 ms context with three).
func TestTLSForcedShutdownKeepsItsDeadline(t *testing.T) {
	p := newTestPKI(t)
	s := rpc.NewServer(&rpc.Config{RateLimitPerSec: -1, RetryAttempts: -1}, discardLogger())
	release := make(chan struct{})
	started := make(chan struct{}, 8)
	w := rpc.NewServerWrapper(s)
	w.MessagePattern("ping", func(json.RawMessage) (interface{}, error) { return "pong", nil })
	w.MessagePattern("stuck", func(json.RawMessage) (interface{}, error) {
		started <- struct{}{}
		<-release
		return "late", nil
	})
	defer close(release)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var full atomic.Bool
	served := make(chan error, 1)
	go func() {
		served <- s.Serve(tls.NewListener(fullListener{Listener: inner, full: &full}, p.serverConfig(false)))
	}()

	const peers = 3
	for i := 0; i < peers; i++ {
		nc, err := tls.Dial("tcp", inner.Addr().String(), p.clientConfig(nil))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		c := &client{t: t, nc: nc}
		c.br = bufioReader(nc)
		c.call(`"ping"`, `null`, `1`, valueReply(`"pong"`, `1`))
		c.write(reqFrame(`"stuck"`, `null`, `2`))
		<-started
	}
	full.Store(true) // the peers stop reading; their buffers are full

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err = s.Shutdown(ctx)
	took := time.Since(t0)
	t.Logf("Shutdown(300ms) = %v after %v", err, took)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want context.DeadlineExceeded", err)
	}
	if took > 3*time.Second {
		t.Errorf("Shutdown with a 300 ms context returned after %v: %d TLS peers that do not read held it past its deadline", took.Round(time.Millisecond), peers)
	}
	<-served
}

func bufioReader(nc net.Conn) *bufio.Reader { return bufio.NewReader(nc) }
