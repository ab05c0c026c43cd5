package rpc_test

import (
	"encoding/json"
	"io"
	"net"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestServerAllocationsPerRequest pins what one request costs the server in
// allocations, counted exactly (times are never asserted). The client side
// writes a prebuilt frame and reads into a fixed buffer, so it allocates
// nothing and every allocation counted is the server's.
func TestServerAllocationsPerRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("counts allocations over many round trips")
	}
	srv, _ := startServer(t, rpc.Config{}, func(s *rpc.Server) {
		s.Handle("const", rpc.Func(func(json.RawMessage) (any, error) { return 3, nil }))
	})
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := []byte(frame(reqBody(`"const"`, "[1,2]", `"id-1"`)))
	reply := []byte(valueReply("3", `"id-1"`))
	buf := make([]byte, len(reply))
	roundTrip := func() {
		if _, err := nc.Write(req); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(nc, buf); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 { // warm up: chunks, pools
		roundTrip()
	}
	if string(buf) != string(reply) {
		t.Fatalf("reply %q, want %q", buf, reply)
	}
	allocs := testing.AllocsPerRun(2000, roundTrip)
	// One allocation is the request with its context; a fraction more comes
	// from read chunks, amortized over many requests.
	const max = 1.5
	if allocs > max {
		t.Errorf("a request costs the server %.2f allocations, want at most %v", allocs, max)
	}
	t.Logf("%.2f allocations per request", allocs)
}
