package main

// The realistic shape over gRPC: order.go's structs as protobuf messages,
// encoded by hand with protowire like grpc.go's SumRequest — the bytes
// protoc-gen-go's code would produce for
//
//	message Address  { string street = 1; string city = 2; string zip = 3; string country = 4; }
//	message Customer { string name = 1; string email = 2; Address address = 3; }
//	message LineItem { string sku = 1; string name = 2; int64 qty = 3; double price = 4; repeated string tags = 5; }
//	message Order    { string id = 1; Customer customer = 2; repeated LineItem items = 3; string created_at = 4; string notes = 5; }
//	message Receipt  { string order_id = 1; string customer_name = 2; Address address = 3; double total = 4; int64 items = 5; }
//	service Shop     { rpc Checkout(Order) returns (Receipt); }
//
// with the sub-messages (Order.customer, Customer.address, Receipt.address)
// always set. Unlike generated code, repeated messages decode into a
// []LineItem rather than a []*LineItem (one allocation fewer per item), and
// sizes are recomputed rather than cached: gRPC is, if anything, flattered.

import (
	"context"
	"errors"
	"math"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
)

const checkoutMethod = "/msgpattern.bench.Shop/Checkout"

// ---- field helpers ------------------------------------------------------------

func sizeString(num protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(len(s))
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func sizeInt64(num protowire.Number, v int64) int {
	if v == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeVarint(uint64(v))
}

func appendInt64(b []byte, num protowire.Number, v int64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func sizeDouble(num protowire.Number, v float64) int {
	if v == 0 && !math.Signbit(v) {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeFixed64()
}

func appendDouble(b []byte, num protowire.Number, v float64) []byte {
	if v == 0 && !math.Signbit(v) {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(v))
}

func sizeMessage(num protowire.Number, n int) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

func appendMessage(b []byte, num protowire.Number, m message) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(m.size()))
	return m.appendTo(b)
}

// consumeString decodes a string field's value, checking that it is UTF-8
// as generated proto3 code does.
func consumeString(typ protowire.Type, b []byte, dst *string) (int, error) {
	if typ != protowire.BytesType {
		return -1, nil
	}
	v, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return 0, errProto
	}
	if !utf8.Valid(v) {
		return 0, errors.New("proto: string field contains invalid UTF-8")
	}
	*dst = string(v)
	return n, nil
}

func consumeInt64(typ protowire.Type, b []byte, dst *int64) (int, error) {
	if typ != protowire.VarintType {
		return -1, nil
	}
	v, n := protowire.ConsumeVarint(b)
	*dst = int64(v)
	return checkLen(n)
}

func consumeDouble(typ protowire.Type, b []byte, dst *float64) (int, error) {
	if typ != protowire.Fixed64Type {
		return -1, nil
	}
	v, n := protowire.ConsumeFixed64(b)
	*dst = math.Float64frombits(v)
	return checkLen(n)
}

func consumeMessage(typ protowire.Type, b []byte, m message) (int, error) {
	if typ != protowire.BytesType {
		return -1, nil
	}
	v, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return 0, errProto
	}
	return n, m.unmarshal(v)
}

// ---- Address ------------------------------------------------------------------

func (m *Address) size() int {
	return sizeString(1, m.Street) + sizeString(2, m.City) + sizeString(3, m.Zip) + sizeString(4, m.Country)
}

func (m *Address) appendTo(b []byte) []byte {
	b = appendString(b, 1, m.Street)
	b = appendString(b, 2, m.City)
	b = appendString(b, 3, m.Zip)
	return appendString(b, 4, m.Country)
}

func (m *Address) unmarshal(b []byte) error {
	*m = Address{}
	return unmarshalFields(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			return consumeString(typ, b, &m.Street)
		case 2:
			return consumeString(typ, b, &m.City)
		case 3:
			return consumeString(typ, b, &m.Zip)
		case 4:
			return consumeString(typ, b, &m.Country)
		}
		return -1, nil
	})
}

// ---- Customer -----------------------------------------------------------------

func (m *Customer) size() int {
	return sizeString(1, m.Name) + sizeString(2, m.Email) + sizeMessage(3, m.Address.size())
}

func (m *Customer) appendTo(b []byte) []byte {
	b = appendString(b, 1, m.Name)
	b = appendString(b, 2, m.Email)
	return appendMessage(b, 3, &m.Address)
}

func (m *Customer) unmarshal(b []byte) error {
	*m = Customer{}
	return unmarshalFields(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			return consumeString(typ, b, &m.Name)
		case 2:
			return consumeString(typ, b, &m.Email)
		case 3:
			return consumeMessage(typ, b, &m.Address)
		}
		return -1, nil
	})
}

// ---- LineItem -----------------------------------------------------------------

func (m *LineItem) size() int {
	n := sizeString(1, m.SKU) + sizeString(2, m.Name) + sizeInt64(3, int64(m.Qty)) + sizeDouble(4, m.Price)
	for _, t := range m.Tags {
		n += protowire.SizeTag(5) + protowire.SizeBytes(len(t)) // repeated: empty strings too
	}
	return n
}

func (m *LineItem) appendTo(b []byte) []byte {
	b = appendString(b, 1, m.SKU)
	b = appendString(b, 2, m.Name)
	b = appendInt64(b, 3, int64(m.Qty))
	b = appendDouble(b, 4, m.Price)
	for _, t := range m.Tags {
		b = protowire.AppendTag(b, 5, protowire.BytesType)
		b = protowire.AppendString(b, t)
	}
	return b
}

func (m *LineItem) unmarshal(b []byte) error {
	*m = LineItem{}
	return unmarshalFields(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			return consumeString(typ, b, &m.SKU)
		case 2:
			return consumeString(typ, b, &m.Name)
		case 3:
			var v int64
			n, err := consumeInt64(typ, b, &v)
			m.Qty = int(v)
			return n, err
		case 4:
			return consumeDouble(typ, b, &m.Price)
		case 5:
			var t string
			n, err := consumeString(typ, b, &t)
			if n > 0 && err == nil {
				m.Tags = append(m.Tags, t)
			}
			return n, err
		}
		return -1, nil
	})
}

// ---- Order --------------------------------------------------------------------

func (m *Order) size() int {
	n := sizeString(1, m.ID) + sizeMessage(2, m.Customer.size())
	for i := range m.Items {
		n += sizeMessage(3, m.Items[i].size())
	}
	return n + sizeString(4, m.CreatedAt) + sizeString(5, m.Notes)
}

func (m *Order) appendTo(b []byte) []byte {
	b = appendString(b, 1, m.ID)
	b = appendMessage(b, 2, &m.Customer)
	for i := range m.Items {
		b = appendMessage(b, 3, &m.Items[i])
	}
	b = appendString(b, 4, m.CreatedAt)
	return appendString(b, 5, m.Notes)
}

func (m *Order) unmarshal(b []byte) error {
	*m = Order{}
	return unmarshalFields(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			return consumeString(typ, b, &m.ID)
		case 2:
			return consumeMessage(typ, b, &m.Customer)
		case 3:
			if typ != protowire.BytesType {
				return -1, nil
			}
			m.Items = append(m.Items, LineItem{})
			return consumeMessage(typ, b, &m.Items[len(m.Items)-1])
		case 4:
			return consumeString(typ, b, &m.CreatedAt)
		case 5:
			return consumeString(typ, b, &m.Notes)
		}
		return -1, nil
	})
}

// ---- Receipt ------------------------------------------------------------------

func (m *Receipt) size() int {
	return sizeString(1, m.OrderID) + sizeString(2, m.CustomerName) + sizeMessage(3, m.Address.size()) +
		sizeDouble(4, m.Total) + sizeInt64(5, int64(m.Items))
}

func (m *Receipt) appendTo(b []byte) []byte {
	b = appendString(b, 1, m.OrderID)
	b = appendString(b, 2, m.CustomerName)
	b = appendMessage(b, 3, &m.Address)
	b = appendDouble(b, 4, m.Total)
	return appendInt64(b, 5, int64(m.Items))
}

func (m *Receipt) unmarshal(b []byte) error {
	*m = Receipt{}
	return unmarshalFields(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			return consumeString(typ, b, &m.OrderID)
		case 2:
			return consumeString(typ, b, &m.CustomerName)
		case 3:
			return consumeMessage(typ, b, &m.Address)
		case 4:
			return consumeDouble(typ, b, &m.Total)
		case 5:
			var v int64
			n, err := consumeInt64(typ, b, &v)
			m.Items = int(v)
			return n, err
		}
		return -1, nil
	})
}

// ---- the service --------------------------------------------------------------

// shopServer implements msgpattern.bench.Shop/Checkout with order.go's
// checkout, the msgpattern target's logic.
type shopServer struct{}

func (shopServer) Checkout(_ context.Context, in *Order) (*Receipt, error) {
	r := checkout(in)
	return &r, nil
}

type shopService interface {
	Checkout(context.Context, *Order) (*Receipt, error)
}

// shopServiceDesc is what protoc-gen-go-grpc would generate for Shop.
var shopServiceDesc = grpc.ServiceDesc{
	ServiceName: "msgpattern.bench.Shop",
	HandlerType: (*shopService)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Checkout",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(Order)
			if err := dec(in); err != nil {
				return nil, err
			}
			if interceptor == nil {
				return srv.(shopService).Checkout(ctx, in)
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: checkoutMethod}
			return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
				return srv.(shopService).Checkout(ctx, req.(*Order))
			})
		},
	}},
	Streams:  []grpc.StreamDesc{},
	Metadata: "bench.proto",
}
