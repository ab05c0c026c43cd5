// Package loadgen drives pipelined NestJS-framed load at a server, and
// provides the "ceiling": a bare TCP server that answers every frame with a
// fixed reply, parsing no JSON and routing nothing. Benchmarks compare the
// real server against the ceiling measured in the same run, since only
// ratios mean anything on a shared, noisy machine.
package loadgen
