package rpc_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestClientHeartbeatNoHandlerReplySplit: toward a server without
// heartbeats (NestJS), the README says "the first ping's 'no handler'
// reply tells the client, which stops pinging". Any whole frame answers a
// ping for the heartbeat loop, which then forgets its id; the ping's own
// reply, coming after, must still tell the client, when:
//   - it reaches the client in two TCP segments 100 ms apart (a slow link,
//     a loaded NestJS): the first bytes are no whole frame;
//   - the reply to a call made before the ping comes first, and the
//     ping's own 100 ms later (a NestJS slow to answer the first call):
//     the ping was forgotten, and its reply was dropped as late.
//
// Either way the client pinged again after every interval (11 pings in
// 1 s in the second case).
func TestClientHeartbeatNoHandlerReplySplit(t *testing.T) {
	for _, tt := range []struct {
		name    string
		slowSum bool
	}{{"split reply", false}, {"a call's reply first", true}} {
		t.Run(tt.name, func(t *testing.T) { testHeartbeatNoHandler(t, tt.slowSum) })
	}
}

func testHeartbeatNoHandler(t *testing.T, slowSum bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	defer func() {
		ln.Close()
		mu.Lock()
		for _, nc := range conns {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Go(func() { splitNoHandlerServer(nc, slowSum) })
		}
	})

	c, err := rpc.NewClient(ln.Addr().String(), rpc.WithHeartbeat(50*time.Millisecond, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got int
	if err := c.Send(ctx, "sum", []int{1, 2}, &got); err != nil || got != 3 {
		t.Fatalf("sum: %d, %v", got, err)
	}
	time.Sleep(time.Second)
	// With the call's reply first, a second ping may leave before the
	// first's late reply arrives; none after it.
	want := 1
	if slowSum {
		want = 2
	}
	n := c.Metrics().Heartbeats
	if n < 1 || n > uint64(want) {
		t.Errorf("sent %d heartbeats in 1 s idle toward a server without heartbeats, want at most %d (then none)", n, want)
	}
	time.Sleep(300 * time.Millisecond)
	if m := c.Metrics().Heartbeats; m != n {
		t.Errorf("still pinging a server without heartbeats: %d heartbeats, then %d", n, m)
	}
}

// splitNoHandlerServer answers NestJS frames: "sum" with 3, anything else with
// NestJS's no-handler error, written in two parts 100 ms apart; or, with
// slowSum, "sum" only when the next frame comes, whose whole no-handler
// reply follows 100 ms later.
func splitNoHandlerServer(nc net.Conn, slowSum bool) {
	var heldSum []byte
	defer nc.Close()
	br := bufio.NewReader(nc)
	for {
		lenText, err := br.ReadString('#')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(lenText[:len(lenText)-1])
		if err != nil {
			return
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			return
		}
		var p struct {
			Pattern string          `json:"pattern"`
			ID      json.RawMessage `json:"id"`
		}
		if json.Unmarshal(body, &p) != nil || p.ID == nil {
			continue
		}
		var reply string
		if p.Pattern == "sum" {
			reply = fmt.Sprintf(`{"response":3,"isDisposed":true,"id":%s}`, p.ID)
		} else {
			reply = fmt.Sprintf(`{"id":%s,"status":"error","err":"There is no matching message handler defined in the remote service."}`, p.ID)
		}
		frame := strconv.Itoa(len(reply)) + "#" + reply
		switch {
		case p.Pattern == "sum" && slowSum:
			heldSum = []byte(frame)
			continue
		case p.Pattern == "sum":
			nc.Write([]byte(frame))
			continue
		case slowSum:
			nc.Write(heldSum)
			heldSum = nil
			time.Sleep(100 * time.Millisecond)
			nc.Write([]byte(frame))
			continue
		}
		nc.Write([]byte(frame[:10]))
		time.Sleep(100 * time.Millisecond)
		nc.Write([]byte(frame[10:]))
	}
}
