package natsrpc_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/natstest"
	"github.com/msgpattern/msgpattern/rpc"
)

// BenchmarkNATSRoundTrip measures calls through an embedded NATS server:
// 64 goroutines calling "sum" over one client connection. The broker, the
// client and the server share the process: profile with -cpuprofile and
// look at natsrpc and rpc frames for the server's part.
func BenchmarkNATSRoundTrip(b *testing.B) {
	ns := natstest.Run(b, nil)
	startInstance(b, ns.ClientURL(), rpc.Config{})
	c := natstest.Dial(b, ns.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	const workers = 64
	per := b.N/workers + 1
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				if _, err := rpc.Call[[]int, int](ctx, c, "sum", []int{1, 2}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
