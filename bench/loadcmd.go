package main

// `bench load`: one run of the suite's load at a server already running, to
// profile a target by hand:
//
//	bench server msgpattern --port 4100 --cpuprofile cpu.prof &
//	bench load -addr 127.0.0.1:4100 -c 16 -m 64 -payload order -d 10s
//	kill %1 && go tool pprof -top cpu.prof
//
// or a target behind NATS (-nats: the target's pid is not known here, so
// its CPU is not read):
//
//	bench server nats --port 4222 &
//	bench server msgpattern-nats --nats nats://127.0.0.1:4222 --cpuprofile cpu.prof &
//	bench load -nats nats://127.0.0.1:4222 -c 16 -m 64 -d 10s

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

func loadMain(args []string) {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	addr := fs.String("addr", "", "server address (host:port)")
	conns := fs.Int("c", 16, "connections")
	inflight := fs.Int("m", 64, "requests in flight per connection")
	pl := fs.String("payload", "small", "small ([1,2]), 4k or order (the realistic shape, pattern \"checkout\")")
	d := fs.Duration("d", 5*time.Second, "duration")
	isGRPC := fs.Bool("grpc", false, "the server is the gRPC target")
	natsURL := fs.String("nats", "", "call \"sum\" [1,2] through the NATS server at this URL (natsrpc.Client), instead of -addr")
	fs.Parse(args)
	if *natsURL != "" {
		self := &child{name: "external", pid: os.Getpid()}
		s, err := measureNATS(context.Background(), self, self, *natsURL, shape{*conns, *inflight, smallPayload}, *d)
		fmt.Printf("%.0f req/s, p50 %v, p99 %v, %d requests in %v, %d errors %s; load generator %.2f µs/req (%.2f cores), machine %.2f cores busy\n",
			s.rps, s.p50, s.p99, s.requests, s.elapsed.Round(time.Millisecond), s.errors, s.errKinds,
			s.perReq(s.loadgen), s.coresOf(s.loadgen), s.coresOf(s.busy))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if *addr == "" {
		fmt.Fprintln(os.Stderr, "usage: bench load -addr host:port [-c 16] [-m 64] [-payload small|4k|order] [-d 5s] [-grpc]\n       bench load -nats URL [-c 16] [-m 64] [-d 5s]")
		os.Exit(2)
	}
	p, ok := payloads[*pl]
	if !ok {
		fmt.Fprintf(os.Stderr, "bench load: unknown payload %q (small, 4k, order)\n", *pl)
		os.Exit(2)
	}
	target := tMsgpattern
	if *isGRPC {
		target = tGRPC
	}
	c := &child{name: "external", addr: *addr, pid: os.Getpid()}
	defer c.closeCtl()
	if !*isGRPC {
		if err := verify(c.addr, p.pattern, p.data, p.check); err != nil { // a ceiling answers 3 to everything
			fmt.Fprintln(os.Stderr, "bench load: warning: unexpected reply:", err)
		}
	}
	s, err := measureOnce(context.Background(), target, c, shape{*conns, *inflight, p}, *d)
	fmt.Printf("%.0f req/s, p50 %v, p99 %v, %d requests in %v, %d errors %s%s\n", s.rps, s.p50, s.p99, s.requests,
		s.elapsed.Round(time.Millisecond), s.errors, s.errKinds, allocNote(s))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
