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
