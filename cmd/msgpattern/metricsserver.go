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
// the RPC listener needs too. Keep-alives are off: a scraper comes every
// 15–60 s and may as well reconnect, and idle connections would take the
// slots a scrape or a health probe needs.
var (
	metricsHeaderTimeout = 10 * time.Second // a request's header
	metricsIOTimeout     = 30 * time.Second // reading a request, writing a response
	maxMetricsConns      = 64               // past it, new connections wait in the backlog
)

// serveMetrics serves h on ln within those bounds, in a goroutine; onErr
// is called if serving stops for another reason than Shutdown or Close.
func serveMetrics(ln net.Listener, h http.Handler, onErr func(error)) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: metricsHeaderTimeout,
		ReadTimeout:       metricsIOTimeout,
		WriteTimeout:      metricsIOTimeout,
		MaxHeaderBytes:    16 << 10,
	}
	srv.SetKeepAlivesEnabled(false)
	go func() {
		if err := srv.Serve(netutil.LimitListener(ln, maxMetricsConns)); err != http.ErrServerClosed {
			onErr(err)
		}
	}()
	return srv
}
