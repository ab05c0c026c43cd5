package prommetrics_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/msgpattern/msgpattern/prommetrics"
	"github.com/msgpattern/msgpattern/rpc"
)

// Serve the Prometheus metrics at /metrics beside the JSON snapshot at
// /metrics.json, on an HTTP port of their own.
func ExampleHandler() {
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv.Handle("ping", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
	if err := srv.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown(context.Background())

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", prommetrics.Handler(srv))
	mux.Handle("GET /metrics.json", rpc.MetricsHandler(srv))
	// In a program: http.ListenAndServe(":9090", mux).
	hs := httptest.NewServer(mux)
	defer hs.Close()

	resp, err := hs.Client().Get(hs.URL + "/metrics")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "msgpattern_requests_total") ||
			strings.HasPrefix(line, "msgpattern_pattern_requests_total") ||
			strings.HasPrefix(line, `msgpattern_pattern_latency_seconds_bucket{pattern="ping",le="+Inf"}`) {
			fmt.Println(line)
		}
	}
	// Output:
	// msgpattern_pattern_latency_seconds_bucket{pattern="ping",le="+Inf"} 0
	// msgpattern_pattern_requests_total{pattern="ping"} 0
	// msgpattern_requests_total 0
}

// Register the collector in a registry of your own, here under another
// namespace and with a label telling this server from others.
func ExampleNewCollector() {
	srv := rpc.NewServer(nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv.Handle("orders.get", rpc.Func(func(json.RawMessage) (any, error) { return nil, nil }))

	reg := prometheus.NewRegistry()
	reg.MustRegister(prommetrics.NewCollector(srv,
		prommetrics.WithNamespace("shop"),
		prommetrics.WithConstLabels(prometheus.Labels{"service": "orders"}),
	))
	// Serve it with promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).

	families, err := reg.Gather()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, mf := range families {
		if strings.HasPrefix(mf.GetName(), "shop_pattern_") {
			var labels []string
			for _, l := range mf.GetMetric()[0].GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			fmt.Println(mf.GetName(), mf.GetType(), labels)
		}
	}
	// Output:
	// shop_pattern_errors_total COUNTER [pattern=orders.get service=orders]
	// shop_pattern_latency_seconds HISTOGRAM [pattern=orders.get service=orders]
	// shop_pattern_requests_total COUNTER [pattern=orders.get service=orders]
}
