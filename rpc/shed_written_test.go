package rpc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// pipeListener hands the server one end of net.Pipe per dial: no kernel
// buffer, a byte is written when the peer reads it, so how much of a
// reply is unwritten is exactly what the peer left unread.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}
func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }
func (l *pipeListener) dial() net.Conn {
	a, b := net.Pipe()
	select {
	case l.conns <- a:
	case <-l.closed:
	}
	return b
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// TestShedsHoldersOfMostlyWrittenReplies: the shedder judges what a
// connection holds, the buffer being written whole (charged until its
// write ends) and what waits behind it. It used to judge the unwritten
// bytes: peers that read all but 512 KiB of a 16 MiB reply, then trickled,
// held 80 MiB of a 64 MiB budget, none dropped, and an honest 1 MiB frame
// waited until dropped at FrameTimeout.
func TestShedsHoldersOfMostlyWrittenReplies(t *testing.T) {
	const (
		attackers = 5 // 80 MiB of replies against a 64 MiB budget
		replySize = 16 << 20
		unread    = 512 << 10
	)
	blob := strings.Repeat("r", replySize)
	cfg := rpc.Config{MemoryBudget: 64 << 20, FrameTimeout: 6 * time.Second, RateLimitPerSec: -1, RetryAttempts: -1}
	srv := rpc.NewServer(&cfg, discardLogger())
	registerProbe(srv) // "echo" among them
	srv.Handle("report", rpc.Func(func(json.RawMessage) (any, error) { return blob, nil }))
	ln := servePipe(t, srv)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	for i := range attackers {
		c := ln.dial()
		defer c.Close()
		go c.Write([]byte(reqFrame(`"report"`, `null`, strconv.Itoa(i))))
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		// All but the last 512 KiB (and the frame's header and tail).
		if _, err := io.CopyN(io.Discard, c, replySize-unread); err != nil {
			t.Logf("attacker %d dropped: %v", i, err) // as it should be, once over the budget
			continue
		}
		// Then 4 KiB a second: the write makes progress within
		// WriteTimeout, and ends after about two minutes.
		wg.Add(1)
		go func() {
			defer wg.Done()
			trickle(c, 4<<10, stop)
		}()
	}
	held := limits(srv).MemoryHeldBytes
	if held <= cfg.MemoryBudget && limits(srv).SlowConsumers == 0 {
		t.Fatalf("setup: %+v", limits(srv))
	}
	t.Logf("%d peers leaving 512 KiB of a 16 MiB reply unread: memory_held_bytes %.0f MiB of a %d MiB budget",
		attackers, mib(uint64(held)), cfg.MemoryBudget>>20)

	// An honest client sends a 1 MiB frame to "echo".
	start := time.Now()
	nc := ln.dial()
	defer nc.Close()
	data := strings.Repeat("h", 1<<20)
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	go nc.Write([]byte(reqFrame(`"echo"`, `"`+data+`"`, `"honest"`)))
	got, err := readNestFrame(bufio.NewReaderSize(nc, 64<<10))
	l := limits(srv)
	t.Logf("honest 1 MiB echo: %d bytes, err %v after %v; held %.0f MiB, budget pauses %d, over_budget %d, slow consumers %d",
		len(got), err, time.Since(start).Round(time.Millisecond), mib(uint64(l.MemoryHeldBytes)), l.BudgetPauses, l.OverBudget, l.SlowConsumers)
	if err != nil || got != valueReply(`"`+data+`"`, `"honest"`) {
		t.Errorf("an honest 1 MiB request was not served (%v; over_budget=%d) while %d peers held %.0f MiB of a %d MiB budget with replies they had read but the last 512 KiB of; slow_consumer=%d",
			err, l.OverBudget, attackers, mib(uint64(held)), cfg.MemoryBudget>>20, l.SlowConsumers)
	}
}

// servePipe serves srv on a new pipe listener until the test ends, then
// shuts it down (closes it if that takes 10 s).
func servePipe(t *testing.T, srv *rpc.Server) *pipeListener {
	ln := newPipeListener()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-served
	})
	return ln
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
