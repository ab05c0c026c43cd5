// Package prommetrics exports an [rpc.Server]'s metrics to Prometheus.
//
// Package rpc keeps its counters in atomics and hands out snapshots
// ([rpc.Server.GetMetrics]); it does not depend on Prometheus. This package
// is the bridge: [NewCollector] returns a [prometheus.Collector] that takes
// one snapshot per scrape and turns it into constant metrics, so nothing is
// counted twice and the request path pays nothing for Prometheus.
//
// # Metrics
//
// Names below use the default namespace, msgpattern ([WithNamespace] changes
// it). Counters count from the server's start ([rpc.NewServer]); their
// created timestamp is that start, for the formats that carry one
// (protobuf).
//
//	name                                          type       labels   from rpc.Metrics
//	msgpattern_requests_total                     counter             Requests
//	msgpattern_events_total                       counter             Events
//	msgpattern_retries_total                      counter             Retries
//	msgpattern_errors_total                       counter    kind     ErrorByKind, one kind per field
//	msgpattern_in_flight                          gauge               InFlight
//	msgpattern_connections_active                 gauge               ActiveConnections
//	msgpattern_connections_total                  counter             TotalConnections (rejected ones included)
//	msgpattern_connections_rejected_total         counter             RejectedConnections
//	msgpattern_heartbeats_received_total          counter             Heartbeats.Received
//	msgpattern_heartbeats_sent_total              counter             Heartbeats.Sent
//	msgpattern_heartbeats_failed_total            counter             Heartbeats.Failed
//	msgpattern_bytes_received_total               counter             BytesIn
//	msgpattern_bytes_sent_total                   counter             BytesOut
//	msgpattern_handed_off_total                   counter             HandedOff
//	msgpattern_processing_seconds_total           counter             ProcessingTimeMs / 1000
//	msgpattern_uptime_seconds                     gauge               UptimeSeconds
//	msgpattern_start_time_seconds                 gauge               StartedAt, Unix seconds
//	msgpattern_pattern_requests_total             counter    pattern  Patterns[].Count
//	msgpattern_pattern_errors_total               counter    pattern  Patterns[].Errors
//	msgpattern_pattern_latency_seconds            histogram  pattern  Patterns[].Latency, TotalLatencyMs, Count
//	msgpattern_transport_requests_total           counter    transport Transports[].Requests (tcp, nats, …)
//	msgpattern_transport_events_total             counter    transport Transports[].Events
//	msgpattern_limit_reached_total                counter    kind     Limits: SlowConsumers, ReadPauses, BudgetPauses, …
//	msgpattern_limit                              gauge      name     Limits: the configured bounds
//	msgpattern_memory_held_bytes                  gauge               Limits.MemoryHeldBytes
//	msgpattern_handed_off_running                 gauge               Limits.HandedOffRunning
//	msgpattern_connections_closing                gauge               Limits.ClosingConnections
//
// The resource bounds of [rpc.Config] (see "Limits" in the repository's
// docs/SERVER.md) are exported twice: msgpattern_limit{name} holds each configured
// value (write_timeout_seconds, max_queued_reply_bytes, memory_budget_bytes,
// max_in_flight, max_handlers, max_connections, evict_idle_after_seconds,
// max_frame_size_units, frame_timeout_seconds,
// min_frame_rate_bytes_per_second; -1 when a bound is off, the rate floor
// also when FrameTimeout is, as rpc then applies none), and msgpattern_limit_reached_total{kind} counts how often one was
// reached: slow_consumer, read_pause, budget_pause, over_budget,
// handoff_deferred, evicted_idle, linger_skipped, stalled_frame, slow_frame.
//
// The kind label of msgpattern_errors_total takes the JSON names of
// [rpc.ErrorCounts]' fields: timeout, rate_limited, rate_limited_events,
// no_handler, no_event_handler, bad_frame, framing, decode, handler, rpc,
// panic, encode, canceled, shutting_down, late_results_dropped,
// data_too_large, shutdown_cut (and any kind rpc adds later). Every kind is always exported, zeros
// included. Note that rpc.Metrics.Errors leaves late_results_dropped and
// shutdown_cut out, so it is sum without (kind) minus those two kinds.
//
// The pattern label is the route key, as in the JSON snapshot: "ping", or
// {"cmd":"sum","role":"math"} for an object pattern. A key (or transport
// name) that is not UTF-8, as rpc allows, or that begins with a double
// quote is labeled in Go's quoted form, quotes included ("caf\xe9", see
// strconv.Quote), so that every key keeps a label of its own. Event patterns are
// included; for them pattern_requests_total counts events. Every registered
// pattern is exported from its registration on, with zeros until it is
// called.
//
// # Latency histogram
//
// rpc keeps a power-of-two histogram per pattern. msgpattern_pattern_latency_seconds
// has the same upper bounds, 2^i microseconds for i = 0…26 (1 µs to about
// 67.1 s), plus +Inf, for every pattern whether or not a bucket has been
// reached, so series neither appear nor vanish and buckets of different
// patterns aggregate. Bucket counts are cumulative, as Prometheus expects;
// latencies beyond 67.1 s count in +Inf only; _sum is the total latency and
// _count the number of calls. Use histogram_quantile over
// rate(msgpattern_pattern_latency_seconds_bucket[5m]) for percentiles; the
// JSON snapshot's p50/p90/p99 are estimates since the start and are not
// exported.
//
// # Serving
//
// [Handler] serves the metrics in the Prometheus exposition formats from a
// registry of its own, which also holds the Go runtime and process
// collectors (go_*, process_*). Mount it next to [rpc.MetricsHandler], the
// JSON snapshot:
//
//	mux := http.NewServeMux()
//	mux.Handle("GET /metrics", prommetrics.Handler(srv))
//	mux.Handle("GET /metrics.json", rpc.MetricsHandler(srv))
//	go http.ListenAndServe(":9090", mux)
//
// An application with a registry of its own registers the collector there
// instead:
//
//	prometheus.MustRegister(prommetrics.NewCollector(srv))
//	mux.Handle("GET /metrics", promhttp.Handler())
//
// Two servers in one registry need different namespaces or const labels
// ([WithConstLabels]), else their metrics collide and registration fails.
package prommetrics
