package rpc_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// BenchmarkClientParallel: concurrent calls through one Client (one
// connection, then a pool of 4) to our server.
func BenchmarkClientParallel(b *testing.B) {
	srv, _ := startServer(b, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("sum", rpc.Func(func(json.RawMessage) (any, error) { return 3, nil }))
	})
	for _, bc := range []struct {
		name string
		opts []rpc.ClientOption
	}{{"conn=1", nil}, {"pool=4", []rpc.ClientOption{rpc.WithPool(4, false)}}} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := rpc.NewClient(srv.Addr().String(), append(bc.opts, rpc.WithClientLogger(discardLogger()))...)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			data := []int{1, 2}
			b.SetParallelism(64)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var out int
				for pb.Next() {
					if err := c.Send(ctx, "sum", data, &out); err != nil || out != 3 {
						b.Errorf("Send = %d, %v", out, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
