package rpc

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// TestKeepAliveDerivedFromHeartbeats checks the socket options the server
// sets on accepted connections: probes after HeartbeatInterval of silence,
// every HeartbeatInterval, giving up once HeartbeatTimeout has passed.
func TestKeepAliveDerivedFromHeartbeats(t *testing.T) {
	tests := []struct {
		interval, timeout   time.Duration
		idle, intvl, probes int
	}{
		{10 * time.Second, 30 * time.Second, 10, 10, 3}, // the defaults
		{2 * time.Second, 5 * time.Second, 2, 2, 3},     // rounded up: never give up early
		{5 * time.Second, time.Second, 5, 5, 1},
		// Linux takes at most 127 probes (more fails, and its default of
		// 9 would stay): the interval grows instead.
		{10 * time.Second, 30 * time.Minute, 10, 15, 120},
		// Whole seconds: 100ms probes are 1 s probes, so 30 of them.
		{100 * time.Millisecond, 30 * time.Second, 1, 1, 30},
		{500 * time.Millisecond, 30 * time.Second, 1, 1, 30},
	}
	for _, tt := range tests {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		server, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{HeartbeatInterval: tt.interval, HeartbeatTimeout: tt.timeout}
		setKeepAlive(server, &cfg)
		raw, err := server.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var on, idle, intvl, probes int
		raw.Control(func(fd uintptr) {
			on, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
			idle, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
			intvl, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL)
			probes, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT)
		})
		if on != 1 || idle != tt.idle || intvl != tt.intvl || probes != tt.probes {
			t.Errorf("interval %v, timeout %v: keepalive on=%d idle=%ds interval=%ds probes=%d; want on=1 idle=%ds interval=%ds probes=%d",
				tt.interval, tt.timeout, on, idle, intvl, probes, tt.idle, tt.intvl, tt.probes)
		}
		client.Close()
		server.Close()
		ln.Close()
	}
}
