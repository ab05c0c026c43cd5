//go:build linux

package rpc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestSecondShutdownKeepsTheLinger: Shutdown may be called again while one
// is in progress ("every call waits for the drain"). The second call must
// not cut the lingering close of connections the first one drained: a
// close with unread input resets the connection, and the kernel then
// discards the replies still in its send queue.
func TestSecondShutdownKeepsTheLinger(t *testing.T) {
	const n = 60
	srv, nc, br := blobPeer(t, n, "")
	deadline := time.Now().Add(20 * time.Second)
	for srv.GetMetrics().Requests < n {
		if time.Now().After(deadline) {
			t.Fatalf("requests %d", srv.GetMetrics().Requests)
		}
		time.Sleep(5 * time.Millisecond)
	}
	shut := make(chan error, 2)
	shutdownBegun(srv, shut)
	// A pipelining peer has a request in flight: it is not read any more.
	if _, err := nc.Write([]byte(reqFrame(`"blob"`, `null`, `"late"`))); err != nil {
		t.Fatal(err)
	}
	// Read until the server has handed every reply to its kernel (its
	// writer is done: the connection lingers), then stop reading.
	got := readUntilLingering(t, srv, nc, br, n)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	// Give the second call the time to act: wait (bounded) for the
	// connection to be closed; a correct server keeps it lingering, so
	// this wait runs out there (it asserts nothing about speed).
	wait := time.Now().Add(time.Second)
	for srv.GetMetrics().Limits.ClosingConnections != 0 && time.Now().Before(wait) {
		time.Sleep(5 * time.Millisecond)
	}
	pipelineThenReadToEnd(t, nc, br, got, n, 0)
	for range 2 {
		if err := <-shut; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}
}

// readUntilLingering reads replies until the server has handed all n
// (equally long) to its kernel, its writer done, and checks that the
// connection lingers; it returns how many it read.
func readUntilLingering(t *testing.T, srv *rpc.Server, nc net.Conn, br *bufio.Reader, n int) (got int) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	replyBytes := uint64(0)
	for {
		f, err := readNestFrame(br)
		if err != nil {
			t.Fatalf("after %d replies: %v", got, err)
		}
		got++
		replyBytes += uint64(len(f))
		if srv.GetMetrics().BytesOut >= uint64(n)*replyBytes/uint64(got) {
			break
		}
	}
	if c := srv.GetMetrics().Limits.ClosingConnections; c != 1 {
		t.Fatalf("closing connections %d, want the one lingering", c)
	}
	return got
}

// pipelineThenReadToEnd sends one more request, as a pipelining peer
// unaware of the close does, then (after pause) reads to the end: all n replies must
// come (got of them read already), and no reset.
func pipelineThenReadToEnd(t *testing.T, nc net.Conn, br *bufio.Reader, got, n int, pause time.Duration) {
	t.Helper()
	nc.Write([]byte(reqFrame(`"blob"`, `null`, `"later"`)))
	time.Sleep(pause) // for the reset, if the close comes with one
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	var rerr error
	for {
		if _, err := readNestFrame(br); err != nil {
			rerr = err
			break
		}
		got++
	}
	nc.Close()
	if got != n || errors.Is(rerr, syscall.ECONNRESET) {
		t.Errorf("peer got %d of %d replies, then %v", got, n, rerr)
	}
}

// blobPeer starts a server answering "blob" with 4000 bytes, dials it with
// a 4 KiB receive buffer and sends n "blob" requests, then tail.
func blobPeer(t *testing.T, n int, tail string) (*rpc.Server, net.Conn, *bufio.Reader) {
	t.Helper()
	blob := strings.Repeat("z", 4000)
	srv, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		registerProbe(s)
		s.Handle("blob", rpc.Func(func(json.RawMessage) (any, error) { return blob, nil }))
	})
	nc := rawDial(t, srv, 4<<10)
	var reqs strings.Builder
	for i := range n {
		reqs.WriteString(reqFrame(`"blob"`, `null`, strconv.Itoa(i)))
	}
	reqs.WriteString(tail)
	if _, err := nc.Write([]byte(reqs.String())); err != nil {
		t.Fatal(err)
	}
	return srv, nc, bufio.NewReaderSize(nc, 4<<10)
}
