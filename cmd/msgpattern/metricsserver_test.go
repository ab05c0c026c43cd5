package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestMetricsServerBounds: the metrics listener serves at most
// maxMetricsConns connections at once, and closes each after its response
// (no keep-alive). It used to keep idle keep-alive connections for ever,
// with no cap on their number (50 of 50 still open after 40 s); and with a
// cap, 64 idle keep-alive connections then starved every scrape.
func TestMetricsServerBounds(t *testing.T) {
	oldHeader, oldMax := metricsHeaderTimeout, maxMetricsConns
	t.Cleanup(func() { metricsHeaderTimeout, maxMetricsConns = oldHeader, oldMax })

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
		metricsHeaderTimeout, maxMetricsConns = time.Minute, 2
		addr := start(t)
		// Two connections that send nothing hold both slots: a third waits.
		a, _, third := dial(t, addr), dial(t, addr), dial(t, addr)
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

	t.Run("no keep-alive", func(t *testing.T) {
		metricsHeaderTimeout, maxMetricsConns = time.Minute, 2
		addr := start(t)
		// Served connections are closed: they hold no slot a scrape needs.
		for _, c := range []net.Conn{dial(t, addr), dial(t, addr)} {
			if err := get(c, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := c.Read(make([]byte, 1)); err == nil {
				t.Fatalf("a served connection read %d more bytes, want it closed", n)
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("a served connection was still open after 10 s")
			}
		}
		if err := get(dial(t, addr), 10*time.Second); err != nil {
			t.Fatalf("a scrape after two served connections: %v", err)
		}
	})
}
