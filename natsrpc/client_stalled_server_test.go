package natsrpc_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/msgpattern/msgpattern/natsrpc"
)

// stalledNATS is a NATS server that completes the handshake, then never
// reads again (an overloaded server, or a partition that leaves TCP up).
// cut closes its end of the connection.
func stalledNATS(t *testing.T) (url string, cut func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 1)
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		conns <- c
		port := ln.Addr().(*net.TCPAddr).Port
		fmt.Fprintf(c, "INFO {\"server_id\":\"stalled\",\"version\":\"2.10.0\",\"host\":\"127.0.0.1\",\"port\":%d,\"headers\":true,\"max_payload\":1048576,\"proto\":1}\r\n", port)
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(line, "PING") {
				c.Write([]byte("PONG\r\n"))
				return // and read nothing more
			}
		}
	}()
	cut = func() {
		ln.Close()
		<-served
		select {
		case c := <-conns:
			c.Close()
		default:
		}
	}
	t.Cleanup(cut)
	return "nats://" + ln.Addr().String(), cut
}

// TestClientCallKeepsDeadlineOnStalledServer: a call returns when its
// context ends, as the package documents ("only a deadline ends the
// wait"), even when the NATS server has stopped reading and the request
// cannot be written: nats.go's publish then blocks until its write timeout
// (FlusherTimeout, a minute by default; 30 s here), and the call with it.
func TestClientCallKeepsDeadlineOnStalledServer(t *testing.T) {
	url, cut := stalledNATS(t)
	nc, err := nats.Connect(url, nats.FlusherTimeout(30*time.Second), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	c, err := natsrpc.NewClient(nc)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cut() // the blocked write fails at once: nothing waits for the write timeout
		c.Close()
		nc.Close()
	}()
	data := strings.Repeat("x", 1000<<10)
	// Each request goes into the socket until its buffers are full (a few
	// MiB on loopback; 48 MiB is far past them); from then on no request
	// can be written. Every call must still end with its context.
	for i := range 48 {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		err := c.Send(ctx, "p", data, nil)
		took := time.Since(start)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("call %d: %v after %v; want context.DeadlineExceeded", i, err, took)
		}
		if took > 10*time.Second { // its deadline was 100 ms: a hang, not slowness
			t.Fatalf("call %d with a 100 ms deadline returned after %v", i, took)
		}
	}
}
