package main

// The Go target servers, run as `bench server <kind> [--port N]` in a child
// process (the suite re-executes its own binary). Each prints
// "LISTENING <port>" on stdout once bound, like interop/nestjs/server.mjs
// (msgpattern-nats, which binds nothing, prints "LISTENING <NATS URL>" once
// subscribed, like interop/nestjs/nats-server.mjs), and runs until killed,
// until SIGINT/SIGTERM, or until its stdin closes.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"google.golang.org/grpc"

	"github.com/msgpattern/msgpattern/internal/loadgen"
	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// Server kinds.
const (
	kindCeiling        = "ceiling"         // framing only, fixed reply echoing the id
	kindLoadgenCeiling = "loadgen-ceiling" // loadgen.StartCeiling as is (fixed id)
	kindMsgpattern     = "msgpattern"      // rpc.NewServer with the "sum" and "checkout" handlers
	kindGRPC           = "grpc"            // gRPC-go unary Sum
	kindMsgpatternRaw  = "msgpattern-raw"  // the same, "sum" reading a and b without decoding
	kindNATS           = "nats"            // an embedded NATS server (the broker of the NATS section)
	kindMsgpatternNATS = "msgpattern-nats" // the msgpattern server over NATS (natsrpc.Connect)

	// msgpattern with Config.Decoder set (decoders.go).
	kindMsgpatternGoJSON = "msgpattern-gojson" // github.com/goccy/go-json
	kindMsgpatternSonic  = "msgpattern-sonic"  // github.com/bytedance/sonic
)

func serverMain(args []string) {
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "usage: bench server ceiling|loadgen-ceiling|msgpattern|msgpattern-raw|msgpattern-gojson|msgpattern-sonic|grpc|nats [--port N] [--cpuprofile FILE]\n       bench server msgpattern-nats --nats URL [--cpuprofile FILE]")
		os.Exit(2)
	}
	kind := args[0]
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	port := fs.Int("port", 0, "TCP port on 127.0.0.1 (0: any free port)")
	natsURL := fs.String("nats", "", "msgpattern-nats: the NATS server to serve through")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file when the server stops (SIGINT, SIGTERM or stdin closed)")
	fs.Parse(args[1:])
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		fatalIf(err)
		fatalIf(pprof.StartCPUProfile(f))
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	raiseNoFile()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(*port))

	var bound string // "127.0.0.1:port", or a URL printed as is
	var stop func()
	switch kind {
	case kindCeiling:
		c, err := loadgen.StartEchoCeiling(addr)
		fatalIf(err)
		bound, stop = c.Addr(), func() { c.Close() }
	case kindLoadgenCeiling:
		c, err := loadgen.StartCeiling(addr)
		fatalIf(err)
		bound, stop = c.Addr(), func() { c.Close() }
	case kindMsgpattern, kindMsgpatternRaw, kindMsgpatternGoJSON, kindMsgpatternSonic:
		var dec rpc.Decoder // nil: the built-in decoder
		if p := pluggedByKind(kind); p != nil {
			dec = p.dec
		}
		srv := newMsgpatternServer(addr, dec)
		if kind == kindMsgpatternRaw {
			srv.Handle("sum", rawSumHandler())
		} else {
			srv.Handle("sum", sumHandler())
		}
		srv.Handle("checkout", checkoutHandler())         // the order shape (order.go)
		srv.Handle(memStatsPattern, memStatsHandler(srv)) // the suite's allocation and processing readings (memstats.go)
		fatalIf(srv.Start())
		bound, stop = srv.Addr().String(), func() { srv.Close() }
	case kindMsgpatternNATS:
		if *natsURL == "" {
			fmt.Fprintln(os.Stderr, "bench server msgpattern-nats: --nats URL is required")
			os.Exit(2)
		}
		// The msgpattern target's server and handler, served over NATS
		// alone (no TCP listener: Dispatch needs no Start).
		srv := newMsgpatternServer(addr, nil)
		srv.Handle("sum", sumHandler())
		ns, err := natsrpc.Connect(srv, *natsURL) // subscribed and flushed when it returns
		fatalIf(err)
		bound, stop = *natsURL, func() { ns.Close(); srv.Close() }
	case kindNATS:
		ns, url, err := startNATSServer(*port)
		fatalIf(err)
		bound, stop = strings.TrimPrefix(url, "nats://"), func() { ns.Shutdown(); ns.WaitForShutdown() }
	case kindGRPC:
		ln, err := net.Listen("tcp", addr)
		fatalIf(err)
		gs := grpc.NewServer(grpc.ForceServerCodecV2(protoCodec{}))
		gs.RegisterService(&calcServiceDesc, calcServer{})
		gs.RegisterService(&shopServiceDesc, shopServer{})
		go gs.Serve(ln)
		bound, stop = ln.Addr().String(), gs.Stop
	default:
		fmt.Fprintf(os.Stderr, "unknown server kind %q\n", kind)
		os.Exit(2)
	}
	if strings.Contains(bound, "://") {
		fmt.Printf("LISTENING %s\n", bound)
	} else {
		_, p, _ := net.SplitHostPort(bound)
		fmt.Printf("LISTENING %s\n", p)
	}

	quit := make(chan struct{}, 2)
	go func() { // the suite went away
		io.Copy(io.Discard, os.Stdin)
		quit <- struct{}{}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case <-quit:
	}
	stop()
}

func fatalIf(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// ---- msgpattern --------------------------------------------------------------

// newMsgpatternServer is the msgpattern target's rpc.Server, over TCP at
// addr (once started) or over NATS; dec, when not nil, is its
// Config.Decoder (the plugged-decoder targets, decoders.go).
func newMsgpatternServer(addr string, dec rpc.Decoder) *rpc.Server {
	return rpc.NewServer(&rpc.Config{
		Addr:            addr,
		RateLimitPerSec: -1, // a trusted high-volume peer: no rate limit
		RetryAttempts:   -1, // and no retries
		MaxConnections:  1 << 20,
		Decoder:         dec,
	}, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// startNATSServer runs an embedded NATS server on 127.0.0.1:port (0: a
// free port) with default settings, and returns its client URL.
func startNATSServer(port int) (*natsserver.Server, string, error) {
	if port == 0 {
		port = natsserver.RANDOM_PORT // nats-server's 0 means its default, 4222
	}
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		return nil, "", err
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, "", errors.New("the NATS server did not start within 30s")
	}
	return ns, ns.ClientURL(), nil
}

// sumObject is the large payload's data: {"a":1,"b":2,"pad":"xxx…"}.
type sumObject struct {
	A   float64 `json:"a"`
	B   float64 `json:"b"`
	Pad string  `json:"pad"`
}

// sumHandler is "sum" as internal/demo registers it (rpc.Typed over
// []float64, summing) for array data, and a+b for object data, so that the
// ~4 KiB payload gets a reply of the same shape.
func sumHandler() rpc.Handler {
	arr := rpc.Typed(func(_ context.Context, in []float64) (float64, error) {
		t := 0.0
		for _, x := range in {
			t += x
		}
		return t, nil
	})
	obj := rpc.Typed(func(_ context.Context, in sumObject) (float64, error) { return in.A + in.B, nil })
	return rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
		if firstByte(r.Data) == '{' {
			return obj.ServeMessage(ctx, w, r)
		}
		return arr.ServeMessage(ctx, w, r)
	})
}

// rawSumHandler answers a+b for {"a":…,"b":…,…} data without decoding it:
// the numbers are found by a byte search and the rest of the data (the pad)
// is never looked at. It shows the server's own cost for a large payload,
// apart from the decoding in sumHandler's typed handler.
func rawSumHandler() rpc.Handler {
	num := func(data []byte, key string) float64 {
		i := bytes.Index(data, []byte(key))
		if i < 0 {
			return 0
		}
		rest := data[i+len(key):]
		j := 0
		for j < len(rest) && (rest[j] == '-' || rest[j] == '.' || rest[j] == 'e' || rest[j] == 'E' || rest[j] == '+' || (rest[j] >= '0' && rest[j] <= '9')) {
			j++
		}
		v, _ := strconv.ParseFloat(string(rest[:j]), 64)
		return v
	}
	return rpc.Func(func(data json.RawMessage) (any, error) {
		return num(data, `"a":`) + num(data, `"b":`), nil
	})
}

// firstByte is the first byte of data that is not JSON whitespace.
func firstByte(data []byte) byte {
	for _, c := range data {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c
		}
	}
	return 0
}

// ---- gRPC --------------------------------------------------------------------

// calcServer implements msgpattern.bench.Calc/Sum.
type calcServer struct{}

func (calcServer) Sum(_ context.Context, in *SumRequest) (*SumReply, error) {
	return &SumReply{Sum: in.A + in.B}, nil
}

type calcService interface {
	Sum(context.Context, *SumRequest) (*SumReply, error)
}

// calcServiceDesc is what protoc-gen-go-grpc would generate for
//
//	service Calc { rpc Sum(SumRequest) returns (SumReply); }
var calcServiceDesc = grpc.ServiceDesc{
	ServiceName: "msgpattern.bench.Calc",
	HandlerType: (*calcService)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Sum",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(SumRequest)
			if err := dec(in); err != nil {
				return nil, err
			}
			if interceptor == nil {
				return srv.(calcService).Sum(ctx, in)
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: sumMethod}
			return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
				return srv.(calcService).Sum(ctx, req.(*SumRequest))
			})
		},
	}},
	Streams:  []grpc.StreamDesc{},
	Metadata: "bench.proto",
}

const sumMethod = "/msgpattern.bench.Calc/Sum"
