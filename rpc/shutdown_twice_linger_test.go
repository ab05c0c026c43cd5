//go:build linux

package rpc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
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
	blob := strings.Repeat("z", 4000)
	srv, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		registerProbe(s)
		s.Handle("blob", rpc.Func(func(json.RawMessage) (any, error) { return blob, nil }))
	})
	nc := rawDial(t, srv, 4<<10)
	br := bufio.NewReaderSize(nc, 4<<10)
	var reqs strings.Builder
	for i := range n {
		reqs.WriteString(reqFrame(`"blob"`, `null`, strconv.Itoa(i)))
	}
	if _, err := nc.Write([]byte(reqs.String())); err != nil {
		t.Fatal(err)
	}
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
	got := 0
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
	// Lingering: the connection is still open, waiting for us.
	if srv.GetMetrics().Limits.ClosingConnections != 1 {
		t.Fatalf("closing connections %d, want the one lingering", srv.GetMetrics().Limits.ClosingConnections)
	}
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
	// The peer pipelines on: another request goes out before it reads.
	nc.Write([]byte(reqFrame(`"blob"`, `null`, `"later"`)))
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	var rerr error
	for {
		_, err := readNestFrame(br)
		if err != nil {
			rerr = err
			break
		}
		got++
	}
	nc.Close()
	if got != n || errors.Is(rerr, syscall.ECONNRESET) {
		t.Errorf("peer got %d of %d replies, then %v", got, n, rerr)
	}
	for range 2 {
		if err := <-shut; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}
}
