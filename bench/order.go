package main

// The realistic shape (issue 11): an order of about 1.1 KiB of JSON — a
// nested customer with an address, 8 line items each with a SKU, name,
// quantity, price and tags, an ISO date, a notes string with non-ASCII text —
// answered with a receipt echoing the customer's name and address, the total
// (the sum of qty × price) and the number of items.
//
// Everything about the shape is here, and every target gets it from here:
// makeOrder is the one (deterministic) generator; the NestJS-framed targets
// get its JSON (orderJSON), gRPC-go the same struct encoded as protobuf
// (orderpb.go); checkout is the logic of the msgpattern and gRPC-go servers
// (bench/nestjs/order-server.mjs does the same in JS); checkReceipt is the
// check of every target's reply.

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/msgpattern/msgpattern/rpc"
)

// Order is the request. The JSON names are the usual camelCase of a
// JavaScript peer; CreatedAt stays a string, as it does in JS (JSON.parse
// leaves dates alone) and in the protobuf message.
type Order struct {
	ID        string     `json:"id"`
	Customer  Customer   `json:"customer"`
	Items     []LineItem `json:"items"`
	CreatedAt string     `json:"createdAt"`
	Notes     string     `json:"notes"`
}

// Customer is the order's customer.
type Customer struct {
	Name    string  `json:"name"`
	Email   string  `json:"email"`
	Address Address `json:"address"`
}

// Address is a postal address.
type Address struct {
	Street  string `json:"street"`
	City    string `json:"city"`
	Zip     string `json:"zip"`
	Country string `json:"country"`
}

// LineItem is one line of an order.
type LineItem struct {
	SKU   string   `json:"sku"`
	Name  string   `json:"name"`
	Qty   int      `json:"qty"`
	Price float64  `json:"price"`
	Tags  []string `json:"tags"`
}

// Receipt is the reply. Its members come in the order JS's checkout builds
// them, and Address in the order of the request's, so that every target's
// reply is the same JSON text.
type Receipt struct {
	OrderID      string  `json:"orderId"`
	CustomerName string  `json:"customerName"`
	Address      Address `json:"address"`
	Total        float64 `json:"total"`
	Items        int     `json:"items"`
}

// checkout is the servers' logic: the receipt of o.
func checkout(o *Order) Receipt {
	total := 0.0
	for i := range o.Items {
		// The explicit conversion forbids a fused multiply-add (Go may fuse
		// x*y+z on arm64, ppc64, s390x), so the total is the one JS computes.
		total += float64(float64(o.Items[i].Qty) * o.Items[i].Price)
	}
	return Receipt{
		OrderID:      o.ID,
		CustomerName: o.Customer.Name,
		Address:      o.Customer.Address,
		Total:        total,
		Items:        len(o.Items),
	}
}

// makeOrder is the shape's order, the same on every call.
func makeOrder() Order {
	products := []struct {
		sku, name string
		price     float64
		tags      []string
	}{
		{"SKU-10441-BLK", "Merino socks, black", 12.99, []string{"apparel", "wool", "bestseller"}},
		{"SKU-20817-1KG", "Espresso beans, 1 kg", 24.5, []string{"coffee", "food"}},
		{"SKU-31002-RED", "Enamel mug 350 ml, red", 9.95, []string{"kitchen", "gift"}},
		{"SKU-40090-A5D", "Notebook A5, dotted", 7.49, []string{"stationery"}},
		{"SKU-51177-USB", "USB-C cable, 2 m", 14.9, []string{"electronics", "cables"}},
		{"SKU-62450-TEA", "Grüner Tee Sencha, 100 g", 6.8, []string{"tea", "food", "organic"}},
		{"SKU-73388-LMP", "Desk lamp, LED, dimmable", 39, []string{"home", "lighting"}},
		{"SKU-84006-BAG", "Canvas tote bag, natural", 11.25, []string{"bags", "gift"}},
	}
	o := Order{
		ID: "ORD-2025-000417",
		Customer: Customer{
			Name:  "Jürgen Müller",
			Email: "j.mueller@example.de",
			Address: Address{
				Street:  "Hauptstraße 12a",
				City:    "München",
				Zip:     "80331",
				Country: "DE",
			},
		},
		CreatedAt: "2025-03-14T09:26:53.589Z",
		Notes:     "Lieferung bitte an der Rückseite — danke! 配達",
	}
	for i, p := range products {
		o.Items = append(o.Items, LineItem{SKU: p.sku, Name: p.name, Qty: i%3 + 1, Price: p.price, Tags: p.tags})
	}
	return o
}

var (
	theOrder   = makeOrder()
	theReceipt = checkout(&theOrder)
	orderJSON  = mustJSON(theOrder)
)

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// orderPayload is the realistic shape's payload: pattern "checkout".
var orderPayload = payload{
	key:     "order",
	name:    fmt.Sprintf("order (%d B)", len(orderJSON)),
	pattern: []byte(`"checkout"`),
	data:    orderJSON,
	check:   checkReceipt,
	plugged: true,
	grpc: &grpcCall{
		method:   checkoutMethod,
		req:      &theOrder,
		newReply: func() message { return new(Receipt) },
		check: func(m message) error {
			if r := *m.(*Receipt); r != theReceipt {
				return fmt.Errorf("grpc: receipt %+v, want %+v", r, theReceipt)
			}
			return nil
		},
	},
}

// checkReceipt checks a JSON reply to the order: every member, the total
// exactly (every target sums the same doubles in the same order).
func checkReceipt(response []byte) error {
	var r Receipt
	if err := json.Unmarshal(response, &r); err != nil {
		return fmt.Errorf("receipt %s: %v", response, err)
	}
	if r != theReceipt {
		return fmt.Errorf("receipt %s, want %s", response, mustJSON(theReceipt))
	}
	return nil
}

// checkoutHandler is the msgpattern targets' "checkout": the order decoded
// into Order by rpc.Typed (the built-in decoder, or the server's
// Config.Decoder for the plugged-decoder targets), the Receipt encoded back.
func checkoutHandler() rpc.Handler {
	return rpc.Typed(func(_ context.Context, o Order) (Receipt, error) { return checkout(&o), nil })
}
