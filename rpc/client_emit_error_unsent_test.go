package rpc_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientEmitErrorMeansNotSent: Emit's documentation says "An error
// means the event was not sent." An Emit of more than 64 KiB alone on its
// connection is handed to the writer goroutine and Emit waits; when its
// context ends it returns the context's error, yet the writer goroutine
// goes on and the whole event reaches the server. A caller that retries a
// failed Emit delivers the event twice.
func TestClientEmitErrorMeansNotSent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err == nil {
			nc.(*net.TCPConn).SetReadBuffer(64 << 10)
			accepted <- nc
		}
	}()
	c, err := rpc.NewClient(ln.Addr().String(), rpc.WithClientLogger(discardLogger()),
		rpc.WithHeartbeat(0, 0), rpc.WithWriteTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	big := strings.Repeat("x", 16<<20) // far more than the socket buffers hold
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	emitErr := c.Emit(ctx, "evt", big) // the server reads nothing yet
	if emitErr == nil {
		t.Fatal("Emit of 16 MiB alone on its connection returned nil, though the server has read nothing")
	}
	nc := <-accepted
	defer nc.Close()

	// Now the server reads: does the event arrive, whole?
	nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReaderSize(nc, 1<<20)
	hdr, err := br.ReadString('#')
	if err != nil {
		return // nothing arrived: consistent with the error
	}
	n, err := strconv.Atoi(strings.TrimSuffix(hdr, "#"))
	if err != nil {
		t.Fatalf("bad frame header %q", hdr)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return // cut short: the event was not delivered
	}
	if bytes.Contains(body, []byte(`"evt"`)) {
		t.Fatalf("Emit returned %v, yet the whole event (%d bytes) reached the server", emitErr, n)
	}
}
