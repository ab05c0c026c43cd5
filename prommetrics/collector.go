package prommetrics

import (
	"maps"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/msgpattern/msgpattern/rpc"
)

// DefaultNamespace prefixes every metric name unless [WithNamespace] says
// otherwise.
const DefaultNamespace = "msgpattern"

// Option configures [NewCollector] and [Handler].
type Option func(*options)

type options struct {
	namespace   string
	constLabels prometheus.Labels
}

// WithNamespace sets the prefix of every metric name (default
// "msgpattern"); "" leaves the names unprefixed ("requests_total").
func WithNamespace(ns string) Option {
	return func(o *options) { o.namespace = ns }
}

// WithConstLabels adds labels with fixed values to every metric, for
// example to tell apart two servers of one process in one registry.
func WithConstLabels(l prometheus.Labels) Option {
	return func(o *options) {
		o.constLabels = maps.Clone(l)
	}
}

// errorKind is one field of rpc.ErrorCounts: its JSON name and index.
type errorKind struct {
	name  string
	index int
}

// errorKinds lists rpc.ErrorCounts' counters, in field order. It is read
// from the struct so that a kind rpc adds is exported without a change here.
var errorKinds = func() []errorKind {
	t := reflect.TypeFor[rpc.ErrorCounts]()
	var kinds []errorKind
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Type.Kind() != reflect.Uint64 {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		kinds = append(kinds, errorKind{name, i})
	}
	return kinds
}()

// maxBucketExp is the largest i whose bound, 2^i µs, is a finite bucket of
// the latency histograms: rpc's histogram counts everything from 2^26 µs
// (about 67 s) on in one last bucket, which here is +Inf.
const maxBucketExp = 26

// latencyBounds are the latency histograms' upper bounds in seconds.
var latencyBounds = func() []float64 {
	b := make([]float64, maxBucketExp+1)
	for i := range b {
		b[i] = float64(uint64(1)<<i) / 1e6
	}
	return b
}()

// collector is the prometheus.Collector of one server.
type collector struct {
	srv *rpc.Server

	requests, events, retries, errors    *prometheus.Desc
	inFlight, connsActive                *prometheus.Desc
	connsTotal, connsRejected            *prometheus.Desc
	hbReceived, hbSent, hbFailed         *prometheus.Desc
	bytesIn, bytesOut, handedOff         *prometheus.Desc
	processing, uptime, startTime        *prometheus.Desc
	patRequests, patErrors, patLatencies *prometheus.Desc
	limitEvents, limitValues             *prometheus.Desc
	transportRequests, transportEvents   *prometheus.Desc
	memHeld, handedOffRunning, closing   *prometheus.Desc
}

// NewCollector returns a collector of s's metrics: each scrape takes one
// [rpc.Server.GetMetrics] snapshot and exports it as described in the
// package documentation. Register it with a [prometheus.Registerer], or
// serve it with [Handler].
func NewCollector(s *rpc.Server, opts ...Option) prometheus.Collector {
	o := options{namespace: DefaultNamespace}
	for _, opt := range opts {
		opt(&o)
	}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(o.namespace, "", name), help, labels, o.constLabels)
	}
	return &collector{
		srv:           s,
		requests:      desc("requests_total", "Requests routed to a handler (those refused by WithMaxDataBytes included)."),
		events:        desc("events_total", "Events routed to a handler (the same)."),
		retries:       desc("retries_total", "Handler attempts after the first."),
		errors:        desc("errors_total", "Failures by kind (the JSON names of rpc.ErrorCounts).", "kind"),
		inFlight:      desc("in_flight", "Handlers running now."),
		connsActive:   desc("connections_active", "Open connections."),
		connsTotal:    desc("connections_total", "Connections accepted, rejected ones included."),
		connsRejected: desc("connections_rejected_total", "Connections closed on accept at MaxConnections."),
		hbReceived:    desc("heartbeats_received_total", "Heartbeat pings received."),
		hbSent:        desc("heartbeats_sent_total", "Heartbeat pongs sent."),
		hbFailed:      desc("heartbeats_failed_total", "Connections closed because their peer fell silent."),
		bytesIn:       desc("bytes_received_total", "Bytes read from connections."),
		bytesOut:      desc("bytes_sent_total", "Bytes written to connections."),
		handedOff:     desc("handed_off_total", "Handlers that ran long enough for their connection's reader to move to a new goroutine."),
		processing:    desc("processing_seconds_total", "Time from each message's read to its handler's return (waiting to start included), all patterns."),
		uptime:        desc("uptime_seconds", "Time since the server was created."),
		startTime:     desc("start_time_seconds", "When the server was created, in seconds since the Unix epoch."),
		patRequests:   desc("pattern_requests_total", "Messages handled, by pattern (events for event patterns).", "pattern"),
		patErrors:     desc("pattern_errors_total", "Messages whose handler failed, by pattern.", "pattern"),
		patLatencies:  desc("pattern_latency_seconds", "Handler latency, by pattern.", "pattern"),
		limitEvents: desc("limit_reached_total", "Times a resource bound was reached, by kind: slow_consumer (connection dropped: replies unread), "+
			"read_pause (connection not read: replies unread), budget_pause and over_budget (memory budget: waited, dropped), "+
			"handoff_deferred (MaxHandlers), evicted_idle (MaxConnections), linger_skipped, stalled_frame and slow_frame (FrameTimeout, MinFrameRate).", "kind"),
		transportRequests: desc("transport_requests_total", "Requests routed to a handler, by the transport they came by (tcp, nats, …).", "transport"),
		transportEvents:   desc("transport_events_total", "Events routed to a handler, by the transport they came by.", "transport"),
		limitValues:       desc("limit", "The configured resource bounds, by name (seconds and bytes; -1 when off).", "name"),
		memHeld:           desc("memory_held_bytes", "Bytes charged to the memory budget now: incoming frames beyond the free allowance, and queued replies."),
		handedOffRunning:  desc("handed_off_running", "Handlers running off their connection's reader now (bounded by MaxHandlers)."),
		closing:           desc("connections_closing", "Connections closing (finishing, lingering), not counted in connections_active."),
	}
}

// Describe sends the descriptors of every metric the collector exports.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.requests, c.events, c.retries, c.errors,
		c.inFlight, c.connsActive, c.connsTotal, c.connsRejected,
		c.hbReceived, c.hbSent, c.hbFailed,
		c.bytesIn, c.bytesOut, c.handedOff,
		c.processing, c.uptime, c.startTime,
		c.patRequests, c.patErrors, c.patLatencies,
		c.limitEvents, c.limitValues, c.memHeld, c.handedOffRunning, c.closing,
		c.transportRequests, c.transportEvents,
	} {
		ch <- d
	}
}

// Collect takes one snapshot of the server's metrics and sends them.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	m := c.srv.GetMetrics()
	start := m.StartedAt
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		if start.IsZero() {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
			return
		}
		ch <- prometheus.MustNewConstMetricWithCreatedTimestamp(d, prometheus.CounterValue, v, start, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}

	counter(c.requests, float64(m.Requests))
	counter(c.events, float64(m.Events))
	counter(c.retries, float64(m.Retries))
	errs := reflect.ValueOf(m.ErrorByKind)
	for _, k := range errorKinds {
		counter(c.errors, float64(errs.Field(k.index).Uint()), k.name)
	}
	gauge(c.inFlight, float64(m.InFlight))
	gauge(c.connsActive, float64(m.ActiveConnections))
	counter(c.connsTotal, float64(m.TotalConnections))
	counter(c.connsRejected, float64(m.RejectedConnections))
	counter(c.hbReceived, float64(m.Heartbeats.Received))
	counter(c.hbSent, float64(m.Heartbeats.Sent))
	counter(c.hbFailed, float64(m.Heartbeats.Failed))
	counter(c.bytesIn, float64(m.BytesIn))
	counter(c.bytesOut, float64(m.BytesOut))
	counter(c.handedOff, float64(m.HandedOff))
	counter(c.processing, m.ProcessingTimeMs/1e3)
	gauge(c.uptime, m.UptimeSeconds)
	if !start.IsZero() {
		gauge(c.startTime, float64(start.UnixNano())/1e9)
	}

	for _, tm := range m.Transports {
		counter(c.transportRequests, float64(tm.Requests), labelValue(tm.Transport))
		counter(c.transportEvents, float64(tm.Events), labelValue(tm.Transport))
	}
	l := m.Limits
	minFrameRate := float64(l.MinFrameRate)
	if l.FrameTimeoutMs < 0 {
		// rpc applies the rate floor only under a frame deadline: with
		// FrameTimeout off, MinFrameRate is off too (rpc.Config).
		minFrameRate = -1
	}
	for _, e := range []struct {
		kind string
		n    uint64
	}{
		{"slow_consumer", l.SlowConsumers}, {"read_pause", l.ReadPauses},
		{"budget_pause", l.BudgetPauses}, {"over_budget", l.OverBudget},
		{"handoff_deferred", l.HandoffsDeferred}, {"evicted_idle", l.EvictedIdle},
		{"linger_skipped", l.LingerSkipped}, {"stalled_frame", l.StalledFrames}, {"slow_frame", l.SlowFrames},
	} {
		counter(c.limitEvents, float64(e.n), e.kind)
	}
	for _, v := range []struct {
		name  string
		value float64
	}{
		{"write_timeout_seconds", l.WriteTimeoutMs / 1e3},
		{"max_queued_reply_bytes", float64(l.MaxQueuedReplyBytes)},
		{"memory_budget_bytes", float64(l.MemoryBudgetBytes)},
		{"max_in_flight", float64(l.MaxInFlight)},
		{"max_handlers", float64(l.MaxHandlers)},
		{"max_connections", float64(l.MaxConnections)},
		{"evict_idle_after_seconds", l.EvictIdleAfterMs / 1e3},
		{"max_frame_size_units", float64(l.MaxFrameSize)},
		{"frame_timeout_seconds", l.FrameTimeoutMs / 1e3},
		{"min_frame_rate_bytes_per_second", minFrameRate},
	} {
		value := v.value
		if value < 0 {
			// Off, however negative: a duration turned off with -1 is
			// -1 ns, -1e-9 s once converted.
			value = -1
		}
		ch <- prometheus.MustNewConstMetric(c.limitValues, prometheus.GaugeValue, value, v.name)
	}
	gauge(c.memHeld, float64(l.MemoryHeldBytes))
	gauge(c.handedOffRunning, float64(l.HandedOffRunning))
	gauge(c.closing, float64(l.ClosingConnections))

	for _, p := range m.Patterns {
		pattern := labelValue(p.Pattern)
		counter(c.patRequests, float64(p.Count), pattern)
		counter(c.patErrors, float64(p.Errors), pattern)
		buckets, count := latencyBuckets(p.Latency, p.Count)
		sum := p.TotalLatencyMs / 1e3
		if start.IsZero() {
			ch <- prometheus.MustNewConstHistogram(c.patLatencies, count, sum, buckets, pattern)
		} else {
			ch <- prometheus.MustNewConstHistogramWithCreatedTimestamp(c.patLatencies, count, sum, buckets, start, pattern)
		}
	}
}

// latencyBuckets turns a snapshot's histogram, whose buckets each count
// the latencies above the previous bound, into Prometheus' cumulative
// buckets over latencyBounds, and returns them with the histogram's count.
//
// A snapshot bucket is credited to the first bound at or above its own, so
// a bucket beyond the last bound counts in +Inf only. The count is the
// snapshot's count, or the buckets' total if that is larger: the two are
// read at slightly different moments while requests complete, and a
// bucket must never exceed the count (+Inf).
func latencyBuckets(snap []rpc.LatencyBucket, count uint64) (map[float64]uint64, uint64) {
	var counts [maxBucketExp + 1]uint64
	var total uint64
	for _, b := range snap {
		total += b.Count
		// The bound in whole microseconds, rounded up past float noise
		// (LeMs is 2^i µs divided by 1000).
		us := math.Ceil(b.LeMs*1e3 - 1e-6)
		for i := range counts {
			if float64(uint64(1)<<i) >= us {
				counts[i] += b.Count
				break
			}
		}
	}
	buckets := make(map[float64]uint64, len(latencyBounds))
	var cum uint64
	for i, n := range counts {
		cum += n
		buckets[latencyBounds[i]] = cum
	}
	return buckets, max(count, total)
}

// Handler serves s's metrics in the Prometheus exposition formats (text
// or protobuf, as the scraper asks). Its registry, its own, holds the
// collector made with opts and the Go runtime and process collectors
// (go_*, process_*). Mount it beside [rpc.MetricsHandler]; see the
// package documentation.
func Handler(s *rpc.Server, opts ...Option) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(s, opts...),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// labelValue is s as a label value, which must be UTF-8 while rpc takes
// any bytes as a pattern or transport name. A valid name is its own label;
// one that is not, or that begins with a double quote, is labeled
// strconv.Quote(s) (invalid bytes as \xNN, in quotes). So a label that
// begins with " is a quoted name (strconv.Unquote gives it back) and any
// other is the name itself: two names never share a label, which would
// fail the whole scrape.
func labelValue(s string) string {
	if utf8.ValidString(s) && !strings.HasPrefix(s, `"`) {
		return s
	}
	return strconv.Quote(s)
}
