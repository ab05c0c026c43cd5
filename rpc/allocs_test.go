package rpc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// An order of the benchmark suite's realistic shape (bench/order.go), for
// the typed path's allocation count.
type (
	allocOrder struct {
		ID        string          `json:"id"`
		Customer  allocCustomer   `json:"customer"`
		Items     []allocLineItem `json:"items"`
		CreatedAt string          `json:"createdAt"`
		Notes     string          `json:"notes"`
	}
	allocCustomer struct {
		Name    string `json:"name"`
		Email   string `json:"email"`
		Address struct {
			Street, City, Zip, Country string
		} `json:"address"`
	}
	allocLineItem struct {
		SKU   string   `json:"sku"`
		Name  string   `json:"name"`
		Qty   int      `json:"qty"`
		Price float64  `json:"price"`
		Tags  []string `json:"tags"`
	}
	allocReceipt struct {
		OrderID  string  `json:"orderId"`
		Customer string  `json:"customerName"`
		Total    float64 `json:"total"`
		Items    int     `json:"items"`
	}
)

func allocOrderJSON() string {
	o := allocOrder{ID: "ORD-2025-000417", CreatedAt: "2025-03-14T09:26:53.589Z",
		Notes: "Lieferung bitte an der Rückseite — danke! 配達"}
	o.Customer.Name, o.Customer.Email = "Jürgen Müller", "j.mueller@example.de"
	o.Customer.Address.Street, o.Customer.Address.City = "Hauptstraße 12a", "München"
	for i := range 8 {
		o.Items = append(o.Items, allocLineItem{SKU: fmt.Sprintf("SKU-%05d-BLK", i), Name: "Merino socks, black",
			Qty: i%3 + 1, Price: 12.99, Tags: []string{"apparel", "wool", "bestseller"}[:i%3+1]})
	}
	b, _ := json.Marshal(o)
	return string(b)
}

// registerTypedHandlers registers the handlers whose cost the allocation
// pins and BenchmarkServeConn measure: "const" (raw), "sum" (typed
// []float64) and "checkout" (the typed order, answered with a receipt).
func registerTypedHandlers(s *rpc.Server) {
	s.Handle("const", rpc.Func(func(json.RawMessage) (any, error) { return 3, nil }))
	s.Handle("sum", rpc.Typed(func(_ context.Context, xs []float64) (float64, error) { return xs[0] + xs[1], nil }))
	s.Handle("checkout", rpc.Typed(func(_ context.Context, o allocOrder) (allocReceipt, error) {
		r := allocReceipt{OrderID: o.ID, Customer: o.Customer.Name, Items: len(o.Items)}
		for _, it := range o.Items {
			r.Total += float64(it.Qty) * it.Price
		}
		return r, nil
	}))
}

// raceDetector is set under -race, where sync.Pool drops a quarter of what
// is put back, so pooled state is allocated again now and then.
var raceDetector bool

// TestServerAllocationsPerRequest pins what one request costs the server in
// allocations, counted exactly (times are never asserted). The client side
// writes a prebuilt frame and reads into a fixed buffer, so it allocates
// nothing and every allocation counted is the server's.
func TestServerAllocationsPerRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("counts allocations over many round trips")
	}
	tests := []struct {
		name    string
		pattern string
		data    string
		max     float64 // allocations per request
		why     string
	}{
		// One allocation is the request with its context; a fraction more
		// comes from read chunks, amortized over many requests.
		{"raw handler", "const", "[1,2]", 1.5, "the request and its context"},
		// The slice (structjson.Numbers: the input itself stays on the
		// stack) and the float result boxed for the reply.
		{"typed []float64", "sum", "[1,2]", 3.5, "the request, the slice and the boxed result"},
		// structjson: the request, the items' slice (grown by doubling),
		// one array shared by all the tags' slices, chunks shared by all
		// short strings, and the receipt's encoding: 7. encoding/json took
		// 72 allocations to decode it alone.
		{"typed order", "checkout", allocOrderJSON(), 8, "the order's slices, string chunks and the reply"},
	}
	srv, _ := startServer(t, rpc.Config{}, registerTypedHandlers)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			req := []byte(frame(reqBody(`"`+tt.pattern+`"`, tt.data, `"id-1"`)))
			// The first reply tells the length of every reply (same data, same id).
			if _, err := nc.Write(req); err != nil {
				t.Fatal(err)
			}
			first := readReplyFrame(t, nc)
			if strings.Contains(first, `"err"`) {
				t.Fatalf("reply %s", first)
			}
			buf := make([]byte, len(first))
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
			if string(buf) != first {
				t.Fatalf("reply %q, want %q", buf, first)
			}
			allocs := testing.AllocsPerRun(2000, roundTrip)
			if raceDetector {
				tt.max *= 1.5 // exact in test.sh's run without -race
			}
			if allocs > tt.max {
				t.Errorf("a request costs the server %.2f allocations (%s), want at most %v", allocs, tt.why, tt.max)
			}
			t.Logf("%.2f allocations per request", allocs)
		})
	}
}

// readReplyFrame reads one NestJS frame: "<units>#<body>", units counted
// in UTF-16 code units of the body.
func readReplyFrame(t *testing.T, r io.Reader) string {
	t.Helper()
	var head []byte
	one := make([]byte, 1)
	for {
		if _, err := io.ReadFull(r, one); err != nil {
			t.Fatal(err)
		}
		if one[0] == '#' {
			break
		}
		head = append(head, one[0])
	}
	var units int
	if _, err := fmt.Sscan(string(head), &units); err != nil {
		t.Fatalf("frame length %q: %v", head, err)
	}
	var body []rune
	for n := 0; n < units; {
		var c [4]byte
		if _, err := io.ReadFull(r, c[:1]); err != nil {
			t.Fatal(err)
		}
		size := 1
		switch {
		case c[0] >= 0xF0:
			size = 4
		case c[0] >= 0xE0:
			size = 3
		case c[0] >= 0xC0:
			size = 2
		}
		if _, err := io.ReadFull(r, c[1:size]); err != nil {
			t.Fatal(err)
		}
		ru := []rune(string(c[:size]))[0]
		body = append(body, ru)
		n++
		if ru > 0xFFFF {
			n++ // a surrogate pair
		}
	}
	return string(head) + "#" + string(body)
}
