package rpc

import (
	"bufio"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/wire"
)

// TestIdlePingedConnectionWaitsOnSmallStack: our client pings a connection
// idle for HeartbeatInterval (10 s), so the idle connections of a server
// whose clients are msgpattern clients have all answered pings. Answering a
// ping (parse, pong, flush to the socket) runs on the reader goroutine, but
// is not a handler: the reader does not move to a fresh goroutine, and waits
// on the stack the ping grew. Run alone, without -race (StackInuse is exact
// only the first time in a process).
func TestIdlePingedConnectionWaitsOnSmallStack(t *testing.T) {
	// Connections turn warm only for requests 10 ms apart (idle.go): the
	// pings below come later, to connections that are idle.
	s := startIdleTestServer(t, 10*time.Millisecond, Config{})
	const n = 200
	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	defer func() {
		for _, nc := range conns {
			if nc != nil {
				nc.Close()
			}
		}
	}()
	for i := range conns {
		nc, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns[i], readers[i] = nc, bufio.NewReader(nc)
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := nc.Write(idleSumRequest(i)); err != nil {
			t.Fatal(err)
		}
		readIdleReply(t, readers[i], i)
	}
	// settle waits until want readers have moved to a fresh goroutine to
	// wait (at most 2 s: the unfixed server never moves a pinged one).
	settle := func(want uint64) {
		for deadline := time.Now().Add(2 * time.Second); s.stats.wentIdle.Load() < want && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // the old goroutines exit; later than warmFor
		runtime.GC()
		runtime.GC()
	}
	settle(n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i, nc := range conns { // each idle connection answers one ping
		ping := wire.AppendRequest(nil, wire.NestJS, heartbeatPatternJSON, []byte(`null`), nil, strconv.AppendInt(nil, int64(1000+i), 10))
		if _, err := nc.Write(ping); err != nil {
			t.Fatal(err)
		}
		if _, err := readReply(readers[i]); err != nil {
			t.Fatal(err)
		}
	}
	settle(2 * n)
	runtime.ReadMemStats(&after)
	grown := (float64(after.StackInuse) - float64(before.StackInuse)) / n
	t.Logf("stack per idle connection grew by %.0f bytes after one ping each", grown)
	if grown > 1<<10 && !raceEnabled {
		t.Errorf("answering a ping grew each idle reader's stack by %.0f bytes (documented: a fresh 2 KiB stack per idle connection)", grown)
	}
}
