package otelrpc

import (
	"maps"
	"slices"
	"strings"
)

// metadataCarrier reads trace context from a request's NestJS 12 metadata
// (string values only). Keys are matched exactly, then regardless of case.
type metadataCarrier map[string]string

func (c metadataCarrier) Get(key string) string {
	if v, ok := c[key]; ok {
		return v
	}
	for k, v := range c {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

func (metadataCarrier) Set(string, string) {}

func (c metadataCarrier) Keys() []string { return slices.Collect(maps.Keys(c)) }

// headerCarrier reads trace context from a message's NATS headers. NATS
// header keys are case-sensitive as sent; they are matched exactly, then
// regardless of case (an HTTP-minded sender writes Traceparent).
type headerCarrier map[string][]string

func (c headerCarrier) Get(key string) string {
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	for k, v := range c {
		if len(v) > 0 && strings.EqualFold(k, key) {
			return v[0]
		}
	}
	return ""
}

func (headerCarrier) Set(string, string) {}

func (c headerCarrier) Keys() []string { return slices.Collect(maps.Keys(c)) }
