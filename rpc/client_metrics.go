package rpc

import (
	"sync/atomic"
	"time"
)

// ClientMetrics is a snapshot of a Client's counters; it marshals to JSON.
type ClientMetrics struct {
	Calls             uint64          `json:"calls"`              // Send, Call and Stream calls completed
	Events            uint64          `json:"events"`             // Emit calls
	RemoteErrors      uint64          `json:"remote_errors"`      // calls answered with an error (a received *Error)
	LocalErrors       uint64          `json:"local_errors"`       // calls failed here: connection, dial, encoding, decoding the reply, context
	Retries           uint64          `json:"retries"`            // idempotent calls resent after a connection failure
	Reconnects        uint64          `json:"reconnects"`         // connections made after the first
	DialErrors        uint64          `json:"dial_errors"`        // failed dials
	Heartbeats        uint64          `json:"heartbeats"`         // pings sent
	HeartbeatFailures uint64          `json:"heartbeat_failures"` // connections declared dead for lack of an answer
	StuckConnections  uint64          `json:"stuck_connections"`  // connections failed because the server took no bytes (write timeout, or a call's context ending mid-write)
	InFlight          int64           `json:"in_flight"`
	P50LatencyMs      float64         `json:"p50_latency_ms"`
	P90LatencyMs      float64         `json:"p90_latency_ms"`
	P99LatencyMs      float64         `json:"p99_latency_ms"`
	Latency           []LatencyBucket `json:"latency_histogram,omitempty"`
}

type clientCounters struct {
	calls, events, remoteErrs, localErr atomic.Uint64
	retries, reconnects, dialErrors     atomic.Uint64
	heartbeats, heartbeatFailures       atomic.Uint64
	stuck                               atomic.Uint64
	latency                             histogram
}

func (s *clientCounters) observe(start int64, err error, event bool) {
	if event {
		s.events.Add(1)
	} else {
		s.calls.Add(1)
		s.latency.observe(time.Duration(monotime() - start))
	}
	switch {
	case err == nil:
	case isRemote(err):
		s.remoteErrs.Add(1)
	default:
		s.localErr.Add(1)
	}
}

// Metrics returns a snapshot of the client's counters.
func (c *Client) Metrics() ClientMetrics {
	s := &c.stats
	m := ClientMetrics{
		Calls:             s.calls.Load(),
		Events:            s.events.Load(),
		RemoteErrors:      s.remoteErrs.Load(),
		LocalErrors:       s.localErr.Load(),
		Retries:           s.retries.Load(),
		Reconnects:        s.reconnects.Load(),
		DialErrors:        s.dialErrors.Load(),
		Heartbeats:        s.heartbeats.Load(),
		HeartbeatFailures: s.heartbeatFailures.Load(),
		StuckConnections:  s.stuck.Load(),
	}
	for _, slot := range c.slots {
		pending, _ := slot.load(0)
		m.InFlight += pending
	}
	m.Latency, m.P50LatencyMs, m.P90LatencyMs, m.P99LatencyMs = s.latency.snapshot()
	return m
}
