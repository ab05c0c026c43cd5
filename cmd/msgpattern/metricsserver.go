package main

import (
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// The metrics listener's bounds: what anyone who can reach --metrics-addr
// can make serve hold. net/http waits for a keep-alive connection's next
// request for ever unless told otherwise, and its descriptors are the ones
// the RPC listener needs too. A scraper every 15–60 s reconnects at worst.
var (
	metricsIdleTimeout = 30 * time.Second // a keep-alive connection between requests
	metricsIOTimeout   = 30 * time.Second // reading a request, writing a response
	maxMetricsConns    = 64               // past it, new connections wait in the backlog
)

// serveMetrics serves h on ln within those bounds, in a goroutine; onErr
// is called if serving stops for another reason than Shutdown or Close.
func serveMetrics(ln net.Listener, h http.Handler, onErr func(error)) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       metricsIOTimeout,
		WriteTimeout:      metricsIOTimeout,
		IdleTimeout:       metricsIdleTimeout,
		MaxHeaderBytes:    16 << 10,
	}
	go func() {
		if err := srv.Serve(netutil.LimitListener(ln, maxMetricsConns)); err != http.ErrServerClosed {
			onErr(err)
		}
	}()
	return srv
}
