// Package loadtest drives load at any NestJS-compatible TCP server: N
// connections, each keeping M requests in flight, pipelined as NestJS
// frames, for a number of requests or a duration, optionally capped at a
// rate. It measures throughput and the latency of every request, from the
// moment its frame is written to the moment its final reply is read, and
// classifies error replies; with Config.Timeout, a request unanswered for
// that long counts as an error and frees its place for the next. RunCalls
// runs the same phases, pacing and counts with requests made by a function,
// over any other transport (`msgpattern bench --nats` uses it over NATS).
// The `msgpattern bench` command and the benchmark suite in bench/ use it.
//
// The load generator is written to cost the server under test as little
// as it can: replies are framed and their envelope scanned, but values are
// not decoded, and nothing allocates per request.
package loadtest
