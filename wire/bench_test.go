package wire_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/msgpattern/msgpattern/wire"
)

// A small reply value encoded through encoding/json.
type sumReply struct {
	Sum   int    `json:"sum"`
	Label string `json:"label"`
}

func BenchmarkScanFrame(b *testing.B) {
	in := []byte(sumFrame) // 47 bytes
	var s wire.FrameScanner
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if f, err := s.Scan(in); err != nil || f.Len != len(in) {
			b.Fatalf("Scan = Len %d, %v", f.Len, err)
		}
	}
}

func BenchmarkScanFrameUnicode(b *testing.B) {
	in := []byte(uniFrame) // 53 bytes, 50 units
	var s wire.FrameScanner
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if f, err := s.Scan(in); err != nil || f.Len != len(in) {
			b.Fatalf("Scan = Len %d, %v", f.Len, err)
		}
	}
}

func BenchmarkParseRequest(b *testing.B) {
	body := []byte(sumBody)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := wire.ParseRequest(body, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendValueOf(b *testing.B) {
	id := []byte(`"id-sum"`)
	for _, bc := range []struct {
		name string
		v    any
	}{
		{"int", 3},
		{"struct", sumReply{Sum: 3, Label: "héllo <&>"}},
		{"raw", json.RawMessage(`{"sum":3,"label":"héllo <&>","items":[1,2,3]}`)},
		{"raw4KiB", json.RawMessage(kib4Body)},
		{"rawIndented", json.RawMessage("{\n  \"sum\": 3,\n  \"label\": \"héllo <&>\",\n  \"items\": [\n    1,\n    2,\n    3\n  ]\n}")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dst := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = wire.AppendValueOf(dst[:0], wire.NestJS, bc.v, id, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAllocs pins the hot paths at zero allocations: reading a request and
// writing a reply into a buffer that is already large enough.
func TestAllocs(t *testing.T) {
	in := []byte(sumFrame)
	var s wire.FrameScanner
	if n := testing.AllocsPerRun(100, func() {
		f, err := s.Scan(in)
		if err != nil || f.Len != len(in) {
			t.Fatalf("Scan = Len %d, %v", f.Len, err)
		}
		p, err := wire.ParseRequest(f.Body, 0)
		if err != nil || p.ID == nil {
			t.Fatalf("ParseRequest = %v, %v", p, err)
		}
	}); n != 0 {
		t.Errorf("Scan+ParseRequest of %q: %v allocations, want 0", sumFrame, n)
	}

	dst := make([]byte, 0, 256)
	value, id := []byte(`{"a":[1,2,3]}`), []byte(`"id-sum"`)
	if n := testing.AllocsPerRun(100, func() {
		dst = wire.AppendValue(dst[:0], wire.NestJS, value, id, true)
	}); n != 0 {
		t.Errorf("AppendValue into a pre-sized buffer: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		var err error
		if dst, err = wire.AppendValueOf(dst[:0], wire.NestJS, 3, id, true); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("AppendValueOf(int) into a pre-sized buffer: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		dst = wire.AppendValue(dst[:0], wire.NestJS, value, id, false)
		dst = wire.MarkDisposed(dst, wire.NestJS, 0, id)
	}); n != 0 {
		t.Errorf("AppendValue+MarkDisposed into a pre-sized buffer: %v allocations, want 0", n)
	}
}

// kib4Body is the benchmark suite's 4 KiB request: a short object with a
// long ASCII string.
var kib4Body = func() string {
	pad := make([]byte, 4096-len(`{"pattern":"sum","data":{"a":1,"b":2,"pad":""},"id":1}`))
	for i := range pad {
		pad[i] = 'x'
	}
	return `{"pattern":"sum","data":{"a":1,"b":2,"pad":"` + string(pad) + `"},"id":1}`
}()

// orderNotes is text of the kind a realistic order holds: mostly ASCII,
// some Latin-1 and CJK.
var orderNotes = `{"pattern":"order","data":{"notes":"Lieferung bitte an der Rückseite — danke! 配達は午前中にお願いします。 Ça marche très bien, merci.","sku":"A-1"},"id":2}`

func BenchmarkScanFrame4KiB(b *testing.B) {
	in := []byte(frameOf(kib4Body))
	var s wire.FrameScanner
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if f, err := s.Scan(in); err != nil || f.Len != len(in) {
			b.Fatalf("Scan = Len %d, %v", f.Len, err)
		}
	}
}

func BenchmarkParseRequest4KiB(b *testing.B) {
	body := []byte(kib4Body)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := wire.ParseRequest(body, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanFrameText(b *testing.B) {
	in := []byte(frameOf(orderNotes))
	var s wire.FrameScanner
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if f, err := s.Scan(in); err != nil || f.Len != len(in) {
			b.Fatalf("Scan = Len %d, %v", f.Len, err)
		}
	}
}

func BenchmarkUnitsText(b *testing.B) {
	in := []byte(orderNotes)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		wire.Units(in)
	}
}

func frameOf(body string) string { return string(wire.AppendFrame(nil, wire.NestJS, []byte(body))) }

// BenchmarkParseRequestOrder parses the benchmark suite's realistic request
// (bench/order.go): 1.1 KiB of nested data with non-ASCII text.
func BenchmarkParseRequestOrder(b *testing.B) {
	body, err := os.ReadFile("testdata/order-request.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := wire.ParseRequest(body, 0); err != nil {
			b.Fatal(err)
		}
	}
}
