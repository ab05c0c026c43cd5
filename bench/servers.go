package main

// The Go target servers, run as `bench server <kind> [--port N]` in a child
// process (the suite re-executes its own binary). Each prints
// "LISTENING <port>" on stdout once bound, like interop/nestjs/server.mjs,
// and runs until killed, until SIGINT/SIGTERM, or until its stdin closes.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"syscall"

	"google.golang.org/grpc"

	"github.com/msgpattern/msgpattern/internal/loadgen"
	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

// Server kinds.
const (
	kindCeiling        = "ceiling"         // framing only, fixed reply echoing the id
	kindLoadgenCeiling = "loadgen-ceiling" // loadgen.StartCeiling as is (fixed id)
	kindMsgpattern     = "msgpattern"      // rpc.NewServer with the "sum" handler
	kindGRPC           = "grpc"            // gRPC-go unary Sum
	kindMsgpatternRaw  = "msgpattern-raw"  // the same, "sum" reading a and b without decoding
)

func serverMain(args []string) {
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "usage: bench server ceiling|loadgen-ceiling|msgpattern|grpc [--port N] [--cpuprofile FILE]")
		os.Exit(2)
	}
	kind := args[0]
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	port := fs.Int("port", 0, "TCP port on 127.0.0.1 (0: any free port)")
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

	var bound string
	var stop func()
	switch kind {
	case kindCeiling:
		ln, err := net.Listen("tcp", addr)
		fatalIf(err)
		go serveEchoCeiling(ln)
		bound, stop = ln.Addr().String(), func() { ln.Close() }
	case kindLoadgenCeiling:
		c, err := loadgen.StartCeiling(addr)
		fatalIf(err)
		bound, stop = c.Addr(), func() { c.Close() }
	case kindMsgpattern, kindMsgpatternRaw:
		srv := rpc.NewServer(&rpc.Config{
			Addr:            addr,
			RateLimitPerSec: -1, // a trusted high-volume peer: no rate limit
			RetryAttempts:   -1, // and no retries
			MaxConnections:  1 << 20,
		}, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
		if kind == kindMsgpattern {
			srv.Handle("sum", sumHandler())
		} else {
			srv.Handle("sum", rawSumHandler())
		}
		fatalIf(srv.Start())
		bound, stop = srv.Addr().String(), func() { srv.Close() }
	case kindGRPC:
		ln, err := net.Listen("tcp", addr)
		fatalIf(err)
		gs := grpc.NewServer(grpc.ForceServerCodecV2(sumCodec{}))
		gs.RegisterService(&calcServiceDesc, calcServer{})
		go gs.Serve(ln)
		bound, stop = ln.Addr().String(), gs.Stop
	default:
		fmt.Fprintf(os.Stderr, "unknown server kind %q\n", kind)
		os.Exit(2)
	}
	_, p, _ := net.SplitHostPort(bound)
	fmt.Printf("LISTENING %s\n", p)

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
// apart from encoding/json's in sumHandler's typed decode.
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

// ---- the ceiling -------------------------------------------------------------

// serveEchoCeiling is internal/loadgen's ceiling with one difference: the
// fixed reply {"response":3,"isDisposed":true,"id":…} carries the request's
// id instead of the constant "id-sum". loadtest matches replies to requests
// by their numeric id, so it cannot drive loadgen.StartCeiling (every reply
// would be dropped as unknown). The id is the last member of every frame
// loadtest sends; it is found from the end of the frame, with no parsing.
func serveEchoCeiling(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer nc.Close()
			ceilingConn(nc)
		}()
	}
}

const ceilingPrefix = `{"response":3,"isDisposed":true,"id":`

var idKey = []byte(`"id":`)

// lastID returns the raw id of a request frame whose last member is "id"
// (as in every frame loadtest and loadgen send), looking back from its end;
// it falls back to a search for "id": otherwise, and to null.
func lastID(body []byte) []byte {
	end := len(body)
	for end > 0 && (body[end-1] == '}' || body[end-1] == ' ' || body[end-1] == '\n') {
		end--
	}
	i := bytes.LastIndexByte(body[:end], ':')
	if i >= 4 && string(body[i-4:i]) == `"id"` {
		return bytes.TrimLeft(body[i+1:end], " ")
	}
	if i = bytes.LastIndex(body, idKey); i >= 0 {
		return bytes.TrimRight(body[i+len(idKey):], " \t\r\n}")
	}
	return []byte("null")
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

func ceilingConn(nc net.Conn) {
	buf := make([]byte, 64<<10)
	out := bufio.NewWriterSize(nc, 64<<10)
	var sc wire.FrameScanner
	scratch := make([]byte, 0, 128)
	r, w := 0, 0
	for {
		for {
			f, err := sc.Scan(buf[r:w])
			if err != nil {
				return
			}
			if f.Len == 0 {
				break
			}
			r += f.Len
			id := lastID(f.Body)
			if isASCII(id) { // one UTF-16 unit per byte
				scratch = strconv.AppendInt(scratch[:0], int64(len(ceilingPrefix)+len(id)+1), 10)
				scratch = append(scratch, '#')
				out.Write(scratch)
				out.WriteString(ceilingPrefix)
				out.Write(id)
				out.WriteByte('}')
			} else {
				scratch = append(append(append(scratch[:0], ceilingPrefix...), id...), '}')
				out.Write(wire.AppendFrame(nil, wire.NestJS, scratch))
			}
		}
		if out.Flush() != nil {
			return
		}
		if r == w {
			r, w = 0, 0
		} else if w == len(buf) {
			if r == 0 { // a frame larger than the buffer: grow it
				nb := make([]byte, 2*len(buf))
				copy(nb, buf[:w])
				buf = nb
			} else {
				w = copy(buf, buf[r:w])
				r = 0
			}
		}
		n, err := nc.Read(buf[w:])
		if n == 0 && err != nil {
			return
		}
		w += n
	}
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
