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
// reply tells the client, which stops pinging". Here that reply reaches
// the client in two TCP segments, the second 100 ms after the first (a
// slow link, a loaded NestJS). The first bytes count as "answered" for the
// heartbeat loop, which forgets the ping's id; the complete reply then
// finds no pending call, is dropped, and the client never learns that the
// server has no heartbeats: it pings again after every interval.
func TestClientHeartbeatNoHandlerReplySplit(t *testing.T) {
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
			wg.Go(func() { splitNoHandlerServer(nc) })
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
	if n := c.Metrics().Heartbeats; n != 1 {
		t.Errorf("sent %d heartbeats in 1 s idle toward a server without heartbeats, want 1 (then none)", n)
	}
}

// splitNoHandlerServer answers NestJS frames: "sum" with 3, anything else with
// NestJS's no-handler error, written in two parts 100 ms apart.
func splitNoHandlerServer(nc net.Conn) {
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
		if p.Pattern == "sum" {
			nc.Write([]byte(frame))
			continue
		}
		nc.Write([]byte(frame[:10]))
		time.Sleep(100 * time.Millisecond)
		nc.Write([]byte(frame[10:]))
	}
}
