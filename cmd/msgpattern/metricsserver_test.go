package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestMetricsServerBounds: the metrics listener closes a keep-alive
// connection idle for metricsIdleTimeout, and serves at most
// maxMetricsConns connections at once. Without them a peer that made one
// request per connection held each, a descriptor and a goroutine, for ever
// (50 of 50 still open after 40 s), with no cap on their number.
func TestMetricsServerBounds(t *testing.T) {
	oldIdle, oldMax := metricsIdleTimeout, maxMetricsConns
	t.Cleanup(func() { metricsIdleTimeout, maxMetricsConns = oldIdle, oldMax })

	start := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := serveMetrics(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }),
			func(err error) { t.Errorf("serve: %v", err) })
		t.Cleanup(func() { srv.Close() })
		return ln.Addr().String()
	}
	dial := func(t *testing.T, addr string) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	get := func(c net.Conn, wait time.Duration) error {
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(wait))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}

	t.Run("cap", func(t *testing.T) {
		metricsIdleTimeout, maxMetricsConns = time.Minute, 2
		addr := start(t)
		a, b, third := dial(t, addr), dial(t, addr), dial(t, addr)
		for _, c := range []net.Conn{a, b} {
			if err := get(c, 10*time.Second); err != nil {
				t.Fatalf("GET on a connection under the cap: %v", err)
			}
		}
		if err := get(third, 500*time.Millisecond); err == nil {
			t.Fatalf("a third connection was served with maxMetricsConns 2")
		}
		a.Close() // makes room: the waiting connection is served
		third.SetReadDeadline(time.Now().Add(10 * time.Second))
		if resp, err := http.ReadResponse(bufio.NewReader(third), nil); err != nil {
			t.Fatalf("the waiting connection was not served once one closed: %v", err)
		} else {
			resp.Body.Close()
		}
	})

	t.Run("idle", func(t *testing.T) {
		metricsIdleTimeout, maxMetricsConns = 300*time.Millisecond, 64
		addr := start(t)
		c := dial(t, addr)
		if err := get(c, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("an idle keep-alive connection read %d bytes, want it closed", n)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("an idle keep-alive connection was still open after 10 s (idle timeout %v)", metricsIdleTimeout)
		}
	})
}
