//go:build linux

package rpc_test

import (
	"bufio"
	"context"
	"fmt"
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
//
// A round in which the machine kept the reader, or a goroutine of this
// process (the server's are), from running for half the timeout proves
// nothing either way (a loaded CI machine did: the reader really did
// stall) and is run again, at most five rounds.
func TestWriteTimeoutSparesSteadyReader(t *testing.T) {
	t.Parallel()
	const writeTimeout = time.Second
	blob := strings.Repeat("r", 6<<20)
	for round := 1; ; round++ {
		srv, _ := startServer(t, rpc.Config{WriteTimeout: writeTimeout, Timeout: time.Minute}, func(s *rpc.Server) {
			registerProbe(s)
			s.Handle("big", rpc.Typed(func(context.Context, any) (string, error) { return blob, nil }))
		})
		lag := watchLag()
		got, gap, err := readSteadily(t, srv, blob)
		late := lag()
		if err == nil {
			return
		}
		if gap < writeTimeout/2 && late < writeTimeout/2 {
			t.Fatalf("the reply, read steadily (at most %v between reads), %v (slow consumers dropped: %d)",
				gap, err, srv.GetMetrics().Limits.SlowConsumers)
		}
		t.Logf("round %d: the reply was lost after %d bytes (%v), but the machine kept the reader from reading for %v, and a goroutine of this process from running for %v",
			round, got, err, gap, late)
		if round == 5 {
			t.Fatal("five rounds in which the machine starved the reader or the server: WriteTimeout's rule was never tested")
		}
	}
}

// readSteadily asks srv for blob and reads the reply 16 KiB every 20 ms,
// then checks that the connection is still served. It returns how many
// bytes of the reply it read, the longest time between two reads beyond
// the 20 ms asked for, and what went wrong.
func readSteadily(t *testing.T, srv *rpc.Server, blob string) (int, time.Duration, error) {
	nc := rawDial(t, srv, 16<<10)
	c := &client{t: t, nc: nc, br: bufio.NewReader(nc)}
	c.write(reqFrame(`"big"`, `null`, `1`))
	want := valueReply(`"`+blob+`"`, `1`)
	got := make([]byte, 0, len(want))
	start := time.Now()
	nc.SetReadDeadline(start.Add(2 * time.Minute))
	var gap time.Duration
	last := start
	for len(got) < len(want) {
		time.Sleep(20 * time.Millisecond)
		n, err := c.br.Read(got[len(got):min(len(got)+16<<10, len(want))])
		got = got[:len(got)+n]
		now := time.Now()
		gap, last = max(gap, now.Sub(last)-20*time.Millisecond), now
		if err != nil {
			return len(got), gap, fmt.Errorf("lost after %d of %d bytes and %v: %w",
				len(got), len(want), time.Since(start).Round(time.Millisecond), err)
		}
	}
	if string(got) != want {
		t.Fatal("the reply is not the blob")
	}
	c.write(reqFrame(`"sum"`, `[1,2]`, `2`))
	c.expectFrame(valueReply(`3`, `2`))
	if n := srv.GetMetrics().Limits.SlowConsumers; n != 0 {
		return len(got), gap, fmt.Errorf("read whole, yet %d slow consumers dropped, want 0", n)
	}
	return len(got), gap, nil
}
