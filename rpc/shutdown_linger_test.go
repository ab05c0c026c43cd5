//go:build unix

package rpc_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestShutdownLingersEveryConnection: Shutdown closes every connection by a
// lingering close, so that no reset destroys replies in flight. The bound
// on lingering connections (MaxConnections/4, at least 16) is an attacker's
// bound and used to apply during Shutdown too: past it, connections with
// unread input were reset and their replies lost (1588 of 8000 here, with
// MaxConnections 20 and 20 pipelining clients), Shutdown returning nil.
func TestShutdownLingersEveryConnection(t *testing.T) {
	const perConn = 400
	cfg := rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, RetryAttempts: -1}
	cfg.MaxConnections = 20 // the bound on closing connections is 16
	cfg.EvictIdleAfter = -1
	s := rpc.NewServer(&cfg, discardLogger())
	blob := strings.Repeat("x", 4000)
	rpc.NewServerWrapper(s).MessagePattern("blob", func(data json.RawMessage) (interface{}, error) {
		return blob, nil
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr().String()

	type peer struct {
		nc      net.Conn
		replies int
		err     error
	}
	var peers []*peer
	d := net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8<<10) })
		return nil
	}}
	n := 20
	for i := 0; i < n; i++ {
		nc, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		peers = append(peers, &peer{nc: nc})
	}
	var reqs strings.Builder
	for j := 0; j < perConn; j++ {
		reqs.WriteString(reqFrame(`"blob"`, `null`, strconv.Itoa(j)))
	}
	for _, p := range peers {
		go func() { p.nc.Write([]byte(reqs.String())) }()
	}
	// Every request is handled; the replies wait in the server's socket
	// buffers and writer for peers that have not read yet.
	deadline := time.Now().Add(30 * time.Second)
	for s.GetMetrics().Requests < uint64(n*perConn) {
		if time.Now().After(deadline) {
			t.Fatalf("requests %d", s.GetMetrics().Requests)
		}
		time.Sleep(10 * time.Millisecond)
	}

	shut := make(chan error, 1)
	// Shutdown has begun once Start is refused; the readers stop at once.
	shutdownBegun(s, shut)
	time.Sleep(100 * time.Millisecond)
	// A request sent now is not read (Shutdown stops reading): a peer
	// pipelining its calls always has some in flight.
	for _, p := range peers {
		p.nc.Write([]byte(reqFrame(`"blob"`, `null`, `"late"`)))
	}
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			br := bufio.NewReader(p.nc)
			p.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
			for {
				f, err := readNestFrame(br)
				if err != nil {
					p.err = err
					p.nc.Close()
					return
				}
				if strings.Contains(f, `"isDisposed":true`) {
					p.replies++
				}
			}
		}()
	}
	wg.Wait()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	m := s.GetMetrics()
	got, resets := 0, 0
	for _, p := range peers {
		got += p.replies
		if errors.Is(p.err, syscall.ECONNRESET) {
			resets++
		}
	}
	t.Logf("server handled %d requests; clients got %d replies; %d connections reset; linger_skipped %d",
		m.Requests, got, resets, m.Limits.LingerSkipped)
	if uint64(got) != m.Requests || resets > 0 {
		t.Errorf("a graceful Shutdown lost %d of the %d replies it made, %d connections ended by a reset (linger_skipped %d)",
			int(m.Requests)-got, m.Requests, resets, m.Limits.LingerSkipped)
	}
}
