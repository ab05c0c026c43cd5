//go:build linux

package rpc_test

import (
	"bufio"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestWriteTimeoutSparesSteadyReader: WriteTimeout drops a connection
// whose socket takes no bytes for that long. A peer reading a 6 MiB reply
// steadily, 16 KiB every 20 ms (about 800 KB/s), takes bytes all the
// time, yet with a 1 s WriteTimeout it was dropped as a slow consumer
// after about 5.5 MiB: Linux wakes a writer blocked on a full send buffer
// (grown to megabytes) only once half of it is free, so one Write took
// nothing for longer than the timeout. (With the default 10 s: a peer
// reading below about 100 KB/s.) Bytes the peer takes out of the send
// buffer count as progress now; the same connection is served after.
func TestWriteTimeoutSparesSteadyReader(t *testing.T) {
	t.Parallel()
	blob := strings.Repeat("r", 6<<20)
	srv, _ := startServer(t, rpc.Config{WriteTimeout: time.Second, Timeout: time.Minute}, func(s *rpc.Server) {
		registerProbe(s)
		s.Handle("big", rpc.Typed(func(context.Context, any) (string, error) { return blob, nil }))
	})
	nc := rawDial(t, srv, 16<<10)
	c := &client{t: t, nc: nc, br: bufio.NewReader(nc)}
	c.write(reqFrame(`"big"`, `null`, `1`))
	want := valueReply(`"`+blob+`"`, `1`)
	got := make([]byte, 0, len(want))
	start := time.Now()
	nc.SetReadDeadline(start.Add(2 * time.Minute))
	for len(got) < len(want) {
		time.Sleep(20 * time.Millisecond)
		n, err := c.br.Read(got[len(got):min(len(got)+16<<10, len(want))])
		got = got[:len(got)+n]
		if err != nil {
			t.Fatalf("the reply, read steadily, lost after %d of %d bytes and %v: %v (slow consumers dropped: %d)",
				len(got), len(want), time.Since(start).Round(time.Millisecond), err, srv.GetMetrics().Limits.SlowConsumers)
		}
	}
	if string(got) != want {
		t.Fatal("the reply is not the blob")
	}
	c.write(reqFrame(`"sum"`, `[1,2]`, `2`))
	c.expectFrame(valueReply(`3`, `2`))
	if n := srv.GetMetrics().Limits.SlowConsumers; n != 0 {
		t.Fatalf("%d slow consumers dropped, want 0", n)
	}
}
