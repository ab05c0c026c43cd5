package rpc

import (
	"encoding/json"
	"net/http"
	"sort"
	"sync/atomic"
	"time"
)

// Metrics is a snapshot of a server's counters, returned by
// [Server.GetMetrics]. It marshals to JSON with snake_case keys; durations
// are in milliseconds. Counters only grow; the gauges InFlight,
// ActiveConnections and the Limits marked "now" (MemoryHeldBytes,
// HandedOffRunning, ClosingConnections) go up and down.
type Metrics struct {
	StartedAt     time.Time `json:"started_at"`
	UptimeSeconds float64   `json:"uptime_seconds"`

	Requests uint64 `json:"requests"` // requests routed to a handler (refused by WithMaxDataBytes included)
	Events   uint64 `json:"events"`   // events routed to a handler (the same)
	InFlight int64  `json:"in_flight"`
	Retries  uint64 `json:"retries"` // handler attempts after the first

	Errors      uint64      `json:"errors"` // all failures, of every kind below but LateResultsDropped (already counted as Timeout) and ShutdownCut
	ErrorByKind ErrorCounts `json:"errors_by_kind"`

	ActiveConnections   int64  `json:"active_connections"`
	TotalConnections    uint64 `json:"total_connections"`    // accepted from a listener, refused ones included
	RejectedConnections uint64 `json:"rejected_connections"` // of those, refused at MaxConnections

	Heartbeats HeartbeatCounts `json:"heartbeats"`

	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`

	// HandedOff counts handlers that ran long enough for their
	// connection's reader to move to a new goroutine.
	HandedOff uint64 `json:"handed_off"`

	// ProcessingTimeMs is the total, over the messages handled, of the time
	// from each message's read to its handler's return: the time it waited
	// to start (behind MaxInFlight, or behind the others read with it) is
	// included, as in the patterns' latencies.
	ProcessingTimeMs    float64 `json:"processing_time_ms"`
	AvgProcessingTimeMs float64 `json:"avg_processing_time_ms"` // per handled message

	// Transports splits Requests and Events by the transport they came by
	// ("tcp", "nats", …).
	Transports []TransportMetrics `json:"transports"`

	// Limits shows the bounds on what peers can make the server spend, and
	// how often each was reached.
	Limits LimitMetrics `json:"limits"`

	Patterns []PatternMetrics `json:"patterns"`
}

// TransportMetrics count the messages one transport brought.
type TransportMetrics struct {
	Transport string `json:"transport"`
	Requests  uint64 `json:"requests"`
	Events    uint64 `json:"events"`
}

// LimitMetrics are the server's resource bounds (see [Config]) with their
// current use and the number of times each was reached. Bounds are as
// configured: a negative one is off, whatever its value.
type LimitMetrics struct {
	// Slow consumers: peers that do not read their replies.
	WriteTimeoutMs      float64 `json:"write_timeout_ms"`
	MaxQueuedReplyBytes int     `json:"max_queued_reply_bytes"`
	SlowConsumers       uint64  `json:"slow_consumer"` // connections dropped: replies unread past the cap, or a write stalled for WriteTimeout
	ReadPauses          uint64  `json:"read_pauses"`   // times a connection was not read because its peer had unread replies

	// The server-wide memory budget.
	MemoryBudgetBytes int64  `json:"memory_budget_bytes"`
	MemoryHeldBytes   int64  `json:"memory_held_bytes"` // now: frames being received (beyond the free allowance) and queued replies
	BudgetPauses      uint64 `json:"budget_pauses"`     // times a connection waited for the budget
	OverBudget        uint64 `json:"over_budget"`       // connections dropped after waiting FrameTimeout for it

	// Requests running at once on one connection.
	MaxInFlight int `json:"max_in_flight"`

	// Handlers running off their connection's reader.
	MaxHandlers      int    `json:"max_handlers"`
	HandedOffRunning int64  `json:"handed_off_running"` // now
	HandoffsDeferred uint64 `json:"handoffs_deferred"`  // hand-offs held back at MaxHandlers

	// Connections.
	MaxConnections     int     `json:"max_connections"`
	EvictIdleAfterMs   float64 `json:"evict_idle_after_ms"`
	EvictedIdle        uint64  `json:"evicted_idle"`        // idle connections closed to admit a new one
	ClosingConnections int     `json:"closing_connections"` // now: in their lingering close, not counted in active_connections
	LingerSkipped      uint64  `json:"linger_skipped"`      // closed at once because too many were lingering

	// Frames.
	MaxFrameSize   int     `json:"max_frame_size"` // UTF-16 units (bytes for line framing)
	FrameTimeoutMs float64 `json:"frame_timeout_ms"`
	MinFrameRate   int     `json:"min_frame_rate"`
	StalledFrames  uint64  `json:"stalled_frames"` // peers silent mid-frame for FrameTimeout
	SlowFrames     uint64  `json:"slow_frames"`    // frames arriving slower than MinFrameRate
}

// ErrorCounts counts failures by kind.
type ErrorCounts struct {
	Timeout            uint64 `json:"timeout"`              // requests and events past their deadline
	RateLimited        uint64 `json:"rate_limited"`         // requests refused by a rate limit
	RateLimitedEvents  uint64 `json:"rate_limited_events"`  // events dropped by a rate limit
	NoHandler          uint64 `json:"no_handler"`           // requests for an unknown pattern
	NoEventHandler     uint64 `json:"no_event_handler"`     // events for an unknown pattern
	BadFrame           uint64 `json:"bad_frame"`            // frames that are not valid packets: skipped
	Framing            uint64 `json:"framing"`              // connections closed for a framing error
	Decode             uint64 `json:"decode"`               // request data that did not decode (typed handlers)
	Handler            uint64 `json:"handler"`              // unexpected handler errors
	RPC                uint64 `json:"rpc"`                  // *Error replies chosen by handlers
	Panic              uint64 `json:"panic"`                // handler panics
	Encode             uint64 `json:"encode"`               // results that did not encode
	Canceled           uint64 `json:"canceled"`             // handlers that returned their context's cancellation (their caller's disconnect); not an rpc.Stream whose sequence stopped at it, which completes its reply
	ShuttingDown       uint64 `json:"shutting_down"`        // requests and events refused while shutting down, and handlers that returned the cancellation of a forced shutdown (Close, Shutdown's context ended) or, through Dispatch, any cancellation while shutting down
	LateResultsDropped uint64 `json:"late_results_dropped"` // results (a value, or an error other than the context's own) that came after the timeout reply
	DataTooLarge       uint64 `json:"data_too_large"`       // messages refused by WithMaxDataBytes, their handler not run
	// ShutdownCut counts handlers still running when Shutdown's context
	// ended: cancelled, their callers got no reply (counted again by how
	// they end). Not in Metrics.Errors. Zero after a Shutdown that returned
	// nil, or that found only connections closing.
	ShutdownCut uint64 `json:"shutdown_cut"`
}

// HeartbeatCounts are the application-level heartbeats of peers that speak
// them (see [HeartbeatPattern]).
type HeartbeatCounts struct {
	Received uint64 `json:"received"` // pings received
	Sent     uint64 `json:"sent"`     // pongs sent
	Failed   uint64 `json:"failed"`   // connections closed because their peer fell silent
}

// PatternMetrics are the counters of one registered pattern.
type PatternMetrics struct {
	Pattern        string          `json:"pattern"`
	Event          bool            `json:"event,omitempty"`
	Count          uint64          `json:"count"`
	Errors         uint64          `json:"errors"`
	AvgLatencyMs   float64         `json:"avg_latency_ms"`
	P50LatencyMs   float64         `json:"p50_latency_ms"`
	P90LatencyMs   float64         `json:"p90_latency_ms"`
	P99LatencyMs   float64         `json:"p99_latency_ms"`
	MaxLatencyMs   float64         `json:"max_latency_ms"`
	TotalLatencyMs float64         `json:"total_latency_ms"`
	Latency        []LatencyBucket `json:"latency_histogram,omitempty"`
}

// counters are a server's live metrics: atomics only, so the hot path never
// takes a lock.
type counters struct {
	started time.Time

	requests, events, retries        atomic.Uint64
	inFlight                         atomic.Int64
	active                           atomic.Int64
	total, rejected                  atomic.Uint64
	bytesIn, bytesOut                atomic.Uint64
	handedOff                        atomic.Uint64
	processingNanos                  atomic.Int64
	pings, pongs, heartbeatFailed    atomic.Uint64
	timeout, rateLimited, rateLimEvt atomic.Uint64
	noHandler, badFrame, framing     atomic.Uint64
	decode, handler, rpc, panics     atomic.Uint64
	encode, canceled, noEventHandler atomic.Uint64
	shuttingDown, lateDropped        atomic.Uint64
	shutdownCut, dataTooLarge        atomic.Uint64

	slowConsumers, readPauses atomic.Uint64
	budgetPauses, overBudget  atomic.Uint64
	handoffsDeferred, evicted atomic.Uint64
	lingerSkipped             atomic.Uint64
	stalledFrames, slowFrames atomic.Uint64
	wentIdle                  atomic.Uint64 // readers that moved to a fresh goroutine to wait (idle.go)
}

func (c *counters) countError(k errorKind) {
	switch k {
	case kindHandler:
		c.handler.Add(1)
	case kindRPC:
		c.rpc.Add(1)
	case kindPanic:
		c.panics.Add(1)
	case kindDecode:
		c.decode.Add(1)
	case kindEncode:
		c.encode.Add(1)
	case kindCanceled:
		c.canceled.Add(1)
	case kindTimeout:
		c.timeout.Add(1)
	case kindShuttingDown:
		c.shuttingDown.Add(1)
	case kindDataTooLarge:
		c.dataTooLarge.Add(1)
	}
}

// patternStats are the counters of one route.
type patternStats struct {
	count, errors atomic.Uint64
	nanos         atomic.Int64
	latency       histogram // and the longest latency
}

func (s *patternStats) observe(d time.Duration, failed bool) {
	s.count.Add(1)
	if failed {
		s.errors.Add(1)
	}
	s.nanos.Add(int64(d))
	s.latency.observe(d)
}

func ms(nanos int64) float64 { return float64(nanos) / 1e6 }

func (c *counters) snapshot(r *Router) Metrics {
	m := Metrics{
		StartedAt:           c.started,
		UptimeSeconds:       time.Since(c.started).Seconds(),
		Requests:            c.requests.Load(),
		Events:              c.events.Load(),
		Retries:             c.retries.Load(),
		InFlight:            c.inFlight.Load(),
		ActiveConnections:   c.active.Load(),
		TotalConnections:    c.total.Load(),
		RejectedConnections: c.rejected.Load(),
		Heartbeats: HeartbeatCounts{
			Received: c.pings.Load(),
			Sent:     c.pongs.Load(),
			Failed:   c.heartbeatFailed.Load(),
		},
		BytesIn:          c.bytesIn.Load(),
		BytesOut:         c.bytesOut.Load(),
		HandedOff:        c.handedOff.Load(),
		ProcessingTimeMs: ms(c.processingNanos.Load()),
		ErrorByKind: ErrorCounts{
			Timeout:            c.timeout.Load(),
			RateLimited:        c.rateLimited.Load(),
			RateLimitedEvents:  c.rateLimEvt.Load(),
			NoHandler:          c.noHandler.Load(),
			NoEventHandler:     c.noEventHandler.Load(),
			BadFrame:           c.badFrame.Load(),
			Framing:            c.framing.Load(),
			Decode:             c.decode.Load(),
			Handler:            c.handler.Load(),
			RPC:                c.rpc.Load(),
			Panic:              c.panics.Load(),
			Encode:             c.encode.Load(),
			Canceled:           c.canceled.Load(),
			ShuttingDown:       c.shuttingDown.Load(),
			LateResultsDropped: c.lateDropped.Load(),
			DataTooLarge:       c.dataTooLarge.Load(),
			ShutdownCut:        c.shutdownCut.Load(),
		},
	}
	e := m.ErrorByKind
	m.Errors = e.Timeout + e.RateLimited + e.RateLimitedEvents + e.NoHandler + e.NoEventHandler +
		e.BadFrame + e.Framing + e.Decode + e.Handler + e.RPC + e.Panic + e.Encode + e.Canceled + e.ShuttingDown +
		e.DataTooLarge
	if n := m.Requests + m.Events; n > 0 {
		m.AvgProcessingTimeMs = m.ProcessingTimeMs / float64(n)
	}
	for key, rt := range r.table.Load().routes {
		s := rt.stats
		pm := PatternMetrics{
			Pattern:        key,
			Event:          rt.event,
			Count:          s.count.Load(),
			Errors:         s.errors.Load(),
			TotalLatencyMs: ms(s.nanos.Load()),
			MaxLatencyMs:   ms(s.latency.longest.Load()),
		}
		pm.Latency, pm.P50LatencyMs, pm.P90LatencyMs, pm.P99LatencyMs = s.latency.snapshot()
		if pm.Count > 0 {
			pm.AvgLatencyMs = pm.TotalLatencyMs / float64(pm.Count)
		}
		m.Patterns = append(m.Patterns, pm)
	}
	sort.Slice(m.Patterns, func(i, j int) bool { return m.Patterns[i].Pattern < m.Patterns[j].Pattern })
	return m
}

// limitsSnapshot fills in the Limits section of a snapshot.
func (s *Server) limitsSnapshot() LimitMetrics {
	c, cfg := &s.stats, &s.cfg
	s.mu.Lock()
	closing := len(s.closingSet)
	s.mu.Unlock()
	return LimitMetrics{
		WriteTimeoutMs:      ms(int64(cfg.WriteTimeout)),
		MaxQueuedReplyBytes: cfg.MaxQueuedReplyBytes,
		SlowConsumers:       c.slowConsumers.Load(),
		ReadPauses:          c.readPauses.Load(),
		MemoryBudgetBytes:   cfg.MemoryBudget,
		MemoryHeldBytes:     s.budget.used.Load(),
		BudgetPauses:        c.budgetPauses.Load(),
		OverBudget:          c.overBudget.Load(),
		MaxInFlight:         cfg.MaxInFlight,
		MaxHandlers:         cfg.MaxHandlers,
		HandedOffRunning:    s.handedOffRunning.Load(),
		HandoffsDeferred:    c.handoffsDeferred.Load(),
		MaxConnections:      cfg.MaxConnections,
		EvictIdleAfterMs:    ms(int64(cfg.EvictIdleAfter)),
		EvictedIdle:         c.evicted.Load(),
		ClosingConnections:  closing,
		LingerSkipped:       c.lingerSkipped.Load(),
		MaxFrameSize:        cfg.MaxFrameSize,
		FrameTimeoutMs:      ms(int64(cfg.FrameTimeout)),
		MinFrameRate:        cfg.MinFrameRate,
		StalledFrames:       c.stalledFrames.Load(),
		SlowFrames:          c.slowFrames.Load(),
	}
}

// MetricsHandler serves the server's metrics snapshot as JSON, for a
// /metrics.json endpoint or a health check.
func MetricsHandler(s *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(s.GetMetrics())
	})
}
