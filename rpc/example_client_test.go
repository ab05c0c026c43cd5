package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

// exampleServer starts a server with "sum", "ticks" and "fail" on a free
// loopback port, for the client examples; stop shuts it down.
func exampleServer() (addr string, stop func()) {
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0"}, quietLogger)
	srv.Handle("sum", rpc.Typed(func(_ context.Context, xs []int) (int, error) {
		total := 0
		for _, x := range xs {
			total += x
		}
		return total, nil
	}))
	srv.Handle("ticks", rpc.Stream(func(_ context.Context, n int) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			for i := n; i >= 1; i-- {
				if !yield(i, nil) {
					return
				}
			}
		}
	}))
	srv.Handle("fail", rpc.Typed(func(context.Context, any) (any, error) {
		return nil, rpc.NewError("amount must be positive")
	}))
	if err := srv.Start(); err != nil {
		panic(err)
	}
	return srv.Addr().String(), func() { srv.Shutdown(context.Background()) }
}

// A client multiplexes every call over one connection (WithPool for
// more), made on first use; it reconnects after a failure.
func ExampleNewClient() {
	addr, stop := exampleServer()
	defer stop()

	client, err := rpc.NewClient(addr)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var total int
	err = client.Send(ctx, "sum", []int{1, 2, 3}, &total)
	fmt.Println(total, err)

	_, err = rpc.NewClient("localhost") // no port: an error at once
	fmt.Println(err != nil)
	// Output:
	// 6 <nil>
	// true
}

// Send decodes the reply into out; an error reply is a *rpc.Error,
// a pattern nobody serves matches rpc.ErrNoHandler.
func ExampleClient_Send() {
	addr, stop := exampleServer()
	defer stop()
	client, _ := rpc.NewClient(addr)
	defer client.Close()
	ctx := context.Background()

	var total int
	if err := client.Send(ctx, map[string]any{"cmd": "sum"}, []int{4, 5}, &total); err == nil {
		fmt.Println("sum:", total)
	}
	var remote *rpc.Error
	if err := client.Send(ctx, "fail", nil, nil); errors.As(err, &remote) {
		fmt.Println("remote error:", remote.Message)
	}
	if err := client.Send(ctx, "nobody", nil, nil); errors.Is(err, rpc.ErrNoHandler) {
		fmt.Println("no handler")
	}
	// Output:
	// sum: 9
	// remote error: amount must be positive
	// no handler
}

// Call is Send with types; it takes any rpc.Caller: *rpc.Client over TCP,
// natsrpc.Client over NATS.
func ExampleCall() {
	addr, stop := exampleServer()
	defer stop()
	client, _ := rpc.NewClient(addr)
	defer client.Close()

	total, err := rpc.Call[[]int, int](context.Background(), client, "sum", []int{10, 20})
	fmt.Println(total, err)
	// Output: 30 <nil>
}

// StreamOf yields the values of a streamed reply (a NestJS Observable) as
// they arrive.
func ExampleStreamOf() {
	addr, stop := exampleServer()
	defer stop()
	client, _ := rpc.NewClient(addr)
	defer client.Close()

	for v, err := range rpc.StreamOf[int](context.Background(), client, "ticks", 3) {
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(v)
	}
	// Output:
	// 3
	// 2
	// 1
}
