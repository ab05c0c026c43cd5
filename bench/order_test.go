package main

import "testing"

// TestOrderShape checks the order shape's encodings: its protobuf size and
// round trip, and that the receipt check accepts the receipt.
func TestOrderShape(t *testing.T) {
	if len(orderJSON) != 1125 { // README.md gives the size
		t.Errorf("the order is %d bytes of JSON, README.md says 1125", len(orderJSON))
	}
	b := theOrder.appendTo(nil)
	if len(b) != theOrder.size() {
		t.Fatalf("Order: size %d, appended %d bytes", theOrder.size(), len(b))
	}
	var o Order
	if err := o.unmarshal(b); err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(o); string(got) != string(orderJSON) {
		t.Fatalf("Order after a protobuf round trip: %s", got)
	}
	rb := theReceipt.appendTo(nil)
	var r Receipt
	if err := r.unmarshal(rb); err != nil || r != theReceipt || len(rb) != theReceipt.size() {
		t.Fatalf("Receipt after a protobuf round trip: %+v, %v", r, err)
	}
	if err := checkReceipt(mustJSON(theReceipt)); err != nil {
		t.Fatal(err)
	}
	if err := checkReceipt([]byte(`{"orderId":"ORD-2025-000417","total":1}`)); err == nil {
		t.Fatal("a wrong receipt passed the check")
	}
}

// TestPluggedDecoders checks that every plugged decoder decodes the order
// and the 4 KiB object as encoding/json does.
func TestPluggedDecoders(t *testing.T) {
	for _, p := range pluggedDecoders {
		var o Order
		if err := p.dec.Unmarshal(orderJSON, &o); err != nil {
			t.Fatalf("%s: %v", p.target, err)
		}
		if got := mustJSON(o); string(got) != string(orderJSON) {
			t.Errorf("%s: the order decoded as %s", p.target, got)
		}
		if r := checkout(&o); r != theReceipt {
			t.Errorf("%s: receipt %+v, want %+v", p.target, r, theReceipt)
		}
		var s sumObject
		if err := p.dec.Unmarshal(largePayload.data, &s); err != nil || s.A != 1 || s.B != 2 || len(s.Pad) != padLen {
			t.Errorf("%s: the 4 KiB object decoded as a=%v b=%v len(pad)=%d, %v", p.target, s.A, s.B, len(s.Pad), err)
		}
	}
}
