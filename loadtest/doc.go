// Package loadtest drives load at any NestJS-compatible TCP server: N
// connections, each keeping M requests in flight, pipelined as NestJS
// frames, for a number of requests or a duration, optionally at a fixed
// rate. It measures throughput and the latency of every request, from the
// moment its frame is written to the moment its final reply is read, and
// classifies error replies. The `msgpattern bench` command and the
// benchmark suite in bench/ use it.
//
// The load generator is written to cost the server under test as little
// as it can: replies are framed and their envelope scanned, but values are
// not decoded, and nothing allocates per request.
package loadtest
