package natsrpc_test

import (
	"context"
	"fmt"
	"log"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/msgpattern/msgpattern/natsrpc"
	"github.com/msgpattern/msgpattern/rpc"
)

// The same handlers as over TCP, served through a NATS server: every
// instance connected with the same queue group shares the load, and a
// NestJS ClientProxy with Transport.NATS calls them as our Client does.
func Example() {
	// An embedded NATS server for the example; in production, the URL of
	// the NATS server or cluster, e.g. nats://nats:4222.
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		log.Fatal(err)
	}
	ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		log.Fatal("NATS server not ready")
	}

	srv := rpc.NewServer(nil, nil)
	srv.Handle("sum", rpc.Typed(func(_ context.Context, xs []float64) (float64, error) {
		return xs[0] + xs[1], nil
	}))
	if _, err := natsrpc.Connect(srv, ns.ClientURL()); err != nil {
		log.Fatal(err)
	}
	// The rpc.Server's Shutdown also stops serving NATS, answering the
	// requests already received.
	defer srv.Shutdown(context.Background())

	c, err := natsrpc.Dial(ns.ClientURL())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	var sum float64
	if err := c.Send(context.Background(), "sum", []float64{1, 2}, &sum); err != nil {
		log.Fatal(err)
	}
	fmt.Println(sum)
	// Output: 3
}
