package main

import (
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeGraceIdlePeersExitZero: serve now exits 1 and warns
// "grace period over: in-flight work cut off" whenever rpc.Server.Shutdown
// returns context.DeadlineExceeded. Shutdown returns it also when nothing
// was in flight: an idle connection whose peer does not close its side at
// once keeps its lingering close (up to 5 s) going past a --grace shorter
// than that, and with --grace 0 any open connection does. Nothing was cut
// off, yet serve says so and exits 1 ("did not shut down cleanly").
func TestServeGraceIdlePeersExitZero(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGTERM")
	}
	for _, tc := range []struct {
		name, grace string
		closeOnEOF  bool // the peer closes as soon as the server does (NestJS, msgpattern clients)
	}{
		{"idle peer keeping its side open, grace 2s", "2s", false},
		{"idle well-behaved peer, grace 0", "0s", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, metricsAddr := freeAddr(t), freeAddr(t)
			p := startServe(t, "--addr", addr, "--metrics-addr", metricsAddr, "--grace", tc.grace)
			waitHTTP(t, p, "http://"+metricsAddr+"/metrics.json")
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if tc.closeOnEOF {
				go func() { io.Copy(io.Discard, nc); nc.Close() }()
			}
			p.poll(t, "the idle connection accepted", func() bool {
				return strings.Contains(httpGet(t, "http://"+metricsAddr+"/metrics.json"), `"active_connections": 1,`)
			})
			time.Sleep(100 * time.Millisecond)
			p.signal(t, syscall.SIGTERM, 15*time.Second, 0)
			if strings.Contains(p.stderr.String(), "in-flight work cut off") {
				t.Errorf("serve warned that in-flight work was cut off; nothing was in flight (one idle connection)")
			}
		})
	}
}
