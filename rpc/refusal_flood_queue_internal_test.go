package rpc

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRefusalFloodQueueBounded: a peer that never reads and pipelines
// requests the server refuses without running a handler (here: no
// pattern, which is answered before any rate limit) must not make its
// connection queue more replies than a peer whose requests run handlers
// can: the reader stops reading above readPauseMark (≤ 1 MiB) and flushes
// a long queue at flushThreshold (commit). Refusals (no pattern, no
// handler, rate limited) and pongs skipped commit, so one chunk of 10-byte
// requests (up to 1 MiB, read at once) queued ten times its size in
// replies, charged to the budget, before the reader flushed or paused.
// An honest client on the same server is still served.
func TestRefusalFloodQueueBounded(t *testing.T) {
	s := NewServer(&Config{Addr: "127.0.0.1:0"}, discardLog()) // defaults: the attack needs none changed
	s.Handle("echo", Func(func(d json.RawMessage) (any, error) { return d, nil }))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr := s.Addr().String()

	var peak atomic.Int64 // the most reply bytes one connection queued
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			s.mu.Lock()
			for _, c := range s.connList {
				if q := int64(c.out.queuedBytes()); q > peak.Load() {
					peak.Store(q)
				}
			}
			s.mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()

	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// First read the replies while flooding, so that the chunk grows to
	// 1 MiB (reads fill it; the budget is nearly unused); then stop
	// reading and go on flooding.
	piece := []byte(strings.Repeat(`8#{"id":1}`, 1<<20/10))
	reading := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		buf := make([]byte, 1<<20)
		for {
			select {
			case <-reading:
				return
			default:
			}
			nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			nc.Read(buf)
		}
	}()
	nc.SetWriteDeadline(time.Now().Add(20 * time.Second))
	for range 8 {
		if _, err := nc.Write(piece); err != nil {
			t.Fatal(err)
		}
	}
	close(reading)
	<-readerDone
	for range 16 {
		nc.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := nc.Write(piece); err != nil {
			break // the server stopped reading: fine
		}
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	// Honest client: still served.
	hc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	hc.SetDeadline(time.Now().Add(5 * time.Second))
	body := `{"pattern":"echo","data":1,"id":"h"}`
	if _, err := hc.Write([]byte(refusalFrame(body))); err != nil {
		t.Fatal(err)
	}
	if _, err := refusalReadFrame(bufio.NewReader(hc)); err != nil {
		t.Fatalf("honest client not served: %v", err)
	}

	// The reader stops reading above readPauseMark (1 MiB), and a long
	// queue is written at flushThreshold: what one connection queues stays
	// near the mark.
	if p, bound := peak.Load(), int64(s.readPauseMark+flushThreshold); p > bound {
		t.Errorf("a peer that does not read queued %d reply bytes on its connection (> %d) by pipelining refused requests: refusals are never flushed before the reader has worked through its whole chunk", p, bound)
	}
}

// refusalFrame frames an ASCII body; refusalReadFrame reads one frame of
// ASCII text.
func refusalFrame(body string) string { return strconv.Itoa(len(body)) + "#" + body }

func refusalReadFrame(br *bufio.Reader) (string, error) {
	hdr, err := br.ReadString('#')
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(hdr[:len(hdr)-1])
	if err != nil {
		return "", err
	}
	b := make([]byte, n)
	_, err = io.ReadFull(br, b)
	return string(b), err
}
