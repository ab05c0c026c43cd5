package rpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// quietLogger keeps examples' output clean.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// call sends one line-framed request to addr and returns the reply lines
// it gets within a short time.
func call(addr, line string, replies int) []string {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return []string{err.Error()}
	}
	defer nc.Close()
	nc.Write([]byte(line + "\n"))
	nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	var out []string
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 4096)
	for len(out) < replies {
		n, err := nc.Read(tmp)
		buf = append(buf, tmp[:n]...)
		for {
			i := strings.IndexByte(string(buf), '\n')
			if i < 0 {
				break
			}
			out = append(out, string(buf[:i]))
			buf = buf[i+1:]
		}
		if err != nil {
			break
		}
	}
	return out
}

// The original API: a Config, NewServer, a ServerWrapper and a
// MessagePattern handler taking raw JSON.
func ExampleNewServerWrapper() {
	config := &rpc.Config{Addr: "127.0.0.1:0", Timeout: 30 * time.Second}
	server := rpc.NewServer(config, quietLogger)
	wrapper := rpc.NewServerWrapper(server)
	wrapper.MessagePattern("ping", func(data json.RawMessage) (interface{}, error) {
		return "pong", nil
	})
	if err := server.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer server.Shutdown(context.Background())

	fmt.Println(call(server.Addr().String(), `{"pattern":"ping","data":{},"id":1}`, 1)[0])
	// Output: {"response":"pong","isDisposed":true,"id":1}
}

// Typed handlers decode the data into T and encode the result.
func ExampleTyped() {
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0"}, quietLogger)
	type point struct{ X, Y int }
	srv.Handle(map[string]string{"cmd": "add", "role": "math"}, rpc.Typed(func(ctx context.Context, p point) (int, error) {
		return p.X + p.Y, nil
	}))
	srv.Start()
	defer srv.Shutdown(context.Background())

	// Key order does not matter; neither does sending the object as a string.
	fmt.Println(call(srv.Addr().String(), `{"pattern":{"role":"math","cmd":"add"},"data":{"X":2,"Y":3},"id":"a"}`, 1)[0])
	fmt.Println(call(srv.Addr().String(), `{"pattern":"{\"cmd\":\"add\",\"role\":\"math\"}","data":"oops","id":"b"}`, 1)[0])
	// Output:
	// {"response":5,"isDisposed":true,"id":"a"}
	// {"err":{"status":"error","message":"rpc: invalid data for pattern {\"cmd\":\"add\",\"role\":\"math\"}: json: cannot unmarshal string into Go value of type rpc_test.point"},"isDisposed":true,"id":"b"}
}

// Streaming handlers return an iterator; each value is sent as it comes,
// as NestJS sends the values of an Observable.
func ExampleStream() {
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0"}, quietLogger)
	srv.Handle("countdown", rpc.Stream(func(ctx context.Context, from int) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			for i := from; i > 0; i-- {
				if !yield(i, nil) {
					return
				}
			}
		}
	}))
	srv.Start()
	defer srv.Shutdown(context.Background())

	for _, line := range call(srv.Addr().String(), `{"pattern":"countdown","data":3,"id":7}`, 3) {
		fmt.Println(line)
	}
	// Output:
	// {"response":3,"id":7}
	// {"response":2,"id":7}
	// {"response":1,"isDisposed":true,"id":7}
}

// A handler returns an *rpc.Error to choose what the caller sees; any other
// error is reported as NestJS reports it, without details.
func ExampleError() {
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0"}, quietLogger)
	srv.Handle("strict", rpc.Func(func(json.RawMessage) (any, error) {
		return nil, rpc.NewError("amount must be positive")
	}))
	// WithoutRetry: errors marked rpc.Transient are otherwise retried (Config.RetryAttempts).
	srv.Handle("broken", rpc.Func(func(json.RawMessage) (any, error) {
		return nil, errors.New("db: connection refused")
	}), rpc.WithoutRetry())
	srv.Start()
	defer srv.Shutdown(context.Background())

	fmt.Println(call(srv.Addr().String(), `{"pattern":"strict","data":-1,"id":1}`, 1)[0])
	fmt.Println(call(srv.Addr().String(), `{"pattern":"broken","data":null,"id":2}`, 1)[0])
	// Output:
	// {"err":{"status":"error","message":"amount must be positive"},"isDisposed":true,"id":1}
	// {"err":{"status":"error","message":"Internal server error"},"isDisposed":true,"id":2}
}

// Middleware sees every message, its request and its outcome.
func ExampleMiddleware() {
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0"}, quietLogger)
	requireToken := func(next rpc.Handler) rpc.Handler {
		return rpc.HandlerFunc(func(ctx context.Context, w rpc.ResponseWriter, r *rpc.Request) error {
			if r.Metadata()["authorization"] != "secret" {
				return rpc.NewError("unauthorized")
			}
			return next.ServeMessage(ctx, w, r)
		})
	}
	srv.Use(requireToken)
	srv.Handle("whoami", rpc.ContextFunc(func(ctx context.Context, _ json.RawMessage) (any, error) {
		req, _ := rpc.RequestFromContext(ctx)
		return req.Route, nil
	}))
	srv.Start()
	defer srv.Shutdown(context.Background())

	fmt.Println(call(srv.Addr().String(), `{"pattern":"whoami","data":null,"id":1}`, 1)[0])
	fmt.Println(call(srv.Addr().String(), `{"pattern":"whoami","data":null,"metadata":{"authorization":"secret"},"id":2}`, 1)[0])
	// Output:
	// {"err":{"status":"error","message":"unauthorized"},"isDisposed":true,"id":1}
	// {"response":"whoami","isDisposed":true,"id":2}
}

// Shutdown lets in-flight requests finish and their replies go out.
func ExampleServer_Shutdown() {
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0"}, quietLogger)
	srv.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println(srv.Shutdown(ctx))
	fmt.Println(srv.Start())
	// Output:
	// <nil>
	// rpc: server closed
}
